"""Spec ``loss`` section -> torch loss module, from a closed mapping (no name lookups)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = ["LOSS_BUILDERS", "build_loss"]


def _tensor(values, device) -> torch.Tensor | None:
    if values is None:
        return None
    values = values if isinstance(values, list) else [values]
    return torch.tensor(values, dtype=torch.float32, device=device)


LOSS_BUILDERS: dict[str, Callable] = {
    "mse": lambda s, d: nn.MSELoss(reduction=s.reduction),
    "l1": lambda s, d: nn.L1Loss(reduction=s.reduction),
    "smooth_l1": lambda s, d: nn.SmoothL1Loss(beta=s.beta, reduction=s.reduction),
    "huber": lambda s, d: nn.HuberLoss(delta=s.delta, reduction=s.reduction),
    "bce_with_logits": lambda s, d: nn.BCEWithLogitsLoss(
        pos_weight=_tensor(s.pos_weight, d), reduction=s.reduction),
    "bce": lambda s, d: nn.BCELoss(reduction=s.reduction),
    "cross_entropy": lambda s, d: nn.CrossEntropyLoss(
        weight=_tensor(s.weight, d), label_smoothing=s.label_smoothing, reduction=s.reduction),
    "nll": lambda s, d: nn.NLLLoss(weight=_tensor(s.weight, d), reduction=s.reduction),
}


def build_loss(section, device: torch.device | str = "cpu") -> nn.Module:
    """The torch loss for a validated loss section (``spec.loss``).

    The module maps ``(output (B, ...), target (B, ...))`` to a scalar: the mean over the
    batch (``reduction: mean``, the default) or the sum (``reduction: sum``).
    """
    return LOSS_BUILDERS[section.type](section, device)
