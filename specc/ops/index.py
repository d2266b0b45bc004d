"""Indexing ops: ``select`` (one position, the dimension removed) and ``slice`` (a range).

Both are plain indexing in ``forward`` (``x[:, 0]``, ``x[:, :, 1:5]``), as torchvision writes the
class token ``x[:, 0]``. ``dim`` counts the batch dimension and cannot be the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import StrictInt

from specc.ops.base import Inferred, Layer, PosInt, Shape, ShapeError
from specc.ops.dims import axis


class _Index(Layer):
    accepts_int = True
    dim: StrictInt

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        """``[..., size, ...] -> [..., *kept, ...]`` along ``dim`` (see :meth:`_kept`)."""
        (shape,) = shapes
        rank = len(shape) + 1
        a = axis(self.dim, rank)
        out = (*shape[:a], *self._kept(shape[a], shape), *shape[a + 1 :])
        return Inferred(
            shape=out,
            args={"rank": rank},
            dtype=dtypes[0],
            explain=[f"{self.kind}: {list(shape)} -> {list(out)}"],
        )

    def _kept(self, size: int, shape: Shape) -> tuple[int, ...]:
        """What is left of a dimension of ``size`` (of the input ``shape``): ``()`` or ``(n,)``."""
        raise NotImplementedError

    def _item(self) -> str:
        """The subscript along ``dim``: ``0`` or ``1:``."""
        raise NotImplementedError

    def expression(self, attr: str, args: list[str], inferred: Inferred) -> str:
        """``x[:, 0]`` or ``x[:, 1:]``: ``:`` for each dimension before ``dim``."""
        leading = [":"] * (self.dim % inferred.args["rank"])
        return f"{args[0]}[{', '.join([*leading, self._item()])}]"


class Select(_Index):
    """``x[:, index]`` along ``dim``: that dimension is removed (``[197, 768] -> [768]``)."""

    type: Literal["select"]
    index: StrictInt

    def _kept(self, size: int, shape: Shape) -> tuple[int, ...]:
        if not -size <= self.index < size:
            raise ShapeError(
                f"select index {self.index} is out of range for dim {self.dim} of size "
                f"{size} (input {list(shape)})"
            )
        return ()

    def _item(self) -> str:
        return str(self.index)


class Slice(_Index):
    """``x[:, start:end:step]`` along ``dim``, with Python's rules (negative ends count back)."""

    type: Literal["slice"]
    start: StrictInt | None = None
    end: StrictInt | None = None
    step: PosInt = 1

    def _kept(self, size: int, shape: Shape) -> tuple[int, ...]:
        kept = len(range(*slice(self.start, self.end, self.step).indices(size)))
        if kept < 1:
            raise ShapeError(f"slice {self._item()} of dim {self.dim} (size {size}) is empty")
        return (kept,)

    def _item(self) -> str:
        start = "" if self.start is None else str(self.start)
        end = "" if self.end is None else str(self.end)
        return f"{start}:{end}" + ("" if self.step == 1 else f":{self.step}")
