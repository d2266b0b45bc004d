"""Indexing ops: ``select`` (one position, the dimension removed) and ``slice`` (a range).

Both are plain indexing in ``forward`` (``x[:, 0]``, ``x[:, :, 1:5]``), as torchvision writes the
class token ``x[:, 0]``. ``dim`` counts the batch dimension and cannot be the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import StrictInt

from specc.ops.base import Inferred, Layer, PosInt, Shape, ShapeError, SourceLines
from specc.ops.dims import axis


class _Index(Layer):
    accepts_int = True
    dim: StrictInt

    def init_source(self, inferred: Inferred) -> None:
        return None

    def _subscript(self, rank: int, item: str) -> str:
        """``[:, :, item]`` for the per-sample axis of ``dim`` (rank counts the batch)."""
        return "[" + ", ".join([":"] * (self.dim % rank) + [item]) + "]"

    def _item(self) -> str:
        """The subscript along ``dim``: ``0`` or ``1:``."""
        raise NotImplementedError

    def forward_source(
        self, attr: str, args: list[str], out: str, inferred: Inferred
    ) -> SourceLines:
        """``x = x[:, 0]`` or ``x = x[:, 1:]``."""
        rank = inferred.args["rank"]
        return [(f"{out} = {args[0]}{self._subscript(rank, self._item())}", inferred.shape)]


class Select(_Index):
    """``x[:, index]`` along ``dim``: that dimension is removed (``[197, 768] -> [768]``)."""

    type: Literal["select"]
    index: StrictInt

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        rank = len(shape) + 1
        a = axis(self.dim, rank)
        if not -shape[a] <= self.index < shape[a]:
            raise ShapeError(
                f"select index {self.index} is out of range for dim {self.dim} of size "
                f"{shape[a]} (input {list(shape)})"
            )
        out = (*shape[:a], *shape[a + 1 :])
        return Inferred(
            shape=out,
            args={"rank": rank},
            dtype=dtypes[0],
            explain=[f"select: {list(shape)} -> {list(out)}"],
        )

    def _item(self) -> str:
        return str(self.index)


class Slice(_Index):
    """``x[:, start:end:step]`` along ``dim``, with Python's rules (negative ends count back)."""

    type: Literal["slice"]
    start: StrictInt | None = None
    end: StrictInt | None = None
    step: PosInt = 1

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        rank = len(shape) + 1
        a = axis(self.dim, rank)
        size = len(range(*slice(self.start, self.end, self.step).indices(shape[a])))
        if size < 1:
            raise ShapeError(f"slice {self._item()} of dim {self.dim} (size {shape[a]}) is empty")
        out = (*shape[:a], size, *shape[a + 1 :])
        return Inferred(
            shape=out,
            args={"rank": rank},
            dtype=dtypes[0],
            explain=[f"slice: {list(shape)} -> {list(out)}"],
        )

    def _item(self) -> str:
        start = "" if self.start is None else str(self.start)
        end = "" if self.end is None else str(self.end)
        return f"{start}:{end}" + ("" if self.step == 1 else f":{self.step}")
