"""Normalization: batch norm (1d, 2d), ``layernorm``, ``groupnorm``, instance norm (1d, 2d).

``num_features`` (batch norm) and ``normalized_shape`` (layer norm, when omitted) follow from
the input shape. Running statistics are buffers, not parameters, so only the affine scale and
shift count as parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from specc.ops.base import (
    Inferred,
    Layer,
    Number,
    PosInt,
    PositiveFloat,
    Shape,
    ShapeError,
    call,
    fmt_int,
)

Momentum = Annotated[Number, Field(ge=0, le=1)]


class _BatchNormNd(Layer):
    """Shared logic of batchnorm1d/2d: channels are the first per-sample dimension."""

    torch_class: ClassVar[str]  # every member is a module

    ranks: ClassVar[tuple[int, ...]] = (3,)
    layout: ClassVar[str] = "[channels, height, width]"
    eps: PositiveFloat = 1e-5
    momentum: Momentum | None = 0.1
    affine: bool = True
    track_running_stats: bool = True
    num_features: PosInt | None = None

    inferred_args = ("num_features",)

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        if len(shape) not in self.ranks:
            raise ShapeError(
                f"{self.kind} needs a {self.layout} input per sample, got {list(shape)}"
            )
        channels = shape[0]
        params = 2 * channels if self.affine else 0
        explain = [f"{self.kind}: num_features = {channels} (channels of {list(shape)})"]
        if self.affine:
            explain.append(
                f"{self.kind}: 2*{channels} = {fmt_int(params)} parameters (scale and shift)"
            )
        return Inferred(
            shape=tuple(shape),
            args={"num_features": channels},
            params=params,
            macs=math.prod(shape),
            explain=explain,
        )

    def init_source(self, inferred: Inferred) -> str:
        return call(
            self.torch_class,
            [inferred.args["num_features"]],
            eps=None if self.eps == 1e-5 else self.eps,
            momentum=_momentum_arg(self.momentum),
            affine=None if self.affine else False,
            track_running_stats=None if self.track_running_stats else False,
        )


class _NoneLiteral:
    """Renders as ``None`` inside :func:`call` (which drops plain ``None`` keyword values)."""

    def __repr__(self) -> str:
        return "None"


def _momentum_arg(momentum: float | None) -> object:
    if momentum is None:
        return _NoneLiteral()  # torch's cumulative moving average: momentum=None must be written
    return None if momentum == 0.1 else momentum


class BatchNorm1d(_BatchNormNd):
    """``nn.BatchNorm1d``: ``[C]`` or ``[C, L]`` per sample, shape unchanged."""

    type: Literal["batchnorm1d"]
    ranks = (1, 2)
    layout = "[features] or [channels, length]"
    torch_class = "nn.BatchNorm1d"


class BatchNorm2d(_BatchNormNd):
    """``nn.BatchNorm2d``: ``[C, H, W]`` per sample, shape unchanged."""

    type: Literal["batchnorm2d"]
    ranks = (3,)
    layout = "[channels, height, width]"
    torch_class = "nn.BatchNorm2d"


class LayerNorm(Layer):
    """``nn.LayerNorm`` over the trailing dimensions (default: the last one); shape unchanged."""

    keeps_layout = True

    type: Literal["layernorm"]
    normalized_shape: PosInt | list[PosInt] | None = None
    eps: PositiveFloat = 1e-5
    elementwise_affine: bool = True
    bias: bool = True

    torch_class = "nn.LayerNorm"

    def _normalized(self, shape: Shape) -> tuple[int, ...]:
        written = self.normalized_shape
        if written is None:
            return (shape[-1],)
        wanted = (written,) if isinstance(written, int) else tuple(written)
        if not wanted:
            raise ShapeError("normalized_shape needs at least one dimension")
        if len(wanted) > len(shape) or tuple(shape[len(shape) - len(wanted) :]) != wanted:
            raise ShapeError(
                f"normalized_shape is {list(wanted)} but the input's trailing dimensions are "
                f"{list(shape[-len(wanted) :])} (input {list(shape)}); omit it and specc uses "
                "the last dimension"
            )
        return wanted

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        if len(shape) == 0:
            raise ShapeError("layernorm needs at least a 1-D input per sample")
        normalized = self._normalized(shape)
        size = math.prod(normalized)
        per = (2 if self.bias else 1) if self.elementwise_affine else 0
        explain = [f"layernorm: normalized_shape = {list(normalized)} (trailing dimensions)"]
        if per == 2:
            explain.append(f"layernorm: 2*{size} = {fmt_int(2 * size)} parameters (scale, shift)")
        elif per == 1:
            explain.append(f"layernorm: {fmt_int(size)} parameters (scale)")
        return Inferred(
            shape=tuple(shape),
            args={"normalized_shape": list(normalized)},
            params=per * size,
            macs=math.prod(shape),
            explain=explain,
        )

    def init_source(self, inferred: Inferred) -> str:
        normalized = inferred.args["normalized_shape"]
        return call(
            "nn.LayerNorm",
            [normalized[0] if len(normalized) == 1 else normalized],
            eps=None if self.eps == 1e-5 else self.eps,
            elementwise_affine=None if self.elementwise_affine else False,
            bias=None if self.bias else False,
        )


class GroupNorm(Layer):
    """``nn.GroupNorm(num_groups, num_channels)``: ``[C, *] -> [C, *]``; C inferred, divisible
    by ``num_groups``."""

    type: Literal["groupnorm"]
    num_groups: PosInt
    num_channels: PosInt | None = None
    eps: PositiveFloat = 1e-5
    affine: bool = True

    torch_class = "nn.GroupNorm"
    inferred_args = ("num_channels",)

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        if not shape:
            raise ShapeError("groupnorm needs a [channels, ...] input per sample")
        channels = shape[0]
        if channels % self.num_groups:
            raise ShapeError(
                f"groupnorm: {channels} channels (the first dimension of {list(shape)}) do "
                f"not divide into num_groups {self.num_groups}"
            )
        params = 2 * channels if self.affine else 0
        explain = [f"groupnorm: {channels} channels in {self.num_groups} groups"]
        if self.affine:
            explain.append(f"groupnorm: 2*{channels} = {fmt_int(params)} parameters")
        return Inferred(
            shape=tuple(shape),
            args={"num_channels": channels},
            params=params,
            macs=math.prod(shape),
            explain=explain,
        )

    def init_source(self, inferred: Inferred) -> str:
        return call(
            "nn.GroupNorm",
            [self.num_groups, inferred.args["num_channels"]],
            eps=None if self.eps == 1e-5 else self.eps,
            affine=None if self.affine else False,
        )


class _InstanceNormNd(_BatchNormNd):
    """Instance norm: torch's defaults are ``affine`` and ``track_running_stats`` false."""

    affine: bool = False
    track_running_stats: bool = False

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        inferred = super().infer(shapes, dtypes)
        if math.prod(shapes[0][1:]) == 1:
            raise ShapeError(
                f"{self.kind} over {list(shapes[0])} normalizes each channel over a single "
                "value, which makes it 0; it needs more than one position per channel"
            )
        return inferred

    def init_source(self, inferred: Inferred) -> str:
        return call(
            self.torch_class,
            [inferred.args["num_features"]],
            eps=None if self.eps == 1e-5 else self.eps,
            momentum=_momentum_arg(self.momentum),
            affine=True if self.affine else None,
            track_running_stats=True if self.track_running_stats else None,
        )


class InstanceNorm1d(_InstanceNormNd):
    """``nn.InstanceNorm1d``: ``[C, L]`` per sample, shape unchanged."""

    type: Literal["instancenorm1d"]
    ranks = (2,)
    layout = "[channels, length]"
    torch_class = "nn.InstanceNorm1d"


class InstanceNorm2d(_InstanceNormNd):
    """``nn.InstanceNorm2d``: ``[C, H, W]`` per sample, shape unchanged."""

    type: Literal["instancenorm2d"]
    ranks = (3,)
    layout = "[channels, height, width]"
    torch_class = "nn.InstanceNorm2d"
