"""Pooling: ``maxpool1d/2d``, ``avgpool1d/2d``, ``adaptiveavgpool1d/2d``, ``adaptivemaxpool1d/2d``.

Window sizes follow torch's ``pooling_output_shape`` exactly, ``ceil_mode`` included: with
ceil_mode a last window that starts inside the (left-padded) input is kept even when it hangs
off the end, so a kernel larger than the input can still give one output. A configuration is
an error exactly where torch raises: padding more than half the kernel, or no output at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from specc.ops.base import Inferred, NonNegInt, PosInt, Shape, ShapeError, call
from specc.ops.conv import SpatialLayer, as_tuple, window_explain, window_out


def _check_rank(layer: SpatialLayer, shape: Shape) -> None:
    """Raise ShapeError unless ``shape`` is ``[*spatial]`` or ``[channels, *spatial]``."""
    if len(shape) not in (layer.ndim, layer.ndim + 1):
        raise ShapeError(
            f"{layer.kind} needs a {layer.layout()} input per sample, got {list(shape)}"
        )


class _PoolNd(SpatialLayer):
    """Shared logic of max and average pooling; ``stride`` defaults to ``kernel_size``."""

    kernel_size: PosInt | list[PosInt]
    stride: PosInt | list[PosInt] | None = None
    padding: NonNegInt | list[NonNegInt] = 0
    ceil_mode: bool = False

    def _dilation(self) -> PosInt | list[PosInt]:
        return 1

    def _window(self) -> tuple[tuple[int, ...], ...]:
        """``(kernel, stride, padding, dilation)``, one value per spatial dimension."""
        n = self.ndim
        self.check_lengths("kernel_size", "stride", "padding", "dilation")
        kernel = as_tuple(self.kernel_size, n)
        stride = as_tuple(self.stride, n) if self.stride is not None else kernel
        padding = as_tuple(self.padding, n)
        for k, p in zip(kernel, padding, strict=True):
            if p > k // 2:
                raise ShapeError(f"padding {p} must be at most half of kernel_size {k}")
        return kernel, stride, padding, as_tuple(self._dilation(), n)

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        """``[C, *spatial] -> [C, *out]``, each ``out`` by torch's pooling formula."""
        (shape,) = shapes
        _check_rank(self, shape)
        lead, sizes = shape[: len(shape) - self.ndim], shape[len(shape) - self.ndim :]
        out_sizes, explain = [], []
        for size, k, s, p, d in zip(sizes, *self._window(), strict=True):
            out = window_out(size, k, s, p, d, self.ceil_mode)
            if out < 1:
                span = d * (k - 1) + 1
                raise ShapeError(
                    f"kernel_size {k}{f' (dilated to {span})' if d > 1 else ''} is larger than "
                    f"the input ({size}{f' + 2*{p} padding' if p else ''}): no output"
                )
            out_sizes.append(out)
            explain.append(window_explain(self.kind, size, k, s, p, d, out, self.ceil_mode))
        return Inferred(shape=(*lead, *out_sizes), explain=explain)

    def init_source(self, inferred: Inferred) -> str:
        dilation = self._dilation()
        return call(
            self.torch_class,
            kernel_size=self.kernel_size,
            stride=self.stride,
            padding=self.padding or None,
            dilation=None if dilation == 1 else dilation,
            ceil_mode=self.ceil_mode or None,
        )


class _MaxPoolNd(_PoolNd):
    """Max pooling also takes ``dilation`` (spacing between window elements)."""

    dilation: PosInt | list[PosInt] = 1

    def _dilation(self) -> PosInt | list[PosInt]:
        return self.dilation


class MaxPool1d(_MaxPoolNd):
    type: Literal["maxpool1d"]
    ndim = 1
    torch_class = "nn.MaxPool1d"


class MaxPool2d(_MaxPoolNd):
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


class _AdaptivePoolNd(SpatialLayer):
    """Adaptive (average or max) pooling to a fixed ``output_size``: ``[C, *in] -> [C, *out]``."""

    output_size: PosInt | list[PosInt]

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        _check_rank(self, shape)
        self.check_lengths("output_size")
        size = as_tuple(self.output_size, self.ndim)
        lead = shape[: len(shape) - self.ndim]
        return Inferred(shape=(*lead, *size), explain=[f"{self.kind}: output_size {list(size)}"])

    def init_source(self, inferred: Inferred) -> str:
        return call(self.torch_class, [self.output_size])


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    type: Literal["adaptiveavgpool1d"]
    ndim = 1
    torch_class = "nn.AdaptiveAvgPool1d"


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    type: Literal["adaptiveavgpool2d"]
    ndim = 2
    torch_class = "nn.AdaptiveAvgPool2d"


class AdaptiveMaxPool1d(_AdaptivePoolNd):
    type: Literal["adaptivemaxpool1d"]
    ndim = 1
    torch_class = "nn.AdaptiveMaxPool1d"


class AdaptiveMaxPool2d(_AdaptivePoolNd):
    type: Literal["adaptivemaxpool2d"]
    ndim = 2
    torch_class = "nn.AdaptiveMaxPool2d"
