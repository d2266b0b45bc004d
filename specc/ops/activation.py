"""Element-wise activations (fixed and learned) and (log-)softmax; none changes the shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import StrictInt

from specc.ops.base import Inferred, Layer, Number, PosInt, PositiveFloat, Shape, ShapeError, call

#: the keys every layer has, and ``type``: none is a torch argument
_LAYER_KEYS = {*Layer.model_fields, "type"}


class _Activation(Layer):
    """An activation applied element-wise: the output shape is the input shape.

    Its own fields are torch's arguments with torch's defaults; only changed ones are written.
    """

    torch_class: ClassVar[str]  # every member is a module

    keeps_layout = True

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        return Inferred(shape=tuple(shapes[0]))

    def init_source(self, inferred: Inferred) -> str:
        """``nn.ELU(alpha=0.5)``: the torch class and the arguments that differ from torch's."""
        own = [name for name in type(self).model_fields if name not in _LAYER_KEYS]
        return call(self.torch_class, **self.changed(*own))


class ReLU(_Activation):
    type: Literal["relu"]
    torch_class = "nn.ReLU"


class LeakyReLU(_Activation):
    type: Literal["leakyrelu"]
    negative_slope: Number = 0.01
    torch_class = "nn.LeakyReLU"


class ELU(_Activation):
    type: Literal["elu"]
    alpha: Number = 1.0
    torch_class = "nn.ELU"


class GELU(_Activation):
    type: Literal["gelu"]
    approximate: Literal["none", "tanh"] = "none"
    torch_class = "nn.GELU"


class SiLU(_Activation):
    type: Literal["silu"]
    torch_class = "nn.SiLU"


class Sigmoid(_Activation):
    type: Literal["sigmoid"]
    torch_class = "nn.Sigmoid"


class Tanh(_Activation):
    type: Literal["tanh"]
    torch_class = "nn.Tanh"


class Identity(_Activation):
    keeps_layout = False  # the documented way to say "this layout is meant"
    type: Literal["identity"]
    torch_class = "nn.Identity"
    accepts_int = True

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        return Inferred(shape=tuple(shapes[0]), dtype=dtypes[0])


class _SoftmaxLike(_Activation):
    """Softmax-style layers take ``dim`` (counting the batch dimension); default -1."""

    keeps_layout = False

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


class ReLU6(_Activation):
    """``nn.ReLU6``: min(max(x, 0), 6) (MobileNetV2)."""

    type: Literal["relu6"]
    torch_class = "nn.ReLU6"


class Hardtanh(_Activation):
    """``nn.Hardtanh``: x clamped to [min_val, max_val]."""

    type: Literal["hardtanh"]
    min_val: Number = -1.0
    max_val: Number = 1.0
    torch_class = "nn.Hardtanh"

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        if self.max_val <= self.min_val:
            raise ShapeError(
                f"hardtanh needs min_val < max_val, got min_val {self.min_val} and "
                f"max_val {self.max_val}"
            )
        return Inferred(shape=tuple(shapes[0]))


class Hardswish(_Activation):
    """``nn.Hardswish``: x * relu6(x + 3) / 6, a gate times x (MobileNetV3)."""

    type: Literal["hardswish"]
    torch_class = "nn.Hardswish"


class Hardsigmoid(_Activation):
    """``nn.Hardsigmoid``: relu6(x + 3) / 6, a gate in [0, 1] (MobileNetV3 squeeze-excite)."""

    type: Literal["hardsigmoid"]
    torch_class = "nn.Hardsigmoid"


class Softplus(_Activation):
    """``nn.Softplus``: log(1 + exp(beta * x)) / beta, linear above ``threshold``."""

    type: Literal["softplus"]
    beta: PositiveFloat = 1.0
    threshold: Number = 20.0
    torch_class = "nn.Softplus"


class Mish(_Activation):
    """``nn.Mish``: x * tanh(softplus(x))."""

    type: Literal["mish"]
    torch_class = "nn.Mish"


class SELU(_Activation):
    """``nn.SELU``: scaled ELU with torch's fixed constants."""

    type: Literal["selu"]
    torch_class = "nn.SELU"


class PReLU(_Activation):
    """``nn.PReLU``: leaky ReLU with a learned slope, one for all or one per channel.

    Shapes: ``[C, *] -> [C, *]``; ``num_parameters`` is 1 or C (the first per-sample dim).
    """

    type: Literal["prelu"]
    num_parameters: PosInt = 1
    init: Number = 0.25
    torch_class = "nn.PReLU"

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        n = self.num_parameters
        if n != 1 and (not shape or shape[0] != n):
            channels = f"{shape[0]} (the first dimension of {list(shape)})" if shape else "none"
            raise ShapeError(
                f"prelu num_parameters is {n}, but it must be 1 or the number of channels: "
                f"{channels}"
            )
        return Inferred(
            shape=tuple(shape),
            params=n,
            explain=[f"prelu: {n} learned slope(s)"],
        )
