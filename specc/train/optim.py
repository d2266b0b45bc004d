"""Optimizers and learning-rate schedulers, and when each scheduler steps.

Stepping rules (the standalone train.py follows the same ones):

- ``one_cycle`` steps after every optimizer step (per batch), with
  ``total_steps = epochs * batches_per_epoch``.
- ``reduce_lr_on_plateau`` steps once per epoch, after validation, with the value of its
  ``monitor`` (default ``val_loss``).
- every other scheduler steps once per epoch, after validation.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import optim
from torch.optim import lr_scheduler as sched

__all__ = ["OPTIMIZER_BUILDERS", "SCHEDULER_BUILDERS", "Stepper", "build_optimizer",
           "build_scheduler"]


def _args(section, *names: str) -> dict:
    return {name: getattr(section, name) for name in names}


OPTIMIZER_BUILDERS: dict[str, Callable] = {
    "sgd": lambda p, s: optim.SGD(p, **_args(s, "lr", "momentum", "dampening", "nesterov",
                                             "weight_decay")),
    "adam": lambda p, s: optim.Adam(p, **_args(s, "lr", "betas", "eps", "weight_decay",
                                               "amsgrad")),
    "adamw": lambda p, s: optim.AdamW(p, **_args(s, "lr", "betas", "eps", "weight_decay",
                                                 "amsgrad")),
    "rmsprop": lambda p, s: optim.RMSprop(p, **_args(s, "lr", "alpha", "eps", "momentum",
                                                     "centered", "weight_decay")),
    "adagrad": lambda p, s: optim.Adagrad(p, **_args(s, "lr", "lr_decay", "eps",
                                                     "weight_decay")),
}


def build_optimizer(section, params) -> optim.Optimizer:
    """The torch optimizer for a validated ``optimizer`` section over ``params``."""
    return OPTIMIZER_BUILDERS[section.type](params, section)


SCHEDULER_BUILDERS: dict[str, Callable] = {
    "step_lr": lambda o, s, e, b: sched.StepLR(o, **_args(s, "step_size", "gamma")),
    "multi_step_lr": lambda o, s, e, b: sched.MultiStepLR(o, **_args(s, "milestones", "gamma")),
    "exponential_lr": lambda o, s, e, b: sched.ExponentialLR(o, gamma=s.gamma),
    "cosine_annealing": lambda o, s, e, b: sched.CosineAnnealingLR(
        o, T_max=s.T_max or e, eta_min=s.eta_min),
    "one_cycle": lambda o, s, e, b: sched.OneCycleLR(
        o, total_steps=e * b, **_args(s, "max_lr", "pct_start", "anneal_strategy",
                                      "div_factor", "final_div_factor")),
    "reduce_lr_on_plateau": lambda o, s, e, b: sched.ReduceLROnPlateau(
        o, **_args(s, "mode", "factor", "patience", "threshold", "min_lr")),
}


class Stepper:
    """A scheduler plus the moment it steps.

    Attributes:
        scheduler: the torch scheduler (None when the spec has none).
        per_batch: True for one_cycle (call :meth:`batch` after each optimizer step).
        monitor: the metric reduce_lr_on_plateau watches (None for the others).
    """

    def __init__(self, scheduler, per_batch: bool = False, monitor: str | None = None) -> None:
        self.scheduler = scheduler
        self.per_batch = per_batch
        self.monitor = monitor

    def batch(self) -> None:
        """After each optimizer step (one_cycle only)."""
        self.scheduler.step()

    def epoch(self, row: dict) -> None:
        """After validation, once per epoch; ``row`` holds this epoch's metrics."""
        if self.scheduler is None or self.per_batch:
            return
        if self.monitor is not None:
            self.scheduler.step(row[self.monitor])
        else:
            self.scheduler.step()

    def state_dict(self) -> dict | None:
        return self.scheduler.state_dict() if self.scheduler is not None else None

    def load_state_dict(self, state: dict | None) -> None:
        if self.scheduler is not None and state is not None:
            self.scheduler.load_state_dict(state)


def build_scheduler(section, optimizer: torch.optim.Optimizer, epochs: int,
                    batches_per_epoch: int, monitor: str | None = None) -> Stepper:
    """A :class:`Stepper` for a validated ``scheduler`` section (None: no scheduler).

    Args:
        monitor: the resolved metric name reduce_lr_on_plateau steps on.
    """
    if section is None:
        return Stepper(None)
    scheduler = SCHEDULER_BUILDERS[section.type](optimizer, section, epochs, batches_per_epoch)
    if section.type == "one_cycle":
        return Stepper(scheduler, per_batch=True)
    if section.type == "reduce_lr_on_plateau":
        return Stepper(scheduler, monitor=monitor or section.monitor)
    return Stepper(scheduler)
