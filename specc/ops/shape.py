"""Functional shape ops: ``permute``, ``transpose``, ``reshape``, ``unsqueeze``, ``squeeze``.

None has parameters or a module; each is one tensor method in ``forward``. Dims count the
batch dimension (see :mod:`specc.ops.dims`); the batch dimension stays where it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field, StrictInt

from specc.ops.base import Inferred, Layer, Shape, ShapeError, SourceLines
from specc.ops.dims import axes, axis

#: a reshape size: positive, or -1 for 'whatever is left'
SizeOrInfer = Annotated[StrictInt, Field(ge=-1)]


class _ShapeOp(Layer):
    """A tensor method on one input; int64 token ids pass through unchanged."""

    accepts_int = True

    def init_source(self, inferred: Inferred) -> None:
        return None

    def _out(self, shape: Shape, dtypes: Sequence[str], explain: str) -> Inferred:
        return Inferred(shape=tuple(shape), explain=[f"{self.kind}: {explain}"], dtype=dtypes[0])


class Permute(_ShapeOp):
    """``x.permute(*dims)``: ``dims`` orders every dimension, the batch (0) first.

    Shapes: ``[L, D] -> [D, L]`` with ``dims: [0, 2, 1]``.
    """

    type: Literal["permute"]
    dims: list[StrictInt]

    def _order(self, rank: int) -> list[int]:
        if len(self.dims) != rank:
            raise ShapeError(
                f"permute dims {self.dims} has {len(self.dims)} entries, but the input has "
                f"{rank} dimensions (counting the batch dimension): list every one, 0 first"
            )
        if not all(-rank <= d < rank for d in self.dims):
            raise ShapeError(f"permute dims {self.dims}: each must be in [{-rank}, {rank - 1}]")
        order = [d % rank for d in self.dims]
        if sorted(order) != list(range(rank)):
            raise ShapeError(f"permute dims {self.dims} is not an ordering of 0..{rank - 1}")
        if order[0] != 0:
            raise ShapeError(
                f"permute dims {self.dims} moves the batch dimension; the first entry must be 0"
            )
        return order

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        order = self._order(len(shape) + 1)
        out = tuple(shape[d - 1] for d in order[1:])  # order[0] is the batch dimension
        return self._out(out, dtypes, f"{list(shape)} -> {list(out)}")

    def forward_source(
        self, attr: str, args: list[str], out: str, inferred: Inferred
    ) -> SourceLines:
        """``x = x.permute(0, 2, 1)``."""
        return [(f"{out} = {args[0]}.permute({', '.join(map(str, self.dims))})", inferred.shape)]


class Transpose(_ShapeOp):
    """``x.transpose(dim0, dim1)``: swap two dimensions, neither the batch."""

    type: Literal["transpose"]
    dim0: StrictInt
    dim1: StrictInt

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        rank = len(shape) + 1
        a, b = axis(self.dim0, rank, "dim0"), axis(self.dim1, rank, "dim1")
        out = list(shape)
        out[a], out[b] = out[b], out[a]
        return self._out(tuple(out), dtypes, f"{list(shape)} -> {out}")

    def forward_source(
        self, attr: str, args: list[str], out: str, inferred: Inferred
    ) -> SourceLines:
        """``x = x.transpose(1, 2)``."""
        return [(f"{out} = {args[0]}.transpose({self.dim0}, {self.dim1})", inferred.shape)]


class Reshape(_ShapeOp):
    """``x.reshape(x.shape[0], *shape)``: ``shape`` is per sample (the batch is kept).

    One entry may be -1 (inferred from the others). Shapes: ``[196, 768] -> [14, 14, 768]``.
    """

    type: Literal["reshape"]
    shape: Annotated[list[SizeOrInfer], Field(min_length=1)]

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        total, wanted = math.prod(shape), list(self.shape)
        if 0 in wanted:
            raise ShapeError(f"reshape shape {wanted} has a 0: sizes are positive, or one -1")
        if wanted.count(-1) > 1:
            raise ShapeError(f"reshape shape {wanted} has more than one -1")
        known = math.prod([d for d in wanted if d != -1])
        if -1 in wanted:
            if total % known:
                raise ShapeError(
                    f"reshape cannot fill the -1 in {wanted}: the input {list(shape)} has "
                    f"{total} elements per sample, not a multiple of {known}"
                )
            wanted[wanted.index(-1)] = total // known
        elif known != total:
            raise ShapeError(
                f"reshape shape {wanted} holds {known} elements per sample, but the input "
                f"{list(shape)} has {total} (the shape is per sample: leave out the batch)"
            )
        return self._out(tuple(wanted), dtypes, f"{list(shape)} -> {wanted}")

    def forward_source(
        self, attr: str, args: list[str], out: str, inferred: Inferred
    ) -> SourceLines:
        """``x = x.reshape(x.shape[0], 14, 14, 768)`` (the inferred sizes, no -1)."""
        sizes = ", ".join(map(str, inferred.shape))
        return [(f"{out} = {args[0]}.reshape({args[0]}.shape[0], {sizes})", inferred.shape)]


class Unsqueeze(_ShapeOp):
    """``x.unsqueeze(dim)``: a new size-1 dimension at ``dim`` (1 or later, or negative)."""

    type: Literal["unsqueeze"]
    dim: StrictInt

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        where = axis(self.dim, len(shape) + 2)  # the output's rank: one more dimension
        out = (*shape[:where], 1, *shape[where:])
        return self._out(out, dtypes, f"{list(shape)} -> {list(out)}")

    def forward_source(
        self, attr: str, args: list[str], out: str, inferred: Inferred
    ) -> SourceLines:
        """``x = x.unsqueeze(1)``."""
        return [(f"{out} = {args[0]}.unsqueeze({self.dim})", inferred.shape)]


class Squeeze(_ShapeOp):
    """``x.squeeze(dim)``: remove size-1 dimension(s); ``dim`` is required and each must be 1.

    (torch silently keeps a dimension that is not 1, and squeezing every size-1 dimension would
    remove the batch of a batch of one; specc asks for the dims and checks them.)
    """

    type: Literal["squeeze"]
    dim: StrictInt | list[StrictInt]

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        found = axes(self.dim, len(shape) + 1)
        for d, a in zip([self.dim] if isinstance(self.dim, int) else self.dim, found, strict=True):
            if shape[a] != 1:
                raise ShapeError(
                    f"squeeze dim {d} has size {shape[a]}, not 1 (input {list(shape)}); torch "
                    "would leave it in place"
                )
        out = tuple(size for i, size in enumerate(shape) if i not in found)
        return self._out(out, dtypes, f"{list(shape)} -> {list(out)}")

    def forward_source(
        self, attr: str, args: list[str], out: str, inferred: Inferred
    ) -> SourceLines:
        """``x = x.squeeze(2)`` or ``x = x.squeeze((2, 3))``."""
        dim = self.dim if isinstance(self.dim, int) else tuple(self.dim)
        return [(f"{out} = {args[0]}.squeeze({dim})", inferred.shape)]
