"""Element-wise activations and (log-)softmax. None has parameters or changes the shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import StrictInt

from specc.ops.base import Inferred, Layer, Number, Shape, ShapeError, call


class _Elementwise(Layer):
    """An activation applied element-wise: the output shape is the input shape."""

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        return Inferred(shape=tuple(shapes[0]))

    def init_source(self, inferred: Inferred) -> str:
        return call(self.torch_class)


class ReLU(_Elementwise):
    type: Literal["relu"]
    torch_class = "nn.ReLU"


class LeakyReLU(_Elementwise):
    type: Literal["leakyrelu"]
    negative_slope: Number = 0.01
    torch_class = "nn.LeakyReLU"

    def init_source(self, inferred: Inferred) -> str:
        slope = None if self.negative_slope == 0.01 else self.negative_slope
        return call("nn.LeakyReLU", negative_slope=slope)


class ELU(_Elementwise):
    type: Literal["elu"]
    alpha: Number = 1.0
    torch_class = "nn.ELU"

    def init_source(self, inferred: Inferred) -> str:
        return call("nn.ELU", alpha=None if self.alpha == 1.0 else self.alpha)


class GELU(_Elementwise):
    type: Literal["gelu"]
    approximate: Literal["none", "tanh"] = "none"
    torch_class = "nn.GELU"

    def init_source(self, inferred: Inferred) -> str:
        return call("nn.GELU", approximate=None if self.approximate == "none" else "tanh")


class SiLU(_Elementwise):
    type: Literal["silu"]
    torch_class = "nn.SiLU"


class Sigmoid(_Elementwise):
    type: Literal["sigmoid"]
    torch_class = "nn.Sigmoid"


class Tanh(_Elementwise):
    type: Literal["tanh"]
    torch_class = "nn.Tanh"


class Identity(_Elementwise):
    type: Literal["identity"]
    torch_class = "nn.Identity"
    accepts_int = True

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        return Inferred(shape=tuple(shapes[0]), dtype=dtypes[0])


class _SoftmaxLike(_Elementwise):
    """Softmax-style layers take ``dim`` (counting the batch dimension); default -1."""

    dim: StrictInt = -1

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        rank = len(shapes[0]) + 1
        if not -rank <= self.dim < rank:
            raise ShapeError(
                f"dim {self.dim} does not exist: the input has {rank} dimensions "
                "(counting the batch dimension)"
            )
        if self.dim == 0 or self.dim == -rank:
            raise ShapeError(f"dim {self.dim} is the batch dimension; use -1 (the last)")
        return Inferred(shape=tuple(shapes[0]))

    def init_source(self, inferred: Inferred) -> str:
        return call(self.torch_class, dim=self.dim)


class Softmax(_SoftmaxLike):
    type: Literal["softmax"]
    torch_class = "nn.Softmax"


class LogSoftmax(_SoftmaxLike):
    type: Literal["logsoftmax"]
    torch_class = "nn.LogSoftmax"
