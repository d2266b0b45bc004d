"""Setting up a training run, once: everything :func:`specc.train.session.run` needs.

Order of operations (the standalone train.py reproduces it):

1. ``random.seed(seed)``, ``numpy.random.seed(seed)``, ``torch.manual_seed(seed)``;
   ``torch.use_deterministic_algorithms(True)`` when ``train.deterministic``; under torchrun,
   join the process group.
2. ``prepare_data(spec)``: the split is seeded by ``data.split.seed`` or ``seed``.
3. ``torch.manual_seed(seed)`` again, then ``build_model(spec)`` (so the initial weights do
   not depend on what data preparation drew), loss, optimizer, scheduler.
4. Shuffling uses ``torch.Generator().manual_seed(seed)``; augmentation uses
   ``torch.Generator().manual_seed(seed + 1)`` (:mod:`specc.train.batches`).
5. On resume: check the data and the model against ``last.pt``, then restore weights,
   optimizer, scheduler, generators, trackers and history from it.

Under torchrun (``specc train --nproc N``) every rank sets up the same way;
:mod:`specc.train.distributed` wraps the model in DDP and shards each global batch.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from specc.errors import RunError
from specc.train import checkpoint as ckpt
from specc.train.batches import TrainBatches
from specc.train.device import Precision, resolve_device, resolve_precision
from specc.train.distributed import Distributed
from specc.train.loop import TrainParts
from specc.train.plan import Plan, Tracker, make_plan
from specc.train.resume import upgrade_model_keys

if TYPE_CHECKING:
    from specc.data import PreparedData
    from specc.spec.schema import Spec

__all__ = [
    "ResumeSource",
    "RunPlan",
    "RunState",
    "Setup",
    "checkpoint_state",
    "seed_everything",
    "set_up",
]


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and torch; turn on deterministic algorithms when asked."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


@dataclass(frozen=True)
class RunPlan:
    """What the epoch loop, the checkpoints and the summary read from the spec.

    Attributes:
        monitors: the metrics and the metrics that best/early stopping/plateau monitor.
        text, spec_dir: the spec's text and the folder its data paths are relative to.
    """

    name: str
    seed: int
    deterministic: bool
    epochs: int
    batch_size: int
    monitors: Plan
    text: str
    spec_dir: Path


@dataclass
class RunState:
    """What the epochs change and ``last.pt`` carries besides the weights and optimizer."""

    best: Tracker
    stopper: Tracker | None  # early stopping (None: train every epoch)
    history: list[dict] = field(default_factory=list)  # the metrics.csv rows so far
    train_seconds: float = 0.0
    first_epoch: int = 1  # the next epoch to train (after the restored one)
    forced: list[str] = field(default_factory=list)  # --resume --force: what differed


@dataclass
class Setup:
    """A run ready to train (see the module docstring for how it is built).

    Attributes:
        parts: the plain model, loss, optimizer and scheduler (evaluation, checkpoints).
        train_parts: what trains: ``parts`` in one process; DDP and the sharded loss under
            torchrun (the same parameters, optimizer and scheduler).
        splits: ``train``, ``val``, ``test`` (val/test on the device, or None).
        generators: the ``shuffle`` and ``augment`` generators (checkpointed).
    """

    plan: RunPlan
    dist: Distributed
    device: torch.device
    precision: Precision
    data: PreparedData
    parts: TrainParts
    train_parts: TrainParts
    batches: TrainBatches
    splits: dict
    generators: dict[str, torch.Generator]
    state: RunState
    started: float


class ResumeSource(Protocol):
    """What :func:`set_up` resumes from (``specc.train.api``'s resume plan)."""

    @property
    def state(self) -> dict[str, Any]:
        """The ``last.pt`` checkpoint dict."""
        ...

    @property
    def differences(self) -> list[str]:
        """Spec differences between the checkpoint and this run (allowed by ``--force``)."""
        ...

    def check_session(self, setup: Setup) -> None:
        """Refuse a checkpoint whose data or model does not fit ``setup``."""
        ...


def set_up(
    spec: Spec,
    text: str,
    spec_dir: Path,
    dist: Distributed,
    resume: ResumeSource | None = None,
) -> Setup:
    """Seed, join the process group, load the data, build the model and its training parts,
    and on resume restore them from ``resume.state`` (``last.pt``).

    Args:
        spec: a validated spec with the sections training needs.
        resume: None, or a resume plan with ``state``, ``differences`` and
            ``check_session(setup)`` (refuses a checkpoint that does not fit).
    """
    from specc import build_model
    from specc.data import prepare_data

    started = time.perf_counter()
    assert spec.train is not None and spec.data is not None, "validated: training sections"
    seed_everything(spec.seed, spec.train.deterministic)
    device = dist.setup(resolve_device(spec.train.device))
    precision = resolve_precision(spec.train.precision, device)
    data = prepare_data(spec, spec_dir=spec_dir)
    plan = _run_plan(spec, text, spec_dir, make_plan(spec, data.task, data.val is not None))
    torch.manual_seed(spec.seed)  # the initial weights do not depend on the data preparation
    model = build_model(spec).to(device)
    generators = {
        "shuffle": torch.Generator().manual_seed(spec.seed),
        "augment": torch.Generator().manual_seed(spec.seed + 1),
    }
    splits, batches = _splits(spec, data, generators, dist, device)
    parts = _make_parts(spec, model, device, precision, data.task, plan, batches.per_epoch)
    setup = Setup(
        plan,
        dist,
        device,
        precision,
        data,
        parts,
        dist.wrap(parts),  # DDP + the sharded loss, or parts itself
        batches,
        splits,
        generators,
        _new_state(spec, plan.monitors),
        started,
    )
    if resume is not None:
        upgrade_model_keys(resume.state, spec.graph, set(model.state_dict()))
        resume.check_session(setup)
        _restore(setup, resume.state)
        setup.state.forced = list(resume.differences)
    return setup


def _run_plan(spec: Spec, text: str, spec_dir: Path, monitors: Plan) -> RunPlan:
    train = spec.train
    assert train is not None and spec.data is not None, "validated: training sections"
    return RunPlan(
        spec.name,
        spec.seed,
        train.deterministic,
        train.epochs,
        spec.data.batch_size,
        monitors,
        text,
        spec_dir,
    )


def _splits(spec: Spec, data, generators: dict, dist: Distributed, device: torch.device):
    """``{train, val, test}`` on the device (the training split stays on the CPU when a
    DataLoader loads it), and the :class:`TrainBatches` of the training split."""
    from specc.data.loader import resolve_workers

    assert spec.data is not None, "validated: a data section"
    workers = resolve_workers(spec)  # > 0, or image files: batches from a DataLoader
    lazy = getattr(data.train, "lazy", False)  # image files, decoded by workers
    splits = {"train": data.train if workers or lazy else _on_device(data.train, device, 0)}
    splits |= {name: _on_device(getattr(data, name), device, workers) for name in ("val", "test")}
    batches = TrainBatches(
        splits["train"],
        spec.data.batch_size,
        generators["shuffle"] if spec.data.shuffle else None,
        _augment(spec, generators["augment"], splits["train"] if lazy else None),
        workers,
        lazy,
        dist,
        device,
    )
    return splits, batches


def _on_device(split, device: torch.device, workers: int):
    """The split's tensors on ``device``; image files stay lazy, decoded by ``workers``."""
    if split is None:
        return None
    if getattr(split, "lazy", False):
        split.workers = workers
        return split
    return type(split)(split.x.to(device), split.y.to(device))


def _augment(spec: Spec, generator: torch.Generator, lazy_split):
    """The training augmentation; for image files also / 255 and the stateless steps."""
    from specc.data import make_augment

    augment = make_augment(spec, generator)
    if lazy_split is not None:
        from specc.data.image_split import finisher

        return finisher(lazy_split.steps, augment)
    return augment


def _make_parts(
    spec: Spec,
    model,
    device: torch.device,
    precision: Precision,
    task: str,
    plan: RunPlan,
    batches: int,
) -> TrainParts:
    """Loss, optimizer, scheduler (``batches`` per epoch) and predictor around ``model``."""
    from specc.train.losses import build_loss
    from specc.train.metrics import Predictor
    from specc.train.optim import build_optimizer, build_scheduler

    assert spec.optimizer is not None and spec.loss is not None and spec.train is not None
    optimizer = build_optimizer(spec.optimizer, model.parameters())
    stepper = build_scheduler(
        spec.scheduler, optimizer, plan.epochs, batches, plan.monitors.plateau_monitor
    )
    return TrainParts(
        model,
        build_loss(spec.loss, device),
        optimizer,
        stepper,
        Predictor(task, spec.loss.threshold),
        precision,
        precision.scaler(),
        spec.train.grad_clip,
        spec.loss.reduction == "mean",
    )


def _new_state(spec: Spec, monitors: Plan) -> RunState:
    assert spec.train is not None, "validated: a train section"
    stop = spec.train.early_stopping
    stopper = None
    if stop:
        assert monitors.stop_monitor is not None and monitors.stop_mode is not None
        stopper = Tracker(monitors.stop_monitor, monitors.stop_mode, stop.min_delta, stop.patience)
    return RunState(Tracker(monitors.monitor, monitors.mode), stopper)


# --- the checkpoint state: what last.pt holds, and restoring it ----------------------------


def checkpoint_state(setup: Setup, epoch: int) -> dict:
    """The ``best.pt``/``last.pt`` dict after ``epoch``."""
    data, parts, state, plan = setup.data, setup.parts, setup.state, setup.plan
    return {
        "model": parts.model.state_dict(),
        "optimizer": parts.optimizer.state_dict(),
        "scheduler": parts.stepper.state_dict(),
        "scaler": parts.scaler.state_dict() if parts.scaler is not None else None,
        "epoch": epoch,
        "rng": ckpt.capture_rng(setup.generators),
        "best": state.best.state_dict(),
        "early_stopping": state.stopper.state_dict() if state.stopper else None,
        "history": list(state.history),
        "train_seconds": state.train_seconds,
        "preprocessing": data.preprocessing,
        "spec": plan.text,
        "spec_dir": str(plan.spec_dir),
        "task": data.task,
        "num_classes": data.num_classes,
        "class_labels": data.class_labels,
        "feature_names": data.feature_names,
        "data_hash": data.data_hash,
    }


def _restore(setup: Setup, saved: dict) -> None:
    """Continue from a ``last.pt`` dict: weights, optimizer, scheduler, RNG, best and early
    stopping trackers and the metric history (a RunError when it does not fit)."""
    try:
        _load_state(setup, saved)
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise RunError(
            f"cannot resume from last.pt: its state does not fit "
            f"({type(exc).__name__}: {detail}); nothing was changed"
        ) from None


def _load_state(setup: Setup, saved: dict) -> None:
    parts, state = setup.parts, setup.state
    parts.model.load_state_dict(saved["model"])
    parts.optimizer.load_state_dict(saved["optimizer"])
    parts.stepper.load_state_dict(saved["scheduler"])
    if parts.scaler is not None and saved.get("scaler"):
        parts.scaler.load_state_dict(saved["scaler"])
    state.best.load_state_dict(saved["best"])
    if state.stopper is not None and saved.get("early_stopping"):
        state.stopper.load_state_dict(saved["early_stopping"])
    state.history = list(saved["history"])
    state.train_seconds = saved["train_seconds"]
    state.first_epoch = saved["epoch"] + 1
    ckpt.restore_rng(saved["rng"], setup.generators)
