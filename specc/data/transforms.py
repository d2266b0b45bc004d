"""Tensor transforms: stateless steps in numpy, training-only augmentation in torch.

Stateless steps (``normalize``, ``pad``, ``resize``) are applied once, in the order written,
to every split (and by ``apply_preprocessing`` at predict time). Their state is the step's own
arguments. ``normalize`` works on dimension 1 of the batch (the channel of an image, the
feature of a table); ``pad`` and ``resize`` work on the last two dimensions of images
(N, C, H, W). ``pad`` follows torchvision: one number pads all sides, two pad left/right and
top/bottom, four pad left, top, right, bottom. ``resize`` is bilinear (``align_corners=False``,
no antialiasing, as ``torch.nn.functional.interpolate``); a single size means a square.

Augmentation (the steps whose section ``augments``; each is the function of its type's name in
:mod:`specc.data.augment`) runs on training batches only, drawn from the trainer's seeded
``torch.Generator`` (see :func:`make_augment`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from specc.spec.sections import AUGMENTATIONS

__all__ = ["AUGMENTATIONS", "apply_transforms", "make_augment", "transformed_shape"]


def _pads(padding) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) from torchvision's int / [lr, tb] / [l, t, r, b]."""
    p = [padding] if isinstance(padding, int) else list(padding)
    if len(p) == 1:
        return p[0], p[0], p[0], p[0]
    if len(p) == 2:
        return p[0], p[1], p[0], p[1]
    if len(p) == 4:
        return p[0], p[1], p[2], p[3]
    raise ValueError(f"pad takes 1, 2 or 4 numbers, not {len(p)}")


def _size(size) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (size[0], size[1])


def normalize(x: np.ndarray, step: dict) -> np.ndarray:
    """(x - mean[c]) / std[c] over dimension 1 of x (N, C, ...)."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = np.asarray(step["mean"], dtype=x.dtype).reshape(shape)
    std = np.asarray(step["std"], dtype=x.dtype).reshape(shape)
    return (x - mean) / std


def pad(x: np.ndarray, step: dict) -> np.ndarray:
    """Constant padding of the last two dims: (N, C, H, W) -> (N, C, H+t+b, W+l+r)."""
    left, top, right, bottom = _pads(step["padding"])
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
    return np.pad(x, widths, mode="constant", constant_values=step.get("value", 0.0))


def _axis_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scale = n_in / n_out
    src = np.maximum((np.arange(n_out) + 0.5) * scale - 0.5, 0.0)
    low = np.minimum(src.astype(np.int64), n_in - 1)
    high = np.minimum(low + 1, n_in - 1)
    return low, high, src - low


def resize(x: np.ndarray, step: dict) -> np.ndarray:
    """Bilinear resize of the last two dims: (N, C, H, W) -> (N, C, h, w)."""
    h, w = _size(step["size"])
    r0, r1, rw = _axis_weights(x.shape[-2], h)
    c0, c1, cw = _axis_weights(x.shape[-1], w)
    rw = rw.astype(x.dtype)[:, None]
    rows = x[..., r0, :] * (1 - rw) + x[..., r1, :] * rw
    cw = cw.astype(x.dtype)
    return rows[..., c0] * (1 - cw) + rows[..., c1] * cw


_STATELESS: dict[str, Callable[[np.ndarray, dict], np.ndarray]] = {
    "normalize": normalize,
    "pad": pad,
    "resize": resize,
}


def apply_transforms(steps: list[dict], x: np.ndarray) -> np.ndarray:
    """Apply the stateless steps (plain dicts) in order; augmentation steps are skipped."""
    for step in steps:
        if step["type"] in AUGMENTATIONS:
            continue
        if step["type"] not in _STATELESS:
            raise ValueError(f"unknown transform {step['type']!r}")
        x = _STATELESS[step["type"]](x, step)
    return x


def transformed_shape(steps: list[dict], shape: list[int]) -> list[int]:
    """Per-sample shape after the stateless steps (no data needed)."""
    shape = list(shape)
    for step in steps:
        if step["type"] == "pad":
            left, top, right, bottom = _pads(step["padding"])
            shape[-2:] = [shape[-2] + top + bottom, shape[-1] + left + right]
        elif step["type"] == "resize":
            shape[-2:] = list(_size(step["size"]))
    return shape


def make_augment(spec, generator) -> Callable | None:
    """The training-time augmentation of ``spec.data.transforms``, or None when it has none.

    Args:
        spec: the validated spec.
        generator: a ``torch.Generator`` (CPU) that every random draw comes from, so the same
            generator state gives the same augmented batches.

    Returns:
        A callable mapping a batch x (B, C, H, W) to an augmented batch of the same shape.
    """
    if spec.data is None:
        return None
    steps = [t for t in spec.data.transforms if t.augments]
    if not steps:
        return None
    from specc.data import augment as functions

    funcs = [getattr(functions, t.type)(t, generator) for t in steps]  # a validated type

    def augment(x):
        for func in funcs:
            x = func(x)
        return x

    return augment
