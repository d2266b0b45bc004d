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


class _ConvNd(Layer):
    """Shared logic of conv1d/conv2d."""

    torch_class: ClassVar[str]  # every member is a module

    ndim: ClassVar[int] = 2
    out_channels: PosInt
    kernel_size: PosInt | list[PosInt]
    stride: PosInt | list[PosInt] = 1
    padding: NonNegInt | list[NonNegInt] | Literal["same", "valid"] = 0
    dilation: PosInt | list[PosInt] = 1
    groups: PosInt = 1
    bias: bool = True
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros"
    in_channels: PosInt | None = None

    inferred_args = ("in_channels",)

    def _tuples(self) -> tuple[tuple[int, ...], ...]:
        n = self.ndim
        for arg in ("kernel_size", "stride", "dilation", "padding"):
            value = getattr(self, arg)
            if isinstance(value, list) and len(value) != n:
                raise ShapeError(f"{arg} needs one int or a list of {n}, got {value}")
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
        (shape,) = shapes
        n = self.ndim
        what = f"{self.kind}"
        if len(shape) != n + 1:
            layout = "[channels, length]" if n == 1 else "[channels, height, width]"
            require_rank(shape, [n + 1], f"{what} ({layout})")
        kernel, stride, padding, dilation = self._tuples()
        channels, sizes = shape[0], shape[1:]
        if channels % self.groups or self.out_channels % self.groups:
            raise ShapeError(
                f"groups={self.groups} must divide in_channels ({channels}) and "
                f"out_channels ({self.out_channels})"
            )
        out_sizes, explain = [], []
        for size, k, s, p, d in zip(sizes, kernel, stride, padding, dilation, strict=True):
            self._check_padding_mode(size, d * (k - 1) - p if self.padding == "same" else p)
            if self.padding == "same":
                out = size
                explain.append(f"{self.kind}: padding 'same' keeps {size}")
            else:
                effective = d * (k - 1) + 1
                if effective > size + 2 * p:
                    raise ShapeError(
                        f"kernel_size {k} is larger than the input ({size}"
                        f"{f' + 2*{p} padding' if p else ''})"
                    )
                out = window_out(size, k, s, p, d)
                explain.append(window_explain(self.kind, size, k, s, p, d, out))
            out_sizes.append(out)
        per_out = (channels // self.groups) * math.prod(kernel)
        weights = self.out_channels * per_out
        params = weights + (self.out_channels if self.bias else 0)
        bias_text = f" + {self.out_channels}" if self.bias else ""
        explain.append(
            f"{self.kind}: {self.out_channels}*{channels // self.groups}*"
            f"{'*'.join(map(str, kernel))}{bias_text} = {fmt_int(params)} parameters"
        )
        return Inferred(
            shape=(self.out_channels, *out_sizes),
            args={"in_channels": channels},
            params=params,
            macs=weights * math.prod(out_sizes),
            explain=explain,
        )

    def _check_padding_mode(self, size: int, pad: int) -> None:
        """torch pads by reflection less than the size, circularly at most the size."""
        mode = self.padding_mode
        if (mode == "reflect" and pad >= size) or (mode == "circular" and pad > size):
            bound = "less than" if mode == "reflect" else "at most"
            raise ShapeError(
                f"padding {pad} with padding_mode '{mode}' must be {bound} the input size {size}"
            )

    def init_source(self, inferred: Inferred) -> str:
        return call(
            self.torch_class,
            [inferred.args["in_channels"], self.out_channels],
            kernel_size=short(self.kernel_size),
            stride=None if short(self.stride) == 1 else short(self.stride),
            padding=None if short(self.padding) == 0 else short(self.padding),
            dilation=None if short(self.dilation) == 1 else short(self.dilation),
            groups=None if self.groups == 1 else self.groups,
            bias=None if self.bias else False,
            padding_mode=None if self.padding_mode == "zeros" else self.padding_mode,
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
