"""Dropout: ``dropout`` (any shape) and ``dropout2d`` (whole channels of a ``[C, H, W]`` sample)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from specc.ops.base import Inferred, Layer, Probability, Shape, ShapeError, call


class Dropout(Layer):
    """``nn.Dropout(p)``: zeroes elements with probability ``p`` in training; shape unchanged."""

    keeps_layout = True

    type: Literal["dropout"]
    p: Probability = 0.5
    torch_class = "nn.Dropout"

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        return Inferred(shape=tuple(shapes[0]), explain=[f"dropout: p = {self.p}"])

    def init_source(self, inferred: Inferred) -> str:
        return call("nn.Dropout", **self.changed("p"))


class Dropout2d(Layer):
    """``nn.Dropout2d(p)``: zeroes whole channels of a ``[C, H, W]`` sample; shape unchanged."""

    type: Literal["dropout2d"]
    p: Probability = 0.5
    torch_class = "nn.Dropout2d"

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        if len(shape) != 3:
            raise ShapeError(
                f"dropout2d needs a [channels, height, width] input per sample, got {list(shape)}"
                " (use dropout for other shapes)"
            )
        return Inferred(shape=tuple(shape), explain=[f"dropout2d: p = {self.p}, per channel"])

    def init_source(self, inferred: Inferred) -> str:
        return call("nn.Dropout2d", **self.changed("p"))
