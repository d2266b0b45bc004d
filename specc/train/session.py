"""A training run's epoch loop over a :class:`~specc.train.setup.Setup`.

In one process it is the loop of the generated train.py, plus checkpoints and logs::

    for epoch in range(first_epoch, epochs + 1):
        train one epoch (specc.train.loop), evaluate the validation split -> the epoch's row
        step a per-epoch scheduler (reduce_lr_on_plateau with its monitor)
        update best/early stopping; write best.pt (when improved) and last.pt; metrics.csv
    evaluate val and test; summary.json; curves.png (specc.train.summary)

Under torchrun every rank runs the same loop on its share of each batch;
:mod:`specc.train.distributed` reduces the metrics, and rank 0 alone writes files.
Callbacks (:mod:`specc.train.callbacks`) are called at each epoch's start and end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

from specc.errors import RunError
from specc.rundir import LAST_CHECKPOINT, METRICS_FILE, MetricsLog
from specc.train.callbacks import installed
from specc.train.checkpoint import CheckpointWriter
from specc.train.loop import train_epoch
from specc.train.progress import make_progress
from specc.train.setup import Setup, checkpoint_state
from specc.train.summary import finish, scores, write_summary

__all__ = ["run"]


class _Diverged(Exception):
    """A loss became NaN or infinite (``name``, ``value``) in ``epoch``."""

    def __init__(self, epoch: int, name: str, value: float) -> None:
        super().__init__(name)
        self.epoch, self.name, self.value = epoch, name, value


def run(
    setup: Setup, run_dir: Path, *, callbacks: Sequence[object] = (), quiet: bool = False
) -> dict:
    """Train from ``setup.state.first_epoch`` to the last epoch (or an early stop), writing
    into ``run_dir``; return the summary (``summary.json``).

    Args:
        callbacks: epoch callbacks (:mod:`specc.train.callbacks`); those installed in this
            process follow them.
    """
    dist, state, epochs = setup.dist, setup.state, setup.plan.epochs
    callbacks = [c for c in [*callbacks, *installed()] if dist.is_main or _every_rank(c)]
    for callback in callbacks:
        getattr(callback, "attach", lambda _: None)(run_dir)
    log, writer = _writers(setup, run_dir)
    progress = make_progress(quiet or not dist.is_main)
    for notice in dist.notices:
        progress.message(f"note: {notice}")
    progress.start(epochs, setup.batches.per_epoch)
    status = "completed"
    try:
        for epoch in range(state.first_epoch, epochs + 1):
            progress.epoch_start(epoch)
            row = _train_and_validate(setup, epoch, progress, callbacks)
            _record(setup, row, log, writer, callbacks)
            progress.epoch_end(epoch, row, row["seconds"])
            if state.stopper is not None and state.stopper.should_stop:
                status = "early_stopped"
                progress.message(
                    f"early stopping: {state.stopper.monitor} has not "
                    f"improved for {state.stopper.patience} epochs"
                )
                break
    except _Diverged as exc:
        writer.flush()  # the newest good state, then a summary that says what happened
        progress.close()
        write_summary(setup, run_dir, "diverged", test=None, matrices={})
        raise _diverged_error(exc, writer.last_epoch, run_dir) from None
    finally:
        writer.flush()  # an interrupted or failed run keeps its newest good state
        progress.close()
        setup.batches.close()  # the DataLoader's persistent workers exit
    return finish(setup, run_dir, status)


def _every_rank(callback) -> bool:
    return getattr(callback, "every_rank", False)


def _writers(setup: Setup, run_dir: Path):
    """``metrics.csv`` (rewritten with the restored history) and the checkpoint writer;
    silent stand-ins on ranks other than 0."""
    names = setup.plan.monitors.metrics
    columns = ["epoch", "train_loss", *(f"train_{m}" for m in names)]
    if setup.splits["val"] is not None:
        columns += ["val_loss", *(f"val_{m}" for m in names)]
    log, writer = setup.dist.writers(
        MetricsLog(run_dir / METRICS_FILE, [*columns, "lr", "seconds"]),
        CheckpointWriter(run_dir),
    )
    writer.last_epoch = setup.state.first_epoch - 1  # the epoch last.pt holds
    log.rewrite(setup.state.history)
    return log, writer


def _train_and_validate(setup: Setup, epoch: int, progress, callbacks) -> dict:
    """Train one epoch, evaluate the validation split, step a per-epoch scheduler.

    Returns:
        the epoch's metrics row: ``epoch``, ``train_*``, ``val_*``, ``lr``, ``seconds``.
    """
    parts, dist = setup.parts, setup.dist
    began = time.perf_counter()
    lr = float(parts.optimizer.param_groups[0]["lr"])  # at the epoch's start
    for callback in callbacks:
        getattr(callback, "epoch_start", lambda _: None)(epoch)
    batches = setup.batches.epoch()
    train_pass = dist.reduce_train(  # global metrics under DDP
        train_epoch(setup.train_parts, batches, setup.device, progress.batch)
    )
    row = {"epoch": epoch, **scores(setup, "train", train_pass)[0]}
    _check_finite(epoch, row, "train_loss")
    if setup.splits["val"] is not None:
        val_pass = dist.evaluate(parts, setup.splits["val"], setup.plan.batch_size, setup.device)
        row |= scores(setup, "val", val_pass)[0]
        _check_finite(epoch, row, "val_loss")
    row["lr"] = lr
    parts.stepper.epoch(row)
    seconds = time.perf_counter() - began
    setup.state.train_seconds += seconds
    row["seconds"] = seconds
    return row


def _check_finite(epoch: int, row: dict, name: str) -> None:
    if not math.isfinite(row[name]):
        raise _Diverged(epoch, name, row[name])


def _record(setup: Setup, row: dict, log, writer, callbacks) -> None:
    """History, best and early stopping; best.pt/last.pt, metrics.csv; then the callbacks."""
    state = setup.state
    state.history.append(row)
    improved = state.best.update(row)
    if state.stopper is not None:
        state.stopper.update(row)
    epoch = row["epoch"]
    final = epoch == setup.plan.epochs or (state.stopper is not None and state.stopper.should_stop)
    writer.epoch(lambda: checkpoint_state(setup, epoch), improved, final)
    log.append(row)
    for callback in callbacks:
        getattr(callback, "epoch", lambda _: None)(row)


def _diverged_error(exc: _Diverged, last_epoch: int, run_dir: Path) -> RunError:
    kept = (
        f"the last good checkpoint (epoch {last_epoch}) is {run_dir / LAST_CHECKPOINT}"
        if last_epoch
        else "no checkpoint was written"
    )
    return RunError(
        f"{exc.name} became {exc.value} at epoch {exc.epoch}; training stopped ({kept}). "
        "Try a lower learning rate or train.grad_clip."
    )
