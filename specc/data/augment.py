"""Image augmentations on whole batches x (B, C, H, W), every draw from one seeded generator.

Each is a function of the step and the generator, in :data:`AUGMENT` by its ``type``:

- ``random_crop``: a random window of the (padded) image; ``random_horizontal_flip``: a
  mirror image with probability ``p``.
- ``random_resized_crop``: torchvision's area/aspect sampling (10 tries per sample, the whole
  image when none fits), the box resampled bilinearly to ``size`` (``grid_sample``,
  ``align_corners=False``).
- ``random_rotation``: a uniform angle about the image centre, corners filled with ``fill``.
- ``color_jitter``: brightness (scale), contrast (blend with the image's mean grey) and
  saturation (blend with each pixel's grey; a no-op on one channel), in that order, clamped to
  [0, 1] after each: it expects pixels in [0, 1], which is why it is offered for the
  ``image_folder`` source, where augmentation runs before ``normalize``.

The random numbers are drawn on the CPU (B per quantity, in a fixed order), so the same
generator state gives the same batch on any device.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from specc.spec.sections import height_width

if TYPE_CHECKING:
    from specc.spec.sections import (
        ColorJitter,
        RandomCrop,
        RandomHorizontalFlip,
        RandomResizedCrop,
        RandomRotation,
    )

__all__ = ["AUGMENT"]

TRIES = 10


def _uniform(generator, n: int, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)


def _sample(x: torch.Tensor, theta: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resampling of x (B, C, H, W) through affine maps theta (B, 2, 3)."""
    grid = F.affine_grid(
        theta.to(x.device, x.dtype), [x.shape[0], x.shape[1], *size], align_corners=False
    )
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _boxes(generator, b: int, height: int, width: int, scale, ratio) -> torch.Tensor:
    """(B, 4) boxes top, left, h, w, drawn as torchvision's RandomResizedCrop.get_params."""
    area = height * width
    target = area * _uniform(generator, b * TRIES, *scale).view(b, TRIES)
    logs = _uniform(generator, b * TRIES, math.log(ratio[0]), math.log(ratio[1])).view(b, TRIES)
    aspect = torch.exp(logs)
    w = torch.round(torch.sqrt(target * aspect))
    h = torch.round(torch.sqrt(target / aspect))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = torch.where(fits.any(1), fits.float().argmax(1), torch.full((b,), -1))
    rows = torch.arange(b)
    h = torch.where(first >= 0, h[rows, first.clamp(min=0)], torch.tensor(float(height)))
    w = torch.where(first >= 0, w[rows, first.clamp(min=0)], torch.tensor(float(width)))
    u, v = (
        torch.rand(b, generator=generator, dtype=torch.float64),
        torch.rand(b, generator=generator, dtype=torch.float64),
    )
    top = torch.floor(u * (height - h + 1))
    left = torch.floor(v * (width - w + 1))
    return torch.stack([top, left, h, w], 1)


def random_crop(step: RandomCrop, generator: torch.Generator) -> Callable:
    """x (B, C, H, W) -> (B, C, *step.size): a random window of each image, after padding."""
    height, width = height_width(step.size)
    p = step.padding
    window_rows, window_cols = torch.arange(height), torch.arange(width)  # made once, not per batch

    def crop(x):
        if p:
            x = torch.nn.functional.pad(x, (p, p, p, p))
        b = x.shape[0]
        top = torch.randint(0, x.shape[-2] - height + 1, (b,), generator=generator)
        left = torch.randint(0, x.shape[-1] - width + 1, (b,), generator=generator)
        rows = (top[:, None] + window_rows).to(x.device)
        cols = (left[:, None] + window_cols).to(x.device)
        batch = torch.arange(b, device=x.device)[:, None, None]
        out = x.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
        return out.permute(0, 3, 1, 2).contiguous()

    return crop


def random_horizontal_flip(step: RandomHorizontalFlip, generator: torch.Generator) -> Callable:
    """x (B, C, H, W) -> the same shape, each image mirrored with probability ``step.p``."""

    def flip(x):
        mask = (torch.rand(x.shape[0], generator=generator) < step.p).to(x.device)
        return torch.where(mask.view(-1, *([1] * (x.ndim - 1))), x.flip(-1), x)

    return flip


def random_resized_crop(step: RandomResizedCrop, generator: torch.Generator) -> Callable:
    """x (B, C, H, W) -> (B, C, *step.size): a random box of each image, resized."""
    size = height_width(step.size)

    def crop(x):
        b, height, width = x.shape[0], x.shape[-2], x.shape[-1]
        top, left, h, w = _boxes(generator, b, height, width, step.scale, step.ratio).unbind(1)
        theta = torch.zeros(b, 2, 3, dtype=torch.float64)
        theta[:, 0, 0], theta[:, 1, 1] = w / width, h / height
        theta[:, 0, 2] = (2 * left + w) / width - 1
        theta[:, 1, 2] = (2 * top + h) / height - 1
        return _sample(x, theta, size)

    return crop


def random_rotation(step: RandomRotation, generator: torch.Generator) -> Callable:
    """x (B, C, H, W) -> (B, C, H, W) rotated by a uniform angle each."""
    low, high = (
        (-step.degrees, step.degrees) if isinstance(step.degrees, (int, float)) else step.degrees
    )

    def rotate(x):
        b, height, width = x.shape[0], x.shape[-2], x.shape[-1]
        angle = _uniform(generator, b, low, high) * (math.pi / 180)
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.zeros(b, 2, 3, dtype=torch.float64)
        theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * height / width
        theta[:, 1, 0], theta[:, 1, 1] = sin * width / height, cos
        fill = float(step.fill)
        return _sample(x - fill, theta, (height, width)) + fill

    return rotate


def _factors(value) -> tuple[float, float] | None:
    if isinstance(value, (int, float)):
        return (max(0.0, 1 - value), 1 + value) if value else None
    return float(value[0]), float(value[1])


def _grey(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) luminance of x (B, C, H, W) (ITU-R 601 weights, as torchvision)."""
    if x.shape[1] != 3:
        return x.mean(1, keepdim=True)
    weights = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype)
    return (x * weights.view(1, 3, 1, 1)).sum(1, keepdim=True)


def color_jitter(step: ColorJitter, generator: torch.Generator) -> Callable:
    """x (B, C, H, W) in [0, 1] -> the same shape, brightness/contrast/saturation jittered."""
    ranges = [_factors(step.brightness), _factors(step.contrast), _factors(step.saturation)]

    def jitter(x):
        b = x.shape[0]
        shape = (b, 1, 1, 1)
        draws = [
            None if r is None else _uniform(generator, b, *r).to(x.device, x.dtype).view(shape)
            for r in ranges
        ]
        brightness, contrast, saturation = draws
        if brightness is not None:
            x = (x * brightness).clamp(0, 1)
        if contrast is not None:
            mean = _grey(x).mean((2, 3), keepdim=True)
            x = (contrast * x + (1 - contrast) * mean).clamp(0, 1)
        if saturation is not None and x.shape[1] == 3:
            x = (saturation * x + (1 - saturation) * _grey(x)).clamp(0, 1)
        return x

    return jitter


#: the function of each augmentation (by ``type``): (step, generator) -> batch map
AUGMENT: dict[str, Callable[..., Callable]] = {
    "random_crop": random_crop,
    "random_horizontal_flip": random_horizontal_flip,
    "random_resized_crop": random_resized_crop,
    "random_rotation": random_rotation,
    "color_jitter": color_jitter,
}
