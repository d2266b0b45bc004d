"""Lazy image splits: a list of files, decoded with Pillow in DataLoader workers.

Memory stays flat in the number of images: a split holds its relative paths (one bytes
array), its targets and the decoding :class:`~specc.data.images.Recipe`; pixels exist only for
the batches in flight.

- Training: :func:`specc.data.loader.make_loader` draws the same seeded permutation of the
  split as for in-memory data and cuts it into global batches; each rank's workers decode only
  that rank's share of each global batch (:class:`ImageDataset`, uint8 (b, C, H, W)). The
  trainer then makes the batch float on its device: pixels / 255, the augmentation steps (in
  the order written, drawn from the trainer's augmentation generator as part of the global
  batch), then the stateless ``pad`` / ``normalize`` steps in the order written.
- Validation and test (:meth:`ImageSplit.chunks`): the files in order, pixels / 255, the
  stateless steps; no augmentation. ``specc predict`` does the same with numpy
  (:func:`specc.data.replay.apply_preprocessing`). The split keeps its evaluation
  DataLoader, and so its workers, from one pass (epoch) to the next until
  :meth:`ImageSplit.close`.

A file that passed the check before training but still fails to decode stops the run with its
path (``on_bad_file: error``), or is fed as a black image and counted in ``summary.json``
(``on_bad_file: skip``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from specc.data.images import Listing, Recipe, decode
from specc.data.loader import Share, ShareBatch, make_ordered_loader
from specc.data.transforms import stateless_steps
from specc.spec.sections import Normalize, Pad

__all__ = ["ImageDataset", "ImageSplit", "finisher"]


class ImageDataset(torch.utils.data.Dataset):
    """Decodes shares of a split's files: x uint8 (b, C, H, W), y (b, ...)."""

    def __init__(self, listing: Listing, y: torch.Tensor, recipe: Recipe) -> None:
        self.listing, self.y, self.recipe = listing, y, recipe

    def __len__(self) -> int:
        return len(self.listing)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(decode(self.listing.path(index), self.recipe)), self.y[index]

    def __getitems__(self, share: Share) -> ShareBatch:
        """Decode the share's files (what DataLoader calls for a batch)."""
        mine = share.rows[share.lo : share.hi]
        x = np.zeros((len(mine), *self.recipe.shape), dtype=np.uint8)
        bad = []
        for j, row in enumerate(mine.tolist()):
            path = self.listing.path(row)
            try:
                x[j] = decode(path, self.recipe)
            except Exception as exc:  # any decoder failure: reported with the path
                bad.append(f"{path}: {exc}")
        whole = share.lo == 0 and share.hi == share.rows.shape[0]
        return ShareBatch(
            torch.from_numpy(x),
            self.y.index_select(0, mine),
            None if whole else self.y.index_select(0, share.rows),
            share.lo,
            share.hi,
            tuple(bad),
        )


def _pad(x: torch.Tensor, step: Pad) -> torch.Tensor:
    left, top, right, bottom = step.sides()
    return F.pad(x, (left, right, top, bottom), value=float(step.value))


