"""In-memory batching by tensor indexing (no per-sample ``__getitem__``, no collate).

One epoch is a single gather with a seeded permutation followed by contiguous slices, which
is what makes it many times faster than ``Dataset`` + ``DataLoader`` for data that fits in
memory (see ``bench/bench_batching.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["TensorSplit", "iter_batches"]


@dataclass
class TensorSplit:
    """One split of the data.

    Attributes:
        x: inputs (N, *model.input.shape), float32 (int64 for int64 model inputs).
        y: targets: int64 (N,) classes, float32 (N, 1) binary, float32 (N, k) regression.
    """

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def part(self, rows: slice) -> TensorSplit:
        """The rows ``rows`` (a slice) as a split of their own (views, no copy)."""
        return TensorSplit(self.x[rows], self.y[rows])

    def chunks(
        self, size: int, device: torch.device | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """x (b, ...), y (b, ...) in order, ``size`` rows at a time, where they are (the
        ``device`` of the call is where they already are)."""
        for start in range(0, len(self), size):
            yield self.x[start : start + size], self.y[start : start + size]


def iter_batches(
    split: TensorSplit,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    augment: Callable | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x, y)`` batches of ``split``.

    Args:
        split: the tensors, x (N, ...) and y (N, ...).
        batch_size: samples per batch; the last batch may be smaller unless ``drop_last``.
        generator: a ``torch.Generator``; when given, the order is a permutation drawn from it
            (the same generator state gives the same order); when None, the stored order.
        augment: applied to each x batch (training-time augmentation), or None.
        drop_last: skip a final batch smaller than ``batch_size``.

    Yields:
        x (B, ...) and y (B, ...) with B = batch_size (or fewer for the last batch).
    """
    import torch

    n = len(split)
    x, y = split.x, split.y
    if generator is not None:
        order = torch.randperm(n, generator=generator).to(x.device)
        x, y = x.index_select(0, order), y.index_select(0, order.to(y.device))
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        yield (augment(xb) if augment is not None else xb), yb
