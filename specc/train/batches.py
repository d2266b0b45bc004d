"""The training batches of each epoch: in memory, or from a DataLoader, this rank's share.

Shuffling draws from the ``shuffle`` generator and augmentation from the ``augment``
generator (both checkpointed). With ``data.num_workers > 0``, or for lazily decoded image
files, a DataLoader loads the batches in the in-memory path's order, with the same
augmentation, so the weights are identical to ``num_workers: 0``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from specc.train.distributed import Distributed

if TYPE_CHECKING:
    from specc.data.batching import TensorSplit
    from specc.data.image_split import ImageSplit

__all__ = ["TrainBatches"]


class TrainBatches:
    """This rank's ``(x (b, ...), y (b, ...))`` training batches, one epoch per :meth:`epoch`.

    Args:
        split: the training split (on ``device`` unless ``workers`` or ``lazy``).
        batch_size: the global batch size.
        shuffle: the generator of the permutation, or None to keep the order.
        augment: the training augmentation (on x (B, ...)), or None.
        workers: DataLoader workers (0: batches from memory, unless ``lazy``).
        lazy: the split is image files decoded by the loader's workers.
    """

    def __init__(
        self,
        split: TensorSplit | ImageSplit,
        batch_size: int,
        shuffle: torch.Generator | None,
        augment: Callable[[torch.Tensor], torch.Tensor] | None,
        workers: int,
        lazy: bool,
        dist: Distributed,
        device: torch.device,
    ) -> None:
        self.split, self.batch_size, self.shuffle, self.augment = (
            split,
            batch_size,
            shuffle,
            augment,
        )
        self.lazy, self.dist, self.device = lazy, dist, device
        self.per_epoch = math.ceil(len(split) / batch_size)  # global batches per epoch
        self.loader = self._loader(workers) if workers or lazy else None

    def _loader(self, workers: int):
        """The DataLoader of the training split (CPU tensors), in the in-memory path's order."""
        from specc.data.loader import make_loader

        return make_loader(
            self.split,
            self.batch_size,
            num_workers=workers,
            generator=self.shuffle,
            world=self.dist.world,
            rank=self.dist.rank,
            pin_memory=self.device.type == "cuda",
        )

    def epoch(self):
        """This epoch's batches: this rank's share of each global batch, on the device."""
        from specc.data import iter_batches
        from specc.data.loader import loaded_batches

        if self.loader is not None:
            loaded = loaded_batches(self.loader, self.device, self.augment)
            if self.lazy:
                loaded = self.split.watch(loaded)
            return self.dist.take_shares(loaded)
        return self.dist.shard(
            iter_batches(self.split, self.batch_size, augment=self.augment, generator=self.shuffle)
        )

    def close(self) -> None:
        """Let the DataLoader's persistent workers exit."""
        self.loader = None
