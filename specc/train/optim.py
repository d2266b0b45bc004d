"""Optimizers and learning-rate schedulers, and when each scheduler steps.

Stepping rules (the standalone train.py follows the same ones):

- ``one_cycle`` steps after every optimizer step (per batch), with
  ``total_steps = epochs * batches_per_epoch``.
- ``reduce_lr_on_plateau`` steps once per epoch, after validation, with the value of its
  ``monitor`` (default ``val_loss``).
- every other scheduler steps once per epoch, after validation.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import optim
from torch.optim import lr_scheduler as sched

from specc.spec.sections import OptimizerSection, SchedulerSection

__all__ = ["Stepper", "build_optimizer", "build_scheduler"]


def build_optimizer(
    section: OptimizerSection, params: Iterable[torch.nn.Parameter]
) -> optim.Optimizer:
    """The torch optimizer for a validated ``optimizer`` section over ``params``."""
    return getattr(optim, section.torch_class)(params, **section.torch_kwargs())


class Stepper:
    """A scheduler plus the moment it steps.

    Attributes:
        scheduler: the torch scheduler (None when the spec has none).
        per_batch: True for one_cycle (call :meth:`batch` after each optimizer step).
        monitor: the metric reduce_lr_on_plateau watches (None for the others).
    """

    def __init__(
        self,
        scheduler: sched.LRScheduler | sched.ReduceLROnPlateau | None,
        per_batch: bool = False,
        monitor: str | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.per_batch = per_batch
        self.monitor = monitor

    def batch(self) -> None:
        """After each optimizer step (one_cycle only)."""
        # per_batch schedulers step on the batch, never on a metric
        assert self.scheduler is not None and not isinstance(
            self.scheduler, sched.ReduceLROnPlateau
        )
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


def build_scheduler(
    section: SchedulerSection | None,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    batches_per_epoch: int,
    monitor: str | None = None,
) -> Stepper:
    """A :class:`Stepper` for a validated ``scheduler`` section (None: no scheduler).

    Args:
        monitor: the resolved metric name reduce_lr_on_plateau steps on.
    """
    if section is None:
        return Stepper(None)
    kwargs = section.scheduler_kwargs({"epochs": epochs, "total_steps": epochs * batches_per_epoch})
    scheduler = getattr(sched, section.torch_class)(optimizer, **kwargs)
    if section.steps == "batch":
        return Stepper(scheduler, per_batch=True)
    if section.steps == "metric":
        # only the metric-stepped family (reduce_lr_on_plateau) has a monitor field
        return Stepper(scheduler, monitor=monitor or section.monitor)  # type: ignore[attr-defined]
    return Stepper(scheduler)
