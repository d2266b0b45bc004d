"""What a spec asks of a training run, checked before any training: the required sections,
the metrics for the task, and the metrics that best-checkpointing, early stopping and
reduce_lr_on_plateau monitor. Problems are located errors (exit 2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from specc.errors import SpecError, SpecErrors, did_you_mean
from specc.spec.sections import METRICS, ReduceLROnPlateau
from specc.train.metrics import CLASSIFICATION, REGRESSION

if TYPE_CHECKING:
    from specc.spec.schema import Spec

__all__ = ["Plan", "Tracker", "infer_mode", "make_plan", "require_sections"]

_EXAMPLES = {
    "loss": "loss: cross_entropy",
    "optimizer": "optimizer: {type: adam, lr: 0.001}",
    "data": "data: {source: {type: csv, path: data.csv, target: y}, split: {val: 0.2}}",
    "train": "train: {epochs: 10}",
}


def _error(spec, path: tuple, message: str, hint: str | None = None, *, code: str) -> SpecError:
    """A :class:`SpecError` with ``code`` at the key ``path`` of the spec."""
    line, col = spec.positions.locate(path, at_key=True) if spec.positions else (1, 1)
    return SpecError(spec.source_path, line, col, message, path, hint, code=code)


def require_sections(spec: Spec) -> None:
    """Raise located errors for each section training needs and the spec lacks."""
    errors = [
        _error(
            spec,
            (name,),
            f"train needs a '{name}' section",
            f"for example: {example}",
            code="E601",
        )
        for name, example in _EXAMPLES.items()
        if getattr(spec, name) is None
    ]
    outputs = spec.graph.outputs if spec.graph is not None else []
    if len(outputs) > 1:
        errors.append(
            _error(
                spec,
                ("model", "outputs"),
                f"train needs a model with one output; "
                f"this one has {len(outputs)} ({', '.join(outputs)})",
                code="E602",
            )
        )
    if errors:
        raise SpecErrors(errors, spec.source)


def infer_mode(monitor: str) -> str:
    """``min`` for losses and errors (``*_loss``, and each metric whose lower is better,
    ``*_mse``, ``*_mae``), else ``max``."""
    lower = ("loss", *(name for name, m in METRICS.items() if m.better == "min"))
    return "min" if monitor.endswith(lower) else "max"


@dataclass(frozen=True)
class Plan:
    """Resolved training choices.

    Attributes:
        metrics: metric names computed for train, val and test.
        monitor, mode: the metric that picks ``best.pt`` and its direction.
        stop_monitor, stop_mode: early stopping's metric and direction (None: no early stop).
        plateau_monitor: the metric reduce_lr_on_plateau steps on (None: not used).
    """

    metrics: tuple[str, ...]
    monitor: str
    mode: str
    stop_monitor: str | None = None
    stop_mode: str | None = None
    plateau_monitor: str | None = None


def make_plan(spec: Spec, task: str, has_val: bool) -> Plan:
    """Check metrics and monitors against the task and the splits; raise located errors."""
    assert spec.train is not None, "require_sections() checked the train section"
    classification = task in ("binary", "multiclass")
    allowed = CLASSIFICATION if classification else REGRESSION
    names = tuple(spec.train.metrics) or (("accuracy",) if classification else ())
    errors = [
        _error(
            spec,
            ("train", "metrics", i),
            f"metric '{m}' needs a "
            f"{'regression' if classification else 'classification'} target, but this "
            f"spec's data is {task}; use {', '.join(allowed)}",
            code="E603",
        )
        for i, m in enumerate(spec.train.metrics)
        if m not in allowed
    ]
    available = ["train_loss", *(f"train_{m}" for m in names)]
    if has_val:
        available += ["val_loss", *(f"val_{m}" for m in names)]
    fallback = "val_loss" if has_val else "train_loss"

    def pick(section, path: tuple) -> str:
        if "monitor" not in section.model_fields_set:
            return fallback
        if section.monitor not in available:
            why = (
                ""
                if has_val or not section.monitor.startswith("val_")
                else " (the data has no validation split; add data.split.val)"
            )
            errors.append(
                _error(
                    spec,
                    (*path, "monitor"),
                    f"monitor '{section.monitor}' is not "
                    f"computed{why}{did_you_mean(section.monitor, available)}; "
                    f"available: {', '.join(available)}",
                    code="E604",
                )
            )
        return section.monitor

    monitor = pick(spec.train, ("train",))
    stop = spec.train.early_stopping
    stop_monitor: str | None = None
    stop_mode: str | None = None
    if stop:
        stop_monitor = pick(stop, ("train", "early_stopping"))
        stop_mode = stop.mode if "mode" in stop.model_fields_set else infer_mode(stop_monitor)
    plateau = spec.scheduler if isinstance(spec.scheduler, ReduceLROnPlateau) else None
    plateau_monitor = pick(plateau, ("scheduler",)) if plateau else None
    if errors:
        raise SpecErrors(errors, spec.source)
    return Plan(names, monitor, infer_mode(monitor), stop_monitor, stop_mode, plateau_monitor)


class Tracker:
    """The best value of a monitored metric, and how many epochs since it improved.

    An epoch improves on the best when it is better by more than ``min_delta`` (``mode``
    min: ``value < best - min_delta``; max: ``value > best + min_delta``).
    """

    def __init__(
        self, monitor: str, mode: str, min_delta: float = 0.0, patience: int | None = None
    ) -> None:
        self.monitor, self.mode, self.min_delta, self.patience = monitor, mode, min_delta, patience
        self.best: float | None = None
        self.best_epoch = 0
        self.bad_epochs = 0

    def update(self, row: dict) -> bool:
        """Record one epoch's row; True when it is the new best."""
        value = row[self.monitor]
        better = self.best is None or (
            value < self.best - self.min_delta
            if self.mode == "min"
            else value > self.best + self.min_delta
        )
        if better:
            self.best, self.best_epoch, self.bad_epochs = value, row["epoch"], 0
        else:
            self.bad_epochs += 1
        return better

    @property
    def should_stop(self) -> bool:
        """Patience is used up (always False without patience)."""
        return self.patience is not None and self.bad_epochs >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.bad_epochs = state["bad_epochs"]
