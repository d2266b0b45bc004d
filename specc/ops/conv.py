"""Convolutions: ``conv1d`` and ``conv2d`` (channels first, per sample ``[C, L]``/``[C, H, W]``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar, Literal

from specc.ops.base import (
    Inferred,
    Layer,
    NonNegInt,
    PosInt,
    Shape,
    ShapeError,
    call,
    fmt_int,
    require_rank,
)


def as_tuple(value: int | Sequence[int], n: int) -> tuple[int, ...]:
    """Expand an int to an n-tuple; pass a sequence through as a tuple."""
    return (value,) * n if isinstance(value, int) else tuple(value)


def short(value: int | str | list[int]) -> int | str | list[int]:
    """One int for a list of equal values, as torch prints them (``3`` for ``[3, 3]``)."""
    return value[0] if isinstance(value, list) and len(set(value)) == 1 else value


def window_out(
    size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil_mode: bool = False
) -> int:
    """Output length of a sliding window, torch's formula."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + padding:
            out -= 1
        return out
    return span // stride + 1


def window_explain(
    kind: str,
    size: int,
    kernel: int,
    stride: int,
    padding: int,
    dilation: int,
    out: int,
    ceil_mode: bool = False,
) -> str:
    """``conv2d: (28 + 2*2 - 5)/1 + 1 = 28`` style arithmetic."""
    k = f"{dilation}*({kernel} - 1) - 1" if dilation != 1 else f"{kernel}"
    pad = f" + 2*{padding}" if padding else ""
    rounding = ", rounded up (ceil_mode)" if ceil_mode else ""
    return f"{kind}: ({size}{pad} - {k})/{stride} + 1 = {out}{rounding}"


def check_groups(groups: int, in_channels: int, out_channels: int) -> None:
    """Raise ShapeError unless ``groups`` divides both channel counts (torch's rule)."""
    if in_channels % groups or out_channels % groups:
        raise ShapeError(
            f"groups={groups} must divide in_channels ({in_channels}) and "
            f"out_channels ({out_channels})"
        )


def kernel_params(
    kind: str, factors: tuple[int, int], kernel: Sequence[int], biases: int
) -> tuple[int, int, str]:
    """``(weights, parameters, explanation)`` of ``factors[0]*factors[1]*kernel`` weights and
    ``biases`` biases (a convolution's ``out*in/groups*k``, a transposed one's ``in*out/groups*k``).
    """
    weights = factors[0] * factors[1] * math.prod(kernel)
    params = weights + biases
    shown = "*".join(map(str, (*factors, *kernel))) + (f" + {biases}" if biases else "")
    return weights, params, f"{kind}: {shown} = {fmt_int(params)} parameters"


class SpatialLayer(Layer):
    """A module over ``ndim`` spatial dimensions after the channels: ``[C, L]`` or ``[C, H, W]``."""

    torch_class: ClassVar[str]  # every member is a module

    ndim: ClassVar[int] = 2

    def layout(self) -> str:
        """The per-sample input it takes, in words."""
        return "[channels, length]" if self.ndim == 1 else "[channels, height, width]"

    def check_lengths(self, *args: str) -> None:
        """Raise ShapeError unless each named argument that is a list has ``ndim`` values."""
        for arg in args:
            value = getattr(self, arg, None)
            if isinstance(value, list) and len(value) != self.ndim:
                raise ShapeError(f"{arg} needs one int or a list of {self.ndim}, got {value}")


class Convolution(SpatialLayer):
    """What convolutions and transposed ones share: ``nn.Conv2d(in, out, kernel_size, ...)``."""

    out_channels: PosInt
    kernel_size: PosInt | list[PosInt]

    #: the arguments written after ``kernel_size`` (where not torch's default), in torch's order
    optional_args: ClassVar[tuple[str, ...]]

    def init_source(self, inferred: Inferred) -> str:
        return call(
            self.torch_class,
            [inferred.args["in_channels"], self.out_channels],
            kernel_size=short(self.kernel_size),
            **self.changed(*self.optional_args, show=short),
        )


class _ConvNd(Convolution):
    """Shared logic of conv1d/conv2d."""

    stride: PosInt | list[PosInt] = 1
    padding: NonNegInt | list[NonNegInt] | Literal["same", "valid"] = 0
    dilation: PosInt | list[PosInt] = 1
    groups: PosInt = 1
    bias: bool = True
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"
    in_channels: PosInt | None = None

    inferred_args = ("in_channels",)
    optional_args = ("stride", "padding", "dilation", "groups", "bias", "padding_mode")

    def _tuples(self) -> tuple[tuple[int, ...], ...]:
        n = self.ndim
        self.check_lengths("kernel_size", "stride", "dilation", "padding")
        kernel = as_tuple(self.kernel_size, n)
        stride = as_tuple(self.stride, n)
        dilation = as_tuple(self.dilation, n)
        if self.padding == "valid":
            padding = (0,) * n
        elif self.padding == "same":
            if any(s != 1 for s in stride):
                raise ShapeError("padding 'same' needs stride 1 (torch's rule)")
            padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation, strict=True))
        else:
            padding = as_tuple(self.padding, n)
        return kernel, stride, padding, dilation

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        """``[C_in, *spatial] -> [out_channels, *spatial_out]``."""
        (shape,) = shapes
        require_rank(shape, [self.ndim + 1], f"{self.kind} ({self.layout()})")
        kernel, stride, padding, dilation = self._tuples()
        channels, sizes = shape[0], shape[1:]
        check_groups(self.groups, channels, self.out_channels)
        out_sizes, explain = [], []
        for args in zip(sizes, kernel, stride, padding, dilation, strict=True):
            out, text = self._out_size(*args)
            out_sizes.append(out)
            explain.append(text)
        biases = self.out_channels if self.bias else 0
        factors = (self.out_channels, channels // self.groups)
        weights, params, text = kernel_params(self.kind, factors, kernel, biases)
        explain.append(text)
        return Inferred(
            shape=(self.out_channels, *out_sizes),
            args={"in_channels": channels},
            params=params,
            macs=weights * math.prod(out_sizes),
            explain=explain,
        )

    def _out_size(self, size: int, k: int, s: int, p: int, d: int) -> tuple[int, str]:
        """One spatial dimension's output size and its arithmetic."""
        self._check_padding_mode(size, d * (k - 1) - p if self.padding == "same" else p)
        if self.padding == "same":
            return size, f"{self.kind}: padding 'same' keeps {size}"
        if d * (k - 1) + 1 > size + 2 * p:
            raise ShapeError(
                f"kernel_size {k} is larger than the input ({size}"
                f"{f' + 2*{p} padding' if p else ''})"
            )
        out = window_out(size, k, s, p, d)
        return out, window_explain(self.kind, size, k, s, p, d, out)

    def _check_padding_mode(self, size: int, pad: int) -> None:
        """torch pads by reflection less than the size, circularly at most the size."""
        mode = self.padding_mode
        if (mode == "reflect" and pad >= size) or (mode == "circular" and pad > size):
            bound = "less than" if mode == "reflect" else "at most"
            raise ShapeError(
                f"padding {pad} with padding_mode '{mode}' must be {bound} the input size {size}"
            )


class Conv1d(_ConvNd):
    """``nn.Conv1d``: ``[C_in, L] -> [C_out, L_out]``."""

    type: Literal["conv1d"]
    ndim = 1
    torch_class = "nn.Conv1d"


class Conv2d(_ConvNd):
    """``nn.Conv2d``: ``[C_in, H, W] -> [C_out, H_out, W_out]``."""

    type: Literal["conv2d"]
    ndim = 2
    torch_class = "nn.Conv2d"
