"""The scores of a pass, and the end of a run: final evaluation, ``summary.json``, figures."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from specc.rundir import CURVES_FIGURE, SUMMARY_FILE, write_json
from specc.train.metrics import compute_metrics
from specc.train.setup import Setup

if TYPE_CHECKING:
    from specc.train.loop import Pass

__all__ = ["finish", "scores", "write_summary"]


def scores(setup: Setup, prefix: str, result: Pass) -> tuple[dict, list | None]:
    """``{prefix_loss, prefix_<metric>...}`` of a :class:`~specc.train.loop.Pass`, and its
    confusion matrix as nested lists (None for regression)."""
    pred, target = _finished(setup, result)
    return _scores(setup, prefix, result, pred, target)


def _finished(setup: Setup, result) -> tuple[torch.Tensor, torch.Tensor]:
    """A pass's finished predictions (N, ...) (class indices, or values) and targets (N, ...)."""
    return setup.parts.predictor.finish(result.preds), torch.cat(result.targets)


def _scores(setup: Setup, prefix: str, result, pred, target) -> tuple[dict, list | None]:
    data = setup.data
    values, cm = compute_metrics(
        setup.plan.monitors.metrics, data.task, pred, target, data.num_classes
    )
    row = {f"{prefix}_loss": result.loss(), **{f"{prefix}_{k}": v for k, v in values.items()}}
    return row, (cm.tolist() if cm is not None else None)


def finish(setup: Setup, run_dir: Path, status: str) -> dict:
    """Final confusion matrices, test metrics, ``summary.json`` and ``curves.png``."""
    matrices, test, passes = {}, None, {}
    for name in ("val", "test"):
        if setup.splits[name] is None:
            continue
        result = setup.dist.evaluate(
            setup.parts, setup.splits[name], setup.plan.batch_size, setup.device
        )
        passes[name] = _finished(setup, result)  # (predictions, targets), finished once
        values, cm = _scores(setup, name, result, *passes[name])
        if cm is not None:
            matrices[name] = cm
        if name == "test":
            test = values
    distributed = setup.dist.check_in_sync(setup.parts.model)
    main = setup.dist.is_main
    per_class = _class_report(setup, run_dir, passes) if main else None
    summary = write_summary(setup, run_dir, status, test, matrices, per_class, distributed)
    if setup.state.history and main:
        from specc.train.plots import plot_curves

        metrics = list(setup.plan.monitors.metrics)
        plot_curves(setup.state.history, metrics, run_dir / CURVES_FIGURE)
    return summary


def _class_report(setup: Setup, run_dir: Path, passes: dict) -> dict | None:
    """Classifiers: ``confusion_matrix.png``, ``errors.png`` (image data) and the
    per-class scores of the validation split (the test split without one).

    Args:
        passes: ``{split: (predictions (N,), targets (N,) or (N, 1))}``, finished.
    """
    data = setup.data
    name = "val" if "val" in passes else "test" if "test" in passes else None
    if name is None or data.task not in ("binary", "multiclass"):
        return None
    from specc.report.classes import write_class_report

    (pred, targets), split = passes[name], setup.splits[name]
    x = split.images() if hasattr(split, "images") else split.x  # image_folder: lazily
    classes = data.num_classes or 2
    return {name: write_class_report(run_dir, pred, targets, x, classes, data.class_labels)}


def write_summary(
    setup: Setup,
    run_dir: Path,
    status: str,
    test: dict | None,
    matrices: dict,
    per_class: dict | None = None,
    distributed: dict | None = None,
) -> dict:
    """The run's ``summary.json`` (written by rank 0), returned as a dict."""
    summary = _summary(setup, run_dir, status) | {"test": test, "confusion_matrix": matrices}
    summary["spec_dir"] = str(setup.plan.spec_dir)
    if setup.data.notes is not None:  # image counts, skipped and undecodable files
        failed = sum(getattr(s, "failures", 0) for s in setup.splits.values() if s)
        summary["data"] = {**setup.data.notes, "decode_failures": failed}
    if per_class:  # {split: {class: {precision, recall, f1, support}}}
        summary["per_class"] = per_class
    if distributed is not None:  # world size, backend, per-rank weight hashes
        summary["distributed"] = distributed
    if setup.state.forced:  # --resume --force: what differed from last.pt
        summary["resume_forced"] = list(setup.state.forced)
    if setup.dist.is_main:
        write_json(run_dir / SUMMARY_FILE, summary)
    return summary


def _summary(setup: Setup, run_dir: Path, status: str) -> dict:
    """The fields every summary has, in ``summary.json``'s order (up to ``best``/``final``)."""
    import specc

    plan, data, state = setup.plan, setup.data, setup.state
    history = state.history
    best = next((r for r in history if r["epoch"] == state.best.best_epoch), None)
    return {
        "name": plan.name,
        "status": status,
        "run_dir": str(run_dir),
        "epochs_run": len(history),
        "epochs": plan.epochs,
        "seconds": time.perf_counter() - setup.started,
        "train_seconds": state.train_seconds,
        "device": str(setup.device),
        "precision": setup.precision.name,
        "seed": plan.seed,
        "deterministic": plan.deterministic,
        "torch_version": torch.__version__,
        "specc_version": specc.__version__,
        "data_hash": data.data_hash,
        "task": data.task,
        "num_classes": data.num_classes,
        "class_labels": data.class_labels,
        "monitor": plan.monitors.monitor,
        "mode": plan.monitors.mode,
        "best": dict(best) if best else None,
        "final": dict(history[-1]) if history else None,
    }
