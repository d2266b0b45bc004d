"""Pooling windows equal torch's in every small configuration, ``ceil_mode`` and dilation included.

Exhaustive over input 1..12, kernel 1..5, stride 1..4, padding 0..kernel//2 + 1 (one past
torch's limit, to see the error), dilation 1..3 (max pools), ceil_mode both: specc's inferred
length must equal the length torch's functional op returns on a tiny tensor, and specc must
raise a ShapeError exactly where torch raises (or returns nothing).
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from specc.ops import LAYER_TYPES, ShapeError

SIZES, KERNELS, STRIDES = range(1, 13), range(1, 6), range(1, 5)


def _torch_length(func, size: int, window: dict) -> int | None:
    try:
        out = func(torch.zeros(1, 1, size), **window).shape[-1]
    except RuntimeError:
        return None
    return out if out >= 1 else None


def _specc_length(kind: str, size: int, window: dict) -> int | None:
    layer = LAYER_TYPES[kind].model_validate({"type": kind, **window})
    try:
        return layer.infer([(1, size)], ["float32"]).shape[-1]
    except ShapeError:
        return None


def _windows(dilations):
    for k, s, d, ceil in itertools.product(KERNELS, STRIDES, dilations, (False, True)):
        for p in range(k // 2 + 2):
            window = {"kernel_size": k, "stride": s, "padding": p, "ceil_mode": ceil}
            yield window if dilations == (1,) else {**window, "dilation": d}


@pytest.mark.parametrize(
    ("kind", "func", "dilations"),
    [
        ("maxpool1d", F.max_pool1d, (1, 2, 3)),
        ("avgpool1d", F.avg_pool1d, (1,)),
    ],
)
def test_pool_length_equals_torch_everywhere(kind, func, dilations):
    mismatches, accepted, ceil_kept = [], 0, 0
    for window in _windows(dilations):
        for size in SIZES:
            want = _torch_length(func, size, window)
            got = _specc_length(kind, size, window)
            if got != want:
                mismatches.append((size, window, want, got))
            accepted += want is not None
            span = window.get("dilation", 1) * (window["kernel_size"] - 1) + 1
            ceil_kept += want is not None and span > size + 2 * window["padding"]
    assert not mismatches, f"{len(mismatches)} differ, e.g. {mismatches[:5]}"
    assert accepted > 900  # the sweep really covers configurations torch accepts
    assert ceil_kept > 0  # ... including windows larger than the input that ceil_mode keeps


def test_ceil_mode_keeps_a_kernel_3_stride_2_window_on_a_2_wide_input():
    pool = LAYER_TYPES["maxpool2d"].model_validate(
        {"type": "maxpool2d", "kernel_size": 3, "stride": 2, "ceil_mode": True}
    )
    assert pool.infer([(4, 2, 2)], ["float32"]).shape == (4, 1, 1)
    assert F.max_pool2d(torch.zeros(1, 4, 2, 2), 3, 2, ceil_mode=True).shape == (1, 4, 1, 1)
    floor = LAYER_TYPES["maxpool2d"].model_validate(
        {"type": "maxpool2d", "kernel_size": 3, "stride": 2}
    )
    with pytest.raises(ShapeError, match=r"kernel_size 3 is larger than the input \(2\)"):
        floor.infer([(4, 2, 2)], ["float32"])


def test_2d_pools_agree_per_dimension_on_a_sample():
    """The 2-D pools use the same per-dimension formula; a diagonal sample checks the wiring."""
    for (h, w), k, s, d, ceil in itertools.product(
        [(2, 5), (7, 3), (12, 12)], [2, 3], [1, 2, 3], [1, 2], [False, True]
    ):
        window = {"kernel_size": k, "stride": s, "dilation": d, "ceil_mode": ceil}
        try:
            want = tuple(F.max_pool2d(torch.zeros(1, 1, h, w), **window).shape[1:])
        except RuntimeError:
            want = None
        layer = LAYER_TYPES["maxpool2d"].model_validate({"type": "maxpool2d", **window})
        try:
            got = layer.infer([(1, h, w)], ["float32"]).shape
        except ShapeError:
            got = None
        assert got == (want if want is None or min(want) >= 1 else None), (h, w, window)


def test_onnx_adaptive_windows_are_torchs():
    """The windows the ONNX translation of adaptive max pooling slices are torch's own."""
    from specc.export.pool_onnx import adaptive_windows

    gen = torch.Generator().manual_seed(0)
    for length, out in itertools.product(range(1, 13), range(1, 13)):
        x = torch.randn(1, 1, length, generator=gen)
        windows = adaptive_windows(length, out)
        mine = torch.stack([x[..., a:b].amax(-1) for a, b in windows], dim=-1)
        torch.testing.assert_close(mine, F.adaptive_max_pool1d(x, out), rtol=0, atol=0)
