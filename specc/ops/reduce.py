"""Reductions over dimensions: ``mean`` and ``sum`` (``dim`` an int or a list, ``keepdim``).

``dim`` is required and counts the batch dimension, which cannot be reduced (that would mix
samples). Shapes: ``[C, H, W] -> [C]`` with ``dim: [2, 3]``; ``[C, 1, 1]`` with ``keepdim``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import StrictInt

from specc.ops.base import Inferred, Layer, Shape, SourceLines
from specc.ops.dims import axes


class _Reduction(Layer):
    dim: StrictInt | list[StrictInt]
    keepdim: bool = False

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        found = axes(self.dim, len(shape) + 1, "reduced dim")
        if self.keepdim:
            out = tuple(1 if i in found else size for i, size in enumerate(shape))
        else:
            out = tuple(size for i, size in enumerate(shape) if i not in found)
        return Inferred(
            shape=out,
            macs=math.prod(shape),
            dtype=self._dtype(dtypes[0]),
            explain=[f"{self.kind}: {list(shape)} -> {list(out)}"],
        )

    def _dtype(self, dtype: str) -> str:
        return "float32"

    def init_source(self, inferred: Inferred) -> None:
        return None

    def forward_source(
        self, attr: str, args: list[str], out: str, inferred: Inferred
    ) -> SourceLines:
        """``x = x.mean(dim=(2, 3))`` or ``x = x.sum(dim=1, keepdim=True)``."""
        dim = self.dim if isinstance(self.dim, int) else tuple(self.dim)
        keep = ", keepdim=True" if self.keepdim else ""
        return [(f"{out} = {args[0]}.{self.kind}(dim={dim}{keep})", inferred.shape)]


class Mean(_Reduction):
    """``x.mean(dim)``: needs float input."""

    type: Literal["mean"]


class Sum(_Reduction):
    """``x.sum(dim)``: token ids (int64) sum to int64."""

    type: Literal["sum"]
    accepts_int = True

    def _dtype(self, dtype: str) -> str:
        return dtype
