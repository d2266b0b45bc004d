"""Tensor transforms: stateless steps in numpy, training-only augmentation in torch.

Stateless steps (the sections that do not ``augment``; each documents what it does) are
applied once, in the order written, to every split (and by ``apply_preprocessing`` at
predict time); their state is the step's own arguments. ``resize`` is bilinear
(``align_corners=False``, as ``torch.nn.functional.interpolate``).

Augmentation (the steps whose section ``augments``; each has its function in
:data:`specc.data.augment.AUGMENT`) runs on training batches only, drawn from the trainer's
seeded ``torch.Generator`` (see :func:`make_augment`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from specc.spec.sections import TRANSFORMS, Normalize, Pad, Resize, TransformStep, member_named

if TYPE_CHECKING:
    import torch

    from specc.spec.schema import Spec

__all__ = ["apply_transforms", "make_augment", "stateless_steps", "transformed_shape"]


def stateless_steps(steps: list[dict]) -> list[TransformStep]:
    """The stateless steps of ``steps`` (plain dicts, a fitted state's) as section objects;
    augmentation steps are left out.

    Raises:
        ValueError: a step of an unknown type, or with arguments its section refuses.
    """
    parsed = []
    for step in steps:
        try:
            member = member_named(TRANSFORMS, step["type"])
        except KeyError:
            raise ValueError(f"unknown transform {step['type']!r}") from None
        if not member.augments:
            parsed.append(member.model_validate(step))
    return parsed


def normalize(x: np.ndarray, step: Normalize) -> np.ndarray:
    """(x - mean[c]) / std[c] over dimension 1 of x (N, C, ...)."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = np.asarray(step.mean, dtype=x.dtype).reshape(shape)
    std = np.asarray(step.std, dtype=x.dtype).reshape(shape)
    return (x - mean) / std


def pad(x: np.ndarray, step: Pad) -> np.ndarray:
    """Constant padding of the last two dims: (N, C, H, W) -> (N, C, H+t+b, W+l+r)."""
    left, top, right, bottom = step.sides()
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
    return np.pad(x, widths, mode="constant", constant_values=step.value)


def _axis_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scale = n_in / n_out
    src = np.maximum((np.arange(n_out) + 0.5) * scale - 0.5, 0.0)
    low = np.minimum(src.astype(np.int64), n_in - 1)
    high = np.minimum(low + 1, n_in - 1)
    return low, high, src - low


def resize(x: np.ndarray, step: Resize) -> np.ndarray:
    """Bilinear resize of the last two dims: (N, C, H, W) -> (N, C, h, w)."""
    h, w = step.output_shape(list(x.shape))[-2:]
    r0, r1, rw = _axis_weights(x.shape[-2], h)
    c0, c1, cw = _axis_weights(x.shape[-1], w)
    rw = rw.astype(x.dtype)[:, None]
    rows = x[..., r0, :] * (1 - rw) + x[..., r1, :] * rw
    cw = cw.astype(x.dtype)
    return rows[..., c0] * (1 - cw) + rows[..., c1] * cw


#: the numpy function of each stateless transform (by ``type``): x (N, ...) -> (N, ...)
_STATELESS: dict[str, Callable[[np.ndarray, Any], np.ndarray]] = {
    "normalize": normalize,
    "pad": pad,
    "resize": resize,
}


def apply_transforms(steps: list[dict], x: np.ndarray) -> np.ndarray:
    """Apply the stateless steps (plain dicts) in order; augmentation steps are skipped."""
    for step in stateless_steps(steps):
        x = _STATELESS[step.type](x, step)
    return x


def transformed_shape(steps: list[dict], shape: list[int]) -> list[int]:
    """Per-sample shape after the stateless steps (no data needed)."""
    for step in stateless_steps(steps):
        shape = step.output_shape(shape)
    return list(shape)


def make_augment(spec: Spec, generator: torch.Generator) -> Callable | None:
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
    from specc.data.augment import AUGMENT

    funcs = [AUGMENT[t.type](t, generator) for t in steps]

    def augment(x):
        for func in funcs:
            x = func(x)
        return x

    return augment
