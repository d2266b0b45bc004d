"""Stateless transforms in numpy agree with torch's own operations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from specc.data.transforms import apply_transforms, transformed_shape


@pytest.mark.parametrize("size", [3, 5, 8, 13, [7, 11]])
def test_resize_matches_torch_bilinear(size):
    x = np.random.default_rng(0).random((2, 3, 8, 10)).astype(np.float32)
    steps = [{"type": "resize", "size": size}]
    mine = apply_transforms(steps, x)
    hw = (size, size) if isinstance(size, int) else tuple(size)
    want = torch.nn.functional.interpolate(
        torch.from_numpy(x), size=hw, mode="bilinear", align_corners=False, antialias=False
    ).numpy()
    assert mine.shape == want.shape and np.allclose(mine, want, atol=1e-5)
    assert transformed_shape(steps, [3, 8, 10]) == [3, *hw]


@pytest.mark.parametrize(
    ("padding", "torch_pad"),
    [(2, (2, 2, 2, 2)), ([1, 3], (1, 1, 3, 3)), ([1, 2, 3, 4], (1, 3, 2, 4))],
)
def test_pad_follows_torchvision(padding, torch_pad):
    x = np.random.default_rng(1).random((2, 1, 4, 5)).astype(np.float32)
    steps = [{"type": "pad", "padding": padding, "value": 0.5}]
    mine = apply_transforms(steps, x)
    want = torch.nn.functional.pad(torch.from_numpy(x), torch_pad, value=0.5).numpy()
    assert np.array_equal(mine, want)
    assert transformed_shape(steps, [1, 4, 5]) == list(want.shape[1:])


def test_normalize_per_channel_and_augmentations_skipped():
    x = np.ones((2, 3, 2, 2), dtype=np.float32)
    steps = [
        {"type": "normalize", "mean": [0.0, 1.0, 2.0], "std": [1.0, 2.0, 4.0]},
        {"type": "random_horizontal_flip", "p": 1.0},
    ]
    out = apply_transforms(steps, x)
    assert out[:, :, 0, 0].tolist() == [[1.0, 0.0, -0.25]] * 2
