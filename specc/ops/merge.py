"""Ops on several inputs: ``add``, ``mul``, ``sub``, ``div`` (broadcasting onto the largest
input), ``matmul`` and ``concat`` (along ``dim``).

None has parameters or a module; they are plain expressions in ``forward``. Broadcasting follows
torch, under one safety rule: the result has the shape of one of the inputs (:func:`broadcast`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import StrictInt

from specc.ops.base import Inferred, Layer, Shape, ShapeError, SourceLines


def _merged_dtype(dtypes: Sequence[str]) -> str:
    """torch's promotion for our two dtypes: int64 only when every input is int64."""
    return "int64" if all(dtype == "int64" for dtype in dtypes) else "float32"


def _shapes_text(shapes: Sequence[Shape]) -> str:
    return ", ".join(str(list(shape)) for shape in shapes)


def broadcast(shapes: Sequence[Shape], what: str) -> Shape:
    """torch's broadcast of per-sample shapes, under specc's safety rule.

    The inputs must have the same rank (with the batch in front, torch would otherwise align
    the batch with a data dimension); each dimension must be equal or 1; and the result must
    equal one of the inputs (``[C, H, W] * [C, 1, 1]`` is fine, ``[N, 1] + [1, N]`` is not).

    Raises:
        ShapeError: naming the shapes and the rule they break.
    """
    ranks = {len(shape) for shape in shapes}
    if len(ranks) != 1:
        raise ShapeError(
            f"{what} needs inputs with the same number of dimensions, got "
            f"{_shapes_text(shapes)}: with the batch dimension in front, torch would line the "
            "batch up with a data dimension; unsqueeze the smaller input to make the size-1 "
            "dimensions explicit"
        )
    out = []
    for i, sizes in enumerate(zip(*shapes, strict=True)):
        big = {size for size in sizes if size != 1}
        if len(big) > 1:
            raise ShapeError(
                f"{what} cannot broadcast {_shapes_text(shapes)}: dimension {i + 1} (counting "
                f"the batch) has sizes {sorted(big)}; each must be equal or 1"
            )
        out.append(big.pop() if big else 1)
    if all(tuple(out) != tuple(shape) for shape in shapes):
        raise ShapeError(
            f"{what} of {_shapes_text(shapes)} would broadcast to {out}, larger than every "
            "input; specc only broadcasts a smaller input onto a larger one (this is almost "
            "always a wiring mistake)"
        )
    return tuple(out)


class _Arithmetic(Layer):
    """``add``/``mul``/``sub``/``div``: inputs combined element by element, broadcast onto the
    largest input (see :func:`broadcast`). Shapes: ``[C, H, W], [C, 1, 1] -> [C, H, W]``."""

    arity: ClassVar[tuple[int, int | None]] = (2, None)
    accepts_int = True
    symbol: ClassVar[str] = "+"

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        out = broadcast([tuple(shape) for shape in shapes], self.kind)
        return Inferred(
            shape=out,
            macs=math.prod(out) * (len(shapes) - 1),
            explain=[f"{self.kind}: {_shapes_text(shapes)} -> {list(out)}"],
            dtype=self._dtype(dtypes),
        )

    def _dtype(self, dtypes: Sequence[str]) -> str:
        return _merged_dtype(dtypes)

    def init_source(self, inferred: Inferred) -> None:
        return None

    def forward_source(
        self, attr: str, args: list[str], out: str, inferred: Inferred
    ) -> SourceLines:
        """``x = a + b`` (or ``a * b``, ``a - b``, ``a / b``)."""
        return [(f"{out} = {f' {self.symbol} '.join(args)}", inferred.shape)]


class Add(_Arithmetic):
    """Element-wise sum (residual connections)."""

    type: Literal["add"]
    symbol = "+"


class Mul(_Arithmetic):
    """Element-wise product (gating, squeeze-and-excitation)."""

    type: Literal["mul"]
    symbol = "*"


class Sub(_Arithmetic):
    """``a - b``: exactly two inputs, in order."""

    type: Literal["sub"]
    arity = (2, 2)
    symbol = "-"


class Div(_Arithmetic):
    """``a / b``: exactly two inputs, in order; true division, so the result is float32."""

    type: Literal["div"]
    arity = (2, 2)
    symbol = "/"

    def _dtype(self, dtypes: Sequence[str]) -> str:
        return "float32"


class Matmul(Layer):
    """``torch.matmul(a, b)`` on ``[*, n, k]`` and ``[*, k, m]`` -> ``[*, n, m]`` per sample.

    Both inputs need at least 2 dimensions per sample and the same number (so the batch lines
    up); the leading ``*`` dimensions broadcast as in :func:`broadcast`.
    """

    type: Literal["matmul"]
    arity = (2, 2)

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        a, b = (tuple(shape) for shape in shapes)
        if len(a) < 2 or len(b) < 2:
            raise ShapeError(
                f"matmul needs two inputs of at least 2 dimensions per sample ([n, k] and "
                f"[k, m]), got {_shapes_text(shapes)}; unsqueeze a vector first"
            )
        if a[-1] != b[-2]:
            raise ShapeError(
                f"matmul of {list(a)} and {list(b)}: the first's last dimension ({a[-1]}) must "
                f"equal the second's next-to-last ({b[-2]}); transpose one of them?"
            )
        lead = broadcast([a[:-2], b[:-2]], "matmul") if len(a) > 2 or len(b) > 2 else ()
        out = (*lead, a[-2], b[-1])
        return Inferred(
            shape=out,
            macs=math.prod(out) * a[-1],
            explain=[f"matmul: {list(a)} @ {list(b)} -> {list(out)}"],
        )

    def init_source(self, inferred: Inferred) -> None:
        return None

    def forward_source(
        self, attr: str, args: list[str], out: str, inferred: Inferred
    ) -> SourceLines:
        """``x = torch.matmul(q, k)``."""
        return [(f"{out} = torch.matmul({args[0]}, {args[1]})", inferred.shape)]


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
        others = {tuple(s[:axis]) + tuple(s[axis + 1 :]) for s in shapes}
        if len(others) != 1:
            raise ShapeError(
                f"concat along dim {self.dim} needs the inputs to agree on every other "
                f"dimension, got {_shapes_text(shapes)}"
            )
        total = sum(shape[axis] for shape in shapes)
        out = (*shapes[0][:axis], total, *shapes[0][axis + 1 :])
        sizes = " + ".join(str(shape[axis]) for shape in shapes)
        return Inferred(
            shape=out,
            explain=[f"concat: dim {self.dim}: {sizes} = {total}"],
            dtype=_merged_dtype(dtypes),
        )

    def init_source(self, inferred: Inferred) -> None:
        return None

    def forward_source(
        self, attr: str, args: list[str], out: str, inferred: Inferred
    ) -> SourceLines:
        """``x = torch.cat([a, b], dim=1)``."""
        return [(f"{out} = torch.cat([{', '.join(args)}], dim={self.dim})", inferred.shape)]
