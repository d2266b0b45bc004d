"""Training batches through ``torch.utils.data.DataLoader`` with worker processes
(``data.num_workers > 0``), in exactly the order and with exactly the augmentation of the
in-memory path (:func:`specc.data.iter_batches`).

- :class:`GlobalBatchSampler` (the DataLoader's ``batch_sampler``) draws one
  ``torch.randperm(n, generator=g)`` per epoch from the trainer's shuffle generator, the same
  single draw ``iter_batches`` makes, and cuts it into global batches of ``batch_size``.
  (torch's ``RandomSampler`` is not used: it draws a second permutation at the end of every
  epoch, which would shift every later epoch's order.) Under DDP each rank gets its
  contiguous share ``[lo, hi)`` of each global batch (:func:`specc.data.shares.share_bounds`),
  the sharding the in-memory path does after batching.
- :class:`SplitDataset` is map-style; its ``__getitems__`` gathers a whole share by tensor
  indexing (no per-sample collate).
- :func:`loaded_batches` moves each share to the device and augments it in the main process
  from the trainer's augmentation generator, as part of its global batch, so the random draws
  match the in-memory path sample for sample.

The sampler state lives in the shuffle generator (checkpointed by the trainer), so a resumed
run draws the same permutations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import torch

from specc.data.shares import share_bounds

__all__ = [
    "GlobalBatchSampler",
    "Loaded",
    "Share",
    "SplitDataset",
    "augment_share",
    "loaded_batches",
    "make_loader",
    "resolve_workers",
]

IMAGE_WORKERS = 4  # the most workers image_folder takes by default


def resolve_workers(spec) -> int:
    """``data.num_workers``, or its default: 0 (in-memory data), or for the lazily decoded
    image_folder source up to :data:`IMAGE_WORKERS` (at most the CPU count, less one)."""
    if spec.data.num_workers is not None:
        return spec.data.num_workers
    if not spec.data.source.lazy:
        return 0
    import os

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(IMAGE_WORKERS, (cpus or 1) - 1))


class Share(NamedTuple):
    """One rank's part of a global batch: ``rows`` (B,) row indices of the global batch and
    the bounds ``[lo, hi)`` of this rank's share within it."""

    rows: torch.Tensor
    lo: int
    hi: int


class Loaded(NamedTuple):
    """A loaded share: x (hi-lo, ...), y (hi-lo, ...), ``batch_y`` the global batch's targets
    (B, ...) or None when the share is the whole batch, the share's bounds, and ``bad``: the
    files of an image share that failed to decode (``"path: reason"``)."""

    x: torch.Tensor
    y: torch.Tensor
    batch_y: torch.Tensor | None
    lo: int
    hi: int
    bad: tuple = ()


class GlobalBatchSampler:
    """Per epoch: one seeded permutation (or the stored order), cut into global batches of
    ``batch_size``; yields this rank's :class:`Share` of each (the last batch may be smaller).
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        generator: torch.Generator | None = None,
        world: int = 1,
        rank: int = 0,
    ) -> None:
        self.n, self.batch_size, self.generator = n, batch_size, generator
        self.world, self.rank = world, rank

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[Share]:

        if self.generator is not None:
            order = torch.randperm(self.n, generator=self.generator)
        else:
            order = torch.arange(self.n)
        for start in range(0, self.n, self.batch_size):
            rows = order[start : start + self.batch_size]
            yield Share(rows, *share_bounds(rows.shape[0], self.world, self.rank))


class SplitDataset(torch.utils.data.Dataset):
    """A map-style view of a TensorSplit: x (N, ...) and y (N, ...) on the CPU."""

    def __init__(self, split) -> None:
        self.x, self.y = split.x, split.y

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]

    def __getitems__(self, share: Share) -> Loaded:
        """The share's rows by one gather each (what DataLoader calls for a batch)."""
        mine = share.rows[share.lo : share.hi]
        whole = share.lo == 0 and share.hi == share.rows.shape[0]
        return Loaded(
            self.x.index_select(0, mine),
            self.y.index_select(0, mine),
            None if whole else self.y.index_select(0, share.rows),
            share.lo,
            share.hi,
        )


def _as_is(batch: Loaded) -> Loaded:
    """The collate function: ``__getitems__`` already returns a batch."""
    return batch


def make_loader(
    split,
    batch_size: int,
    *,
    num_workers: int,
    generator=None,
    world: int = 1,
    rank: int = 0,
    pin_memory: bool = False,
) -> torch.utils.data.DataLoader:
    """A DataLoader over ``split`` (CPU tensors, or an image split's files) with persistent
    ``num_workers`` workers.

    Args:
        generator: the shuffle generator (None: the stored order).
        world, rank: this process's place in a distributed run.
        pin_memory: page-locked batches for faster copies to CUDA.
    """
    sampler = GlobalBatchSampler(len(split), batch_size, generator, world, rank)
    dataset = split.dataset() if hasattr(split, "dataset") else SplitDataset(split)
    return torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=num_workers,
        collate_fn=_as_is,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
        generator=torch.Generator(),
    )  # workers' base seed: never drawn from the global RNG


def augment_share(augment: Callable, x: torch.Tensor, batch: int, lo: int) -> torch.Tensor:
    """``augment`` of the share x (b, ...) at rows ``[lo, lo+b)`` of a global batch of
    ``batch`` rows: the per-sample draws for the whole global batch are made (as every rank
    of the in-memory path makes them) and the share's rows kept."""
    if x.shape[0] == batch:
        return augment(x)
    full = x.new_zeros((batch, *x.shape[1:]))
    full[lo : lo + x.shape[0]] = x
    return augment(full)[lo : lo + x.shape[0]]


def loaded_batches(
    loader, device: torch.device, augment: Callable | None = None
) -> Iterator[Loaded]:
    """One epoch of ``loader``'s shares on ``device``, x augmented when ``augment`` is given.

    Yields:
        :class:`Loaded` with x (b, ...), y (b, ...) and batch_y (B, ...) or None on ``device``.
    """
    for item in loader:
        x = item.x.to(device, non_blocking=True)
        y = item.y.to(device, non_blocking=True)
        batch_y = None if item.batch_y is None else item.batch_y.to(device, non_blocking=True)
        if augment is not None:
            batch = y.shape[0] if batch_y is None else batch_y.shape[0]
            x = augment_share(augment, x, batch, item.lo)
        yield Loaded(x, y, batch_y, item.lo, item.hi)
