"""Dense layers: ``linear``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from specc.ops.base import Inferred, Layer, PosInt, Shape, ShapeError, call, fmt_int


class Linear(Layer):
    """``nn.Linear`` on the last dimension: ``(..., in_features) -> (..., out_features)``."""

    type: Literal["linear"]
    out_features: PosInt
    in_features: PosInt | None = None
    bias: bool = True

    inferred_args = ("in_features",)
    torch_class = "nn.Linear"

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        if len(shape) == 0:
            raise ShapeError("linear needs at least a 1-D input per sample")
        n_in, n_out = shape[-1], self.out_features
        weights = n_in * n_out
        params = weights + (n_out if self.bias else 0)
        rows = math.prod(shape[:-1])
        bias_text = f" + {n_out}" if self.bias else ""
        return Inferred(
            shape=(*shape[:-1], n_out),
            args={"in_features": n_in},
            params=params,
            macs=weights * rows,
            explain=[
                f"linear: in_features = {n_in} (last dimension of {list(shape)})",
                f"linear: {n_in}*{n_out}{bias_text} = {fmt_int(params)} parameters",
            ],
        )

    def init_source(self, inferred: Inferred) -> str:
        bias = None if self.bias else False
        return call("nn.Linear", [inferred.args["in_features"], self.out_features], bias=bias)
