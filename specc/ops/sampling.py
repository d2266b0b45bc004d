"""Up-sampling: ``convtranspose1d/2d``, ``upsample`` and ``pixelshuffle`` (channels first).

A transposed convolution's output length is torch's
``(L - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1``; ``output_padding``
only picks among the sizes a strided convolution maps back to the same input, so torch requires
it to be smaller than ``stride`` or ``dilation``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import model_validator

from specc.ops.base import (
    Inferred,
    Layer,
    NonNegInt,
    PosInt,
    PositiveFloat,
    Shape,
    ShapeError,
    call,
    require_rank,
)
from specc.ops.conv import Convolution, as_tuple, check_groups, kernel_params


def transposed_out(
    size: int, kernel: int, stride: int, padding: int, output_padding: int, dilation: int
) -> int:
    """Output length of a transposed convolution, torch's formula."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


class _ConvTransposeNd(Convolution):
    """Shared logic of convtranspose1d/2d: ``[C_in, *spatial] -> [C_out, *spatial_out]``."""

    stride: PosInt | list[PosInt] = 1
    padding: NonNegInt | list[NonNegInt] = 0
    output_padding: NonNegInt | list[NonNegInt] = 0
    dilation: PosInt | list[PosInt] = 1
    groups: PosInt = 1
    bias: bool = True
    in_channels: PosInt | None = None

    inferred_args = ("in_channels",)
    optional_args = ("stride", "padding", "output_padding", "groups", "bias", "dilation")
    _window_args: ClassVar[tuple[str, ...]] = (
        "kernel_size",
        "stride",
        "padding",
        "output_padding",
        "dilation",
    )

    def _tuples(self) -> list[tuple[int, ...]]:
        """Each window argument as one value per spatial dimension."""
        self.check_lengths(*self._window_args)
        return [as_tuple(getattr(self, arg), self.ndim) for arg in self._window_args]

    def _out_size(self, size: int, k: int, s: int, p: int, op: int, d: int) -> tuple[int, str]:
        if op >= s and op >= d:
            raise ShapeError(
                f"output_padding {op} must be smaller than stride ({s}) or dilation ({d})"
            )
        out = transposed_out(size, k, s, p, op, d)
        if out < 1:
            raise ShapeError(
                f"padding {p} removes more than the transposed convolution produces "
                f"(output size {out})"
            )
        k_text = f"{d}*({k} - 1)" if d != 1 else f"({k} - 1)"
        pad = f" - 2*{p}" if p else ""
        extra = f" + {op} (output_padding)" if op else ""
        return out, f"{self.kind}: ({size} - 1)*{s}{pad} + {k_text}{extra} + 1 = {out}"

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        """``[C_in, *spatial] -> [out_channels, *spatial_out]``."""
        (shape,) = shapes
        require_rank(shape, [self.ndim + 1], f"{self.kind} ({self.layout()})")
        kernel, stride, padding, output_padding, dilation = self._tuples()
        channels = shape[0]
        check_groups(self.groups, channels, self.out_channels)
        out_sizes, explain = [], []
        for args in zip(shape[1:], kernel, stride, padding, output_padding, dilation, strict=True):
            out, text = self._out_size(*args)
            out_sizes.append(out)
            explain.append(text)
        biases = self.out_channels if self.bias else 0
        factors = (channels, self.out_channels // self.groups)
        weights, params, text = kernel_params(self.kind, factors, kernel, biases)
        explain.append(text)
        return Inferred(
            shape=(self.out_channels, *out_sizes),
            args={"in_channels": channels},
            params=params,
            macs=weights * math.prod(shape[1:]),
            explain=explain,
        )


class ConvTranspose1d(_ConvTransposeNd):
    """``nn.ConvTranspose1d``: ``[C_in, L] -> [C_out, L_out]``."""

    type: Literal["convtranspose1d"]
    ndim = 1
    torch_class = "nn.ConvTranspose1d"


class ConvTranspose2d(_ConvTransposeNd):
    """``nn.ConvTranspose2d``: ``[C_in, H, W] -> [C_out, H_out, W_out]``."""

    type: Literal["convtranspose2d"]
    ndim = 2
    torch_class = "nn.ConvTranspose2d"


class Upsample(Layer):
    """``nn.Upsample``: ``[C, *spatial] -> [C, *spatial_out]`` (1-D or 2-D spatial).

    Exactly one of ``size`` (the output's spatial size) or ``scale_factor`` (each spatial size
    is multiplied and rounded down, as torch does). ``mode`` is ``nearest`` or ``bilinear``
    (2-D only); ``align_corners`` is only meaningful, and only allowed, with ``bilinear``.
    """

    type: Literal["upsample"]
    size: PosInt | list[PosInt] | None = None
    scale_factor: PositiveFloat | list[PositiveFloat] | None = None
    mode: Literal["nearest", "bilinear"] = "nearest"
    align_corners: bool | None = None
    torch_class = "nn.Upsample"

    @model_validator(mode="after")
    def _one_size(self) -> Upsample:
        if (self.size is None) == (self.scale_factor is None):
            raise ValueError("give exactly one of size or scale_factor")
        if self.align_corners is not None and self.mode != "bilinear":
            raise ValueError(f"align_corners only applies to mode 'bilinear', not '{self.mode}'")
        return self

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        """``[C, L] -> [C, L_out]`` or ``[C, H, W] -> [C, H_out, W_out]``."""
        (shape,) = shapes
        require_rank(shape, [2, 3], "upsample ([channels, length] or [channels, height, width])")
        n = len(shape) - 1
        if self.mode == "bilinear" and n != 2:
            raise ShapeError(
                "mode 'bilinear' needs a [channels, height, width] input per "
                f"sample, got {list(shape)}"
            )
        for arg in ("size", "scale_factor"):
            value = getattr(self, arg)
            if isinstance(value, list) and len(value) != n:
                raise ShapeError(
                    f"{arg} needs one number or a list of {n} for an input of "
                    f"{n} spatial dimension(s), got {value}"
                )
        if self.size is not None:
            out = as_tuple(self.size, n)
            explain = [f"upsample: size {list(out)}"]
        else:
            scale = self.scale_factor
            assert scale is not None  # _one_size: size or scale_factor is given
            scales = tuple(scale) if isinstance(scale, list) else (scale,) * n
            out = tuple(math.floor(s * f) for s, f in zip(shape[1:], scales, strict=True))
            explain = [
                f"upsample: floor({s}*{_number(f)}) = {o}"
                for s, f, o in zip(shape[1:], scales, out, strict=True)
            ]
        if min(out) < 1:
            raise ShapeError(
                f"scale_factor {self.scale_factor} leaves no output "
                f"({list(shape[1:])} -> {list(out)})"
            )
        return Inferred(shape=(shape[0], *out), explain=explain)

    def init_source(self, inferred: Inferred) -> str:
        scale = self.scale_factor
        written = [_number(f) for f in scale] if isinstance(scale, list) else _number(scale)
        return call(
            "nn.Upsample",
            size=self.size,
            scale_factor=written,
            **self.changed("mode", "align_corners"),
        )


def _number(value: float | None) -> float | int | None:
    """``2`` for 2.0 (torch's examples write integral scale factors as ints)."""
    return int(value) if value is not None and float(value).is_integer() else value


class PixelShuffle(Layer):
    """``nn.PixelShuffle(r)``: ``[C*r*r, H, W] -> [C, H*r, W*r]``."""

    type: Literal["pixelshuffle"]
    upscale_factor: PosInt
    torch_class = "nn.PixelShuffle"

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        require_rank(shape, [3], "pixelshuffle ([channels, height, width])")
        r = self.upscale_factor
        channels, h, w = shape
        if channels % (r * r):
            raise ShapeError(
                f"pixelshuffle with upscale_factor {r} needs channels divisible by {r}*{r} = "
                f"{r * r}, got {channels}"
            )
        out = (channels // (r * r), h * r, w * r)
        return Inferred(
            shape=out,
            explain=[
                f"pixelshuffle: [{channels}, {h}, {w}] -> [{channels}/{r * r}, {h}*{r}, "
                f"{w}*{r}] = {list(out)}"
            ],
        )

    def init_source(self, inferred: Inferred) -> str:
        return call("nn.PixelShuffle", [self.upscale_factor])