def _normalize(x: torch.Tensor, step: Normalize) -> torch.Tensor:
    mean = torch.tensor(step.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(step.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - mean) / std


#: the torch function of each stateless step (by ``type``) on float batches (B, C, H, W),
#: but for the ``decoded`` ones, which the files are decoded with
_TORCH: dict[str, Callable[[torch.Tensor, Any], torch.Tensor]] = {
    "pad": _pad,
    "normalize": _normalize,
}


def finisher(steps: list[dict], augment: Callable | None = None) -> Callable:
    """uint8 x (B, C, H, W) -> float32 model input: / 255, ``augment``, the stateless steps."""
    stateless = [s for s in stateless_steps(steps) if not s.decoded]

    def finish(x: torch.Tensor) -> torch.Tensor:
        x = x.float().div_(255)
        if augment is not None:
            x = augment(x)
        for step in stateless:
            x = _TORCH[step.type](x, step)
        return x

    return finish


class ImageSplit:
    """One split of image files (lazy: nothing decoded until batches are drawn).

    Attributes:
        listing: the files (relative paths, labels, classes).
        y: targets, int64 (N,) or float32 (N, 1) for a binary loss.
        recipe: how a file becomes uint8 (C, H, W).
        steps: the stateless and augmentation transforms (plain dicts; no ``resize``).
        workers: DataLoader workers used by :meth:`chunks` (set by the trainer).
        skip: feed files that fail to decode as black images (``on_bad_file: skip``).
        failures: files that failed to decode in this process so far (skip mode).
    """

    lazy = True

    def __init__(
        self, listing: Listing, y: np.ndarray, recipe: Recipe, steps: list[dict], skip: bool = False
    ) -> None:
        self.listing, self.recipe, self.steps, self.skip = listing, recipe, steps, skip
        self.y = torch.from_numpy(np.ascontiguousarray(y))
        self.workers, self.failures = 0, 0
        self._loaders: dict[tuple[int, int], torch.utils.data.DataLoader] = {}
        self._parts: dict[tuple[int, int, int], ImageSplit] = {}

    def __len__(self) -> int:
        return len(self.listing)

    def part(self, rows: slice) -> ImageSplit:
        """The files at ``rows`` (a slice) as a split of their own; the same part (and its
        evaluation loader) for the same rows, epoch after epoch."""
        key = rows.indices(len(self))
        if key not in self._parts:
            self._parts[key] = self._subset(rows)
        part = self._parts[key]
        part.workers = self.workers
        return part

    def _subset(self, rows: slice) -> ImageSplit:
        """A new split of the files at ``rows`` (no loader shared with this one)."""
        index = np.arange(len(self))[rows]
        split = ImageSplit(
            self.listing.keep(index), self.y.numpy()[index], self.recipe, self.steps, self.skip
        )
        split.workers = self.workers
        return split

    def images(self) -> LazyImages:
        """The split's images, decoded one at a time on demand (``x[i]``: (C, H, W))."""
        return LazyImages(self)

    def dataset(self) -> ImageDataset:
        """The map-style dataset that DataLoader workers decode from."""
        return ImageDataset(self.listing, self.y, self.recipe)

    def watch(self, loaded: Iterator[ShareBatch]) -> Iterator[ShareBatch]:
        """Pass ``loaded`` on; a file that failed to decode stops the run or is counted."""
        from specc.errors import RunError

        for item in loaded:
            if item.bad and not self.skip:
                raise RunError(
                    f"cannot decode image {item.bad[0]} (set data.source."
                    "on_bad_file: skip to feed such files as black images)"
                )
            self.failures += len(item.bad)
            yield item

    def chunks(
        self, size: int, device: torch.device
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The split in order, in chunks of ``size``: x (b, C, H, W) float on ``device``
        (/ 255 and the stateless steps), y (b, ...) on ``device``."""
        key = (size, self.workers)
        if key not in self._loaders:
            self._loaders[key] = make_ordered_loader(
                self.dataset(), len(self), size, num_workers=self.workers
            )
        finish = finisher(self.steps)
        for item in self.watch(iter(self._loaders[key])):
            yield finish(item.x.to(device)), item.y.to(device)

    def close(self) -> None:
        """Let the workers of this split's (and its parts') evaluation loaders exit."""
        self._loaders.clear()
        for part in self._parts.values():
            part.close()


class LazyImages:
    """``x[i]`` of an image split without decoding the others: what a figure of a few
    misclassified images needs (``dim()`` is 4, as for an (N, C, H, W) tensor)."""

    def __init__(self, split: ImageSplit) -> None:
        self.split = split

    def dim(self) -> int:
        return 4

    def __getitem__(self, index: int) -> torch.Tensor:
        one = self.split._subset(slice(int(index), int(index) + 1))
        one.workers = 0  # one file: decode it here
        x, _ = next(one.chunks(1, torch.device("cpu")))
        return x[0]
