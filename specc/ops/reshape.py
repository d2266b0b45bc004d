"""Shape-only layers: ``flatten``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import StrictInt

from specc.ops.base import Inferred, Layer, Shape, ShapeError, call


class Flatten(Layer):
    """``nn.Flatten(start_dim, end_dim)``; dims count the batch dimension, as in torch."""

    accepts_int = True

    type: Literal["flatten"]
    start_dim: StrictInt = 1
    end_dim: StrictInt = -1
    torch_class = "nn.Flatten"

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        rank = len(shape) + 1  # counting the batch dimension
        start, end = self.start_dim, self.end_dim
        for arg, value in (("start_dim", start), ("end_dim", end)):
            if not -rank <= value < rank:
                raise ShapeError(
                    f"{arg} {value} does not exist: the input has {rank} dimensions "
                    "(counting the batch dimension)"
                )
        start, end = start % rank, end % rank
        if start == 0:
            raise ShapeError("flatten with start_dim 0 would merge the batch dimension")
        if start > end:
            raise ShapeError(f"start_dim {self.start_dim} comes after end_dim {self.end_dim}")
        flat = shape[start - 1 : end]
        merged = math.prod(flat)
        out = (*shape[: start - 1], merged, *shape[end:])
        dims = "*".join(str(d) for d in flat)
        return Inferred(shape=out, explain=[f"flatten: {dims} = {merged}"], dtype=dtypes[0])

    def init_source(self, inferred: Inferred) -> str:
        return call("nn.Flatten", **self.changed("start_dim", "end_dim"))
