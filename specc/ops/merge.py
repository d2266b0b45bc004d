"""Merges of several inputs: ``add``, ``mul`` (same shapes) and ``concat`` (along ``dim``).

None has parameters or a module; they are plain expressions in ``forward``. Shapes must
match exactly: specc does not broadcast (a mismatch is almost always a wiring mistake).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import StrictInt

from specc.ops.base import Inferred, Layer, Shape, ShapeError


def _merged_dtype(dtypes: Sequence[str]) -> str:
    """torch's promotion for our two dtypes: int64 only when every input is int64."""
    return "int64" if all(dtype == "int64" for dtype in dtypes) else "float32"


def _shapes_text(shapes: Sequence[Shape]) -> str:
    return ", ".join(str(list(shape)) for shape in shapes)


class _Elementwise(Layer):
    """``add``/``mul``: two or more inputs of one shape, combined element by element."""

    arity = (2, None)
    accepts_int = True
    symbol: ClassVar[str] = "+"

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        first = tuple(shapes[0])
        if any(tuple(shape) != first for shape in shapes[1:]):
            raise ShapeError(
                f"{self.kind} needs inputs of the same shape, got {_shapes_text(shapes)}"
            )
        return Inferred(
            shape=first,
            explain=[f"{self.kind}: {len(shapes)} inputs of {list(first)}"],
            dtype=_merged_dtype(dtypes),
        )

    def init_source(self, inferred: Inferred) -> None:
        return None

    def forward_source(self, attr: str, args: list[str], out: str, inferred: Inferred):
        """``x = a + b`` (or ``a * b``)."""
        return [(f"{out} = {f' {self.symbol} '.join(args)}", inferred.shape)]


class Add(_Elementwise):
    """Element-wise sum of same-shaped inputs (residual connections)."""

    type: Literal["add"]
    symbol = "+"


class Mul(_Elementwise):
    """Element-wise product of same-shaped inputs (gating)."""

    type: Literal["mul"]
    symbol = "*"


class Concat(Layer):
    """``torch.cat(inputs, dim)``; ``dim`` counts the batch dimension, as in torch (default 1)."""

    type: Literal["concat"]
    dim: StrictInt = 1
    arity = (2, None)
    accepts_int = True

    def _axis(self, rank: int) -> int:
        """The per-sample axis for ``dim`` given inputs of ``rank`` dims with the batch."""
        if not -rank <= self.dim < rank:
            raise ShapeError(
                f"dim {self.dim} does not exist: the inputs have {rank} dimensions "
                "(counting the batch dimension)"
            )
        if self.dim % rank == 0:
            raise ShapeError(f"dim {self.dim} is the batch dimension; concat along 1 or later")
        return self.dim % rank - 1

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        ranks = {len(shape) for shape in shapes}
        if len(ranks) != 1:
            raise ShapeError(
                f"concat needs inputs with the same number of dimensions, got "
                f"{_shapes_text(shapes)}"
            )
        axis = self._axis(len(shapes[0]) + 1)
        others = {tuple(s[:axis]) + tuple(s[axis + 1:]) for s in shapes}
        if len(others) != 1:
            raise ShapeError(
                f"concat along dim {self.dim} needs the inputs to agree on every other "
                f"dimension, got {_shapes_text(shapes)}"
            )
        total = sum(shape[axis] for shape in shapes)
        out = (*shapes[0][:axis], total, *shapes[0][axis + 1:])
        sizes = " + ".join(str(shape[axis]) for shape in shapes)
        return Inferred(
            shape=out,
            explain=[f"concat: dim {self.dim}: {sizes} = {total}"],
            dtype=_merged_dtype(dtypes),
        )

    def init_source(self, inferred: Inferred) -> None:
        return None

    def forward_source(self, attr: str, args: list[str], out: str, inferred: Inferred):
        """``x = torch.cat([a, b], dim=1)``."""
        return [(f"{out} = torch.cat([{', '.join(args)}], dim={self.dim})", inferred.shape)]
