"""Spec ``loss`` section -> torch loss module, as the section class says (no name tables)."""

from __future__ import annotations

import torch
from torch import nn

from specc.spec.sections import LossSection

__all__ = ["build_loss"]


def build_loss(section: LossSection, device: torch.device | str = "cpu") -> nn.Module:
    """The torch loss for a validated loss section (``spec.loss``).

    The module maps ``(output (B, ...), target (B, ...))`` to a scalar: the mean over the
    batch (``reduction: mean``, the default) or the sum (``reduction: sum``).
    """
    kwargs = section.torch_kwargs()
    for name in section.tensor_args:
        kwargs[name] = _tensor(kwargs[name], device)
    return getattr(nn, section.torch_class)(**kwargs)  # a class name of ours, never user text


def _tensor(values, device) -> torch.Tensor | None:
    if values is None:
        return None
    values = values if isinstance(values, list) else [values]
    return torch.tensor(values, dtype=torch.float32, device=device)
