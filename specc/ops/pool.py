"""Pooling: ``maxpool1d/2d``, ``avgpool1d/2d``, ``adaptiveavgpool1d/2d``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from specc.ops.base import Inferred, Layer, NonNegInt, PosInt, Shape, ShapeError, call
from specc.ops.conv import as_tuple, window_explain, window_out


class _PoolNd(Layer):
    """Shared logic of max and average pooling; ``stride`` defaults to ``kernel_size``."""

    ndim: ClassVar[int] = 2
    kernel_size: PosInt | list[PosInt]
    stride: PosInt | list[PosInt] | None = None
    padding: NonNegInt | list[NonNegInt] = 0
    ceil_mode: bool = False

    def _check_rank(self, shape: Shape) -> None:
        if len(shape) not in (self.ndim, self.ndim + 1):
            layout = "[channels, length]" if self.ndim == 1 else "[channels, height, width]"
            raise ShapeError(f"{self.kind} needs a {layout} input per sample, got {list(shape)}")

    def _window(self) -> tuple[tuple[int, ...], ...]:
        n = self.ndim
        for arg in ("kernel_size", "stride", "padding"):
            value = getattr(self, arg)
            if isinstance(value, list) and len(value) != n:
                raise ShapeError(f"{arg} needs one int or a list of {n}, got {value}")
        kernel = as_tuple(self.kernel_size, n)
        stride = as_tuple(self.stride, n) if self.stride is not None else kernel
        padding = as_tuple(self.padding, n)
        for k, p in zip(kernel, padding, strict=True):
            if p > k // 2:
                raise ShapeError(f"padding {p} must be at most half of kernel_size {k}")
        return kernel, stride, padding

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        self._check_rank(shape)
        kernel, stride, padding = self._window()
        lead, sizes = shape[: len(shape) - self.ndim], shape[len(shape) - self.ndim:]
        out_sizes, explain = [], []
        for size, k, s, p in zip(sizes, kernel, stride, padding, strict=True):
            if k > size + 2 * p:
                raise ShapeError(f"kernel_size {k} is larger than the input ({size})")
            out = window_out(size, k, s, p, 1, self.ceil_mode)
            out_sizes.append(out)
            explain.append(window_explain(self.kind, size, k, s, p, 1, out))
        return Inferred(shape=(*lead, *out_sizes), explain=explain)

    def init_source(self, inferred: Inferred) -> str:
        return call(
            self.torch_class,
            kernel_size=self.kernel_size,
            stride=self.stride,
            padding=self.padding or None,
            ceil_mode=self.ceil_mode or None,
        )


class MaxPool1d(_PoolNd):
    type: Literal["maxpool1d"]
    ndim = 1
    torch_class = "nn.MaxPool1d"


class MaxPool2d(_PoolNd):
    type: Literal["maxpool2d"]
    ndim = 2
    torch_class = "nn.MaxPool2d"


class AvgPool1d(_PoolNd):
    type: Literal["avgpool1d"]
    ndim = 1
    torch_class = "nn.AvgPool1d"


class AvgPool2d(_PoolNd):
    type: Literal["avgpool2d"]
    ndim = 2
    torch_class = "nn.AvgPool2d"


class _AdaptiveAvgPoolNd(Layer):
    """Adaptive average pooling to a fixed ``output_size``."""

    ndim: ClassVar[int] = 2
    output_size: PosInt | list[PosInt]

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        if len(shape) not in (self.ndim, self.ndim + 1):
            layout = "[channels, length]" if self.ndim == 1 else "[channels, height, width]"
            raise ShapeError(f"{self.kind} needs a {layout} input per sample, got {list(shape)}")
        if isinstance(self.output_size, list) and len(self.output_size) != self.ndim:
            raise ShapeError(
                f"output_size needs one int or a list of {self.ndim}, got {self.output_size}"
            )
        size = as_tuple(self.output_size, self.ndim)
        lead = shape[: len(shape) - self.ndim]
        return Inferred(
            shape=(*lead, *size), explain=[f"{self.kind}: output_size {list(size)}"]
        )

    def init_source(self, inferred: Inferred) -> str:
        return call(self.torch_class, [self.output_size])


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    type: Literal["adaptiveavgpool1d"]
    ndim = 1
    torch_class = "nn.AdaptiveAvgPool1d"


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    type: Literal["adaptiveavgpool2d"]
    ndim = 2
    torch_class = "nn.AdaptiveAvgPool2d"
