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
- :func:`make_ordered_loader` is the evaluation side: a split's rows in order, whole chunks,
  no augmentation (the validation and test passes of image files).

Every loader with workers keeps them for its whole life (``persistent_workers``): a run
starts each loader's workers once, not once per epoch. The sampler state lives in the shuffle
generator (checkpointed by the trainer), so a resumed run draws the same permutations.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

import torch

from specc.data.batching import TensorSplit
from specc.data.shares import share_bounds

if TYPE_CHECKING:
    from specc.data.image_split import ImageSplit
    from specc.spec.schema import Spec

__all__ = [
    "GlobalBatchSampler",
    "Share",
    "ShareBatch",
    "SplitDataset",
    "augment_share",
    "loaded_batches",
    "make_loader",
    "make_ordered_loader",
    "resolve_workers",
]

Augment = Callable[[torch.Tensor], torch.Tensor]  # x (B, ...) -> x (B, ...)

IMAGE_WORKERS = 4  # the most workers image_folder takes by default


def resolve_workers(spec: Spec) -> int:
    """``data.num_workers``, or its default: 0 (in-memory data, or no data section), or for
    the lazily decoded image_folder source up to :data:`IMAGE_WORKERS` (at most the CPU
    count, less one)."""
    if spec.data is None:
        return 0
    if spec.data.num_workers is not None:
        return spec.data.num_workers
    if not spec.data.source.lazy:
        return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(IMAGE_WORKERS, (cpus or 1) - 1))


class Share(NamedTuple):
    """One rank's part of a global batch: ``rows`` (B,) row indices of the global batch and
    the bounds ``[lo, hi)`` of this rank's share within it."""

    rows: torch.Tensor
    lo: int
    hi: int


class ShareBatch(NamedTuple):
    """The tensors of one :class:`Share`: x (hi-lo, ...), y (hi-lo, ...), ``batch_y`` the
    global batch's targets (B, ...) or None when the share is the whole batch, the share's
    bounds, and ``bad``: the files of an image share that failed to decode
    (``"path: reason"``)."""

    x: torch.Tensor
    y: torch.Tensor
    batch_y: torch.Tensor | None
    lo: int
    hi: int
    bad: tuple[str, ...] = ()


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

    def __init__(self, split: TensorSplit) -> None:
        self.x, self.y = split.x, split.y

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]

    def __getitems__(self, share: Share) -> ShareBatch:
        """The share's rows by one gather each (what DataLoader calls for a batch)."""
        mine = share.rows[share.lo : share.hi]
        whole = share.lo == 0 and share.hi == share.rows.shape[0]
        return ShareBatch(
            self.x.index_select(0, mine),
            self.y.index_select(0, mine),
            None if whole else self.y.index_select(0, share.rows),
            share.lo,
            share.hi,
        )


def _as_is(batch: ShareBatch) -> ShareBatch:
    """The collate function: ``__getitems__`` already returns a batch."""
    return batch


def _data_loader(
    dataset: torch.utils.data.Dataset,
    shares: Iterable[Share],
    num_workers: int,
    pin_memory: bool = False,
) -> torch.utils.data.DataLoader:
    """A DataLoader whose every batch is ``dataset.__getitems__(share)`` for each share;
    workers (when ``num_workers > 0``) persist from its first pass to its end."""
    return torch.utils.data.DataLoader(
        dataset,
        # torch's annotations expect lists of indices and a collate of a list; a batch
        # sampler may yield any object that the dataset's __getitems__ takes, as here.
        batch_sampler=shares,  # type: ignore[arg-type]
        num_workers=num_workers,
        collate_fn=_as_is,  # type: ignore[arg-type]
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
        generator=torch.Generator(),  # workers' base seed: never drawn from the global RNG
    )


def make_loader(
    split: TensorSplit | ImageSplit,
    batch_size: int,
    *,
    num_workers: int,
    generator: torch.Generator | None = None,
    world: int = 1,
    rank: int = 0,
    pin_memory: bool = False,
) -> torch.utils.data.DataLoader:
    """The training DataLoader over ``split`` (CPU tensors, or an image split's files) with
    persistent ``num_workers`` workers; each batch is a :class:`ShareBatch`.

    Args:
        generator: the shuffle generator (None: the stored order).
        world, rank: this process's place in a distributed run.
        pin_memory: page-locked batches for faster copies to CUDA.
    """
    sampler = GlobalBatchSampler(len(split), batch_size, generator, world, rank)
    dataset = SplitDataset(split) if isinstance(split, TensorSplit) else split.dataset()
    return _data_loader(dataset, sampler, num_workers, pin_memory)


def make_ordered_loader(
    dataset: torch.utils.data.Dataset, n: int, size: int, *, num_workers: int
) -> torch.utils.data.DataLoader:
    """A DataLoader of ``dataset``'s rows ``0..n-1`` in order, in chunks of ``size`` rows
    (each a whole :class:`ShareBatch`: x (b, ...), y (b, ...)), with persistent workers
    (at most one per chunk): iterate it once per evaluation pass."""
    rows = torch.arange(n)
    shares = [Share(rows[s : s + size], 0, min(size, n - s)) for s in range(0, n, size)]
    return _data_loader(dataset, shares, min(num_workers, len(shares)))


def augment_share(augment: Augment, x: torch.Tensor, batch: int, lo: int) -> torch.Tensor:
    """``augment`` of the share x (b, ...) at rows ``[lo, lo+b)`` of a global batch of
    ``batch`` rows: the per-sample draws for the whole global batch are made (as every rank
    of the in-memory path makes them) and the share's rows kept."""
    if x.shape[0] == batch:
        return augment(x)
    full = x.new_zeros((batch, *x.shape[1:]))
    full[lo : lo + x.shape[0]] = x
    return augment(full)[lo : lo + x.shape[0]]


def loaded_batches(
    loader: Iterable[ShareBatch], device: torch.device, augment: Augment | None = None
) -> Iterator[ShareBatch]:
    """One epoch of ``loader``'s shares on ``device``, x augmented when ``augment`` is given.

    Yields:
        :class:`ShareBatch` with x (b, ...), y (b, ...) and batch_y (B, ...) or None on ``device``.
    """
    for item in loader:
        x = item.x.to(device, non_blocking=True)
        y = item.y.to(device, non_blocking=True)
        batch_y = None if item.batch_y is None else item.batch_y.to(device, non_blocking=True)
        if augment is not None:
            batch = y.shape[0] if batch_y is None else batch_y.shape[0]
            x = augment_share(augment, x, batch, item.lo)
        yield ShareBatch(x, y, batch_y, item.lo, item.hi)
