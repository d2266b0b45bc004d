"""A whole training run: setup, the epoch loop, checkpoints, the run directory, the summary.

Order of operations (the standalone train.py reproduces it):

1. ``random.seed(seed)``, ``numpy.random.seed(seed)``, ``torch.manual_seed(seed)``;
   ``torch.use_deterministic_algorithms(True)`` when ``train.deterministic``.
2. ``prepare_data(spec)``: the split is seeded by ``data.split.seed`` or ``seed``.
3. ``torch.manual_seed(seed)`` again, then ``build_model(spec)`` (so the initial weights do
   not depend on what data preparation drew), loss, optimizer, scheduler.
4. Shuffling uses ``torch.Generator().manual_seed(seed)``; augmentation uses
   ``torch.Generator().manual_seed(seed + 1)``. Both states are checkpointed. With
   ``data.num_workers > 0`` the training batches come from a DataLoader with that many
   workers (:mod:`specc.data.loader`) in the same order, with the same augmentation, so the
   weights are identical to ``num_workers: 0``.
5. Each epoch: train (see :mod:`specc.train.loop`), evaluate on the validation split,
   compute metrics, step a per-epoch scheduler (reduce_lr_on_plateau with its monitor),
   update best/early stopping, write ``best.pt`` (when improved) and ``last.pt``, append
   to ``metrics.csv``.
6. At the end: evaluate the final model on the test split, write ``summary.json`` and
   ``curves.png``.

Under torchrun (``specc train --nproc N``) the same steps run on every rank;
:mod:`specc.train.distributed` shards each global batch, wraps the model in DDP, reduces the
metrics, and lets rank 0 alone write files.
"""

from __future__ import annotations

import math
import os
import random
import signal
import time
from pathlib import Path

import numpy as np
import torch

from specc.data.loader import resolve_workers
from specc.errors import RunError
from specc.rundir import MetricsLog, write_json
from specc.train import checkpoint as ckpt
from specc.train.device import resolve_device, resolve_precision
from specc.train.distributed import Distributed
from specc.train.loop import Step, train_epoch
from specc.train.losses import build_loss
from specc.train.metrics import Predictor, compute_metrics
from specc.train.optim import build_optimizer, build_scheduler
from specc.train.plan import Tracker, make_plan
from specc.train.progress import make_progress

__all__ = ["KILL_HOOK_ENV", "Session", "seed_everything"]

# Test-only hook: when set to k, the process SIGKILLs itself right after epoch k's
# checkpoint and metrics row are written (proves that --resume is exact).
KILL_HOOK_ENV = "SPECC_TEST_SIGKILL_AFTER_EPOCH"


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and torch; turn on deterministic algorithms when asked."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


def _on_device(split, device, workers: int):
    if split is None:
        return None
    if getattr(split, "lazy", False):  # image files: decoded in chunks by `workers` workers
        split.workers = workers
        return split
    return type(split)(split.x.to(device), split.y.to(device))


class Session:
    """One training run (new or resumed) over a validated spec with the needed sections."""

    def __init__(
        self,
        spec,
        text: str,
        spec_dir: Path,
        quiet: bool,
        dist: Distributed | None = None,
        callbacks=(),
    ) -> None:
        from specc import build_model
        from specc.data import prepare_data

        self.spec, self.text, self.spec_dir = spec, text, spec_dir
        self.dist = dist or Distributed()  # torchrun's ranks (a no-op in one process)
        self.started = time.perf_counter()
        train = spec.train
        seed_everything(spec.seed, train.deterministic)
        self.device = self.dist.setup(resolve_device(train.device))
        self.precision = resolve_precision(train.precision, self.device)
        self.data = prepare_data(spec, spec_dir=spec_dir)
        self.plan = make_plan(spec, self.data.task, self.data.val is not None)
        self.batches = math.ceil(len(self.data.train) / spec.data.batch_size)  # per epoch
        torch.manual_seed(spec.seed)
        model = build_model(spec).to(self.device)
        self.workers = resolve_workers(spec)  # > 0, or image files: batches from a DataLoader
        self.lazy = getattr(self.data.train, "lazy", False)  # image files, decoded by workers
        workers = self.workers or self.lazy
        self.splits = {
            name: getattr(self.data, name)
            if name == "train" and workers
            else _on_device(getattr(self.data, name), self.device, self.workers)
            for name in ("train", "val", "test")
        }
        self.step = self._make_step(model)
        self.train_step = self.dist.wrap(self.step)  # DDP + the sharded loss, or self.step
        self.generators = {
            "shuffle": torch.Generator().manual_seed(spec.seed),
            "augment": torch.Generator().manual_seed(spec.seed + 1),
        }
        self.augment = self._augment()
        self.loader = self._loader() if workers else None
        self.best = Tracker(self.plan.monitor, self.plan.mode)
        stop = train.early_stopping
        self.stopper = (
            Tracker(self.plan.stop_monitor, self.plan.stop_mode, stop.min_delta, stop.patience)
            if stop
            else None
        )
        self.history: list[dict] = []
        # per-epoch observers (loggers, a tuner's pruner): .epoch(row) on rank 0 only
        self.callbacks = list(callbacks) if self.dist.is_main else []
        self.distributed: dict | None = None
        self.train_seconds = 0.0
        self.first_epoch = 1
        self.progress = make_progress(quiet or not self.dist.is_main)
        for notice in self.dist.notices:
            self.progress.message(f"note: {notice}")

    def attach(self, run_dir: Path) -> None:
        """Write into ``run_dir`` (made once the whole setup has succeeded)."""
        self.run_dir = run_dir
        self.log, self.writer = self.dist.writers(  # silent on ranks other than 0
            MetricsLog(run_dir / "metrics.csv", self._columns()), ckpt.CheckpointWriter(run_dir)
        )

    def _make_step(self, model) -> Step:
        spec = self.spec
        optimizer = build_optimizer(spec.optimizer, model.parameters())
        stepper = build_scheduler(
            spec.scheduler, optimizer, spec.train.epochs, self.batches, self.plan.plateau_monitor
        )
        return Step(
            model,
            build_loss(spec.loss, self.device),
            optimizer,
            stepper,
            Predictor(self.data.task, spec.loss.threshold),
            self.precision,
            self.precision.scaler(),
            spec.train.grad_clip,
            spec.loss.reduction == "mean",
        )

    def _augment(self):
        """The training augmentation; for image files also / 255 and the stateless steps."""
        from specc.data import make_augment

        augment = make_augment(self.spec, self.generators["augment"])
        if self.lazy:
            from specc.data.image_split import finisher

            return finisher(self.splits["train"].steps, augment)
        return augment

    def _loader(self):
        """The DataLoader of the training split (CPU tensors), in the in-memory path's order."""
        from specc.data.loader import make_loader

        data = self.spec.data
        return make_loader(
            self.splits["train"],
            data.batch_size,
            num_workers=self.workers,
            generator=self.generators["shuffle"] if data.shuffle else None,
            world=self.dist.world,
            rank=self.dist.rank,
            pin_memory=self.device.type == "cuda",
        )

    def _train_batches(self):
        """This epoch's training ``(x, y)`` batches: this rank's share of each global batch."""
        from specc.data import iter_batches
        from specc.data.loader import loaded_batches

        if self.loader is not None:
            loaded = loaded_batches(self.loader, self.device, self.augment)
            if self.lazy:
                loaded = self.splits["train"].watch(loaded)
            return self.dist.take_shares(loaded)
        data = self.spec.data
        return self.dist.shard(
            iter_batches(
                self.splits["train"],
                data.batch_size,
                augment=self.augment,
                generator=self.generators["shuffle"] if data.shuffle else None,
            )
        )

    def _columns(self) -> list[str]:
        names = self.plan.metrics
        columns = ["epoch", "train_loss", *(f"train_{m}" for m in names)]
        if self.splits["val"] is not None:
            columns += ["val_loss", *(f"val_{m}" for m in names)]
        return [*columns, "lr", "seconds"]

    # --- resume -------------------------------------------------------------------------

    def restore(self, state: dict) -> None:
        """Continue from a ``last.pt`` checkpoint: weights, optimizer, scheduler, RNG,
        best/early-stopping trackers and the metric history."""
        self.step.model.load_state_dict(state["model"])
        self.step.optimizer.load_state_dict(state["optimizer"])
        self.step.stepper.load_state_dict(state["scheduler"])
        if self.step.scaler is not None and state.get("scaler"):
            self.step.scaler.load_state_dict(state["scaler"])
        self.best.load_state_dict(state["best"])
        if self.stopper is not None and state.get("early_stopping"):
            self.stopper.load_state_dict(state["early_stopping"])
        self.history = list(state["history"])
        self.train_seconds = state["train_seconds"]
        self.first_epoch = state["epoch"] + 1
        self.writer.last_epoch = state["epoch"]  # call attach() first
        ckpt.restore_rng(state["rng"], self.generators)

    # --- the epoch loop -----------------------------------------------------------------

    def run(self) -> dict:
        """Train from ``first_epoch`` to ``train.epochs`` (or an early stop); return the
        summary."""
        epochs = self.spec.train.epochs
        self.log.rewrite(self.history)
        self.progress.start(epochs, self.batches)
        status = "completed"
        try:
            for epoch in range(self.first_epoch, epochs + 1):
                self._one_epoch(epoch)
                if self.stopper is not None and self.stopper.should_stop:
                    status = "early_stopped"
                    self.progress.message(
                        f"early stopping: {self.stopper.monitor} has not "
                        f"improved for {self.stopper.patience} epochs"
                    )
                    break
        finally:
            self.writer.flush()  # an interrupted or failed run keeps its newest good state
            self.progress.close()
            self.loader = None  # its persistent workers exit
        return self.finish(status)

    def _one_epoch(self, epoch: int) -> None:
        """Train, validate, step a per-epoch scheduler, then checkpoint and log."""
        self.progress.epoch_start(epoch)
        began = time.perf_counter()
        lr = float(self.step.optimizer.param_groups[0]["lr"])  # at the epoch's start
        self.dist.fail_hook(epoch)
        train_pass = self.dist.reduce_train(
            train_epoch(  # global metrics under DDP
                self.train_step, self._train_batches(), self.device, self.progress.batch
            )
        )
        row = self._epoch_row(epoch, train_pass) | {"lr": lr}
        self.step.stepper.epoch(row)
        seconds = time.perf_counter() - began
        self.train_seconds += seconds
        row["seconds"] = seconds
        self._end_epoch(row)
        self.progress.epoch_end(epoch, row, seconds)

    def _epoch_row(self, epoch: int, train_pass) -> dict:
        row = {"epoch": epoch, **self._scores("train", train_pass)[0]}
        if not math.isfinite(row["train_loss"]):
            self._diverged(epoch, "train_loss", row["train_loss"])
        if self.splits["val"] is not None:
            val_pass = self.dist.evaluate(
                self.step, self.splits["val"], self.spec.data.batch_size, self.device
            )
            row.update(self._scores("val", val_pass)[0])
            if not math.isfinite(row["val_loss"]):
                self._diverged(epoch, "val_loss", row["val_loss"])
        return row

    def _scores(self, prefix: str, result) -> tuple[dict, list | None]:
        pred = self.step.predictor.finish(result.preds)
        target = torch.cat(result.targets)
        scores, cm = compute_metrics(
            self.plan.metrics, self.data.task, pred, target, self.data.num_classes
        )
        row = {f"{prefix}_loss": result.loss(), **{f"{prefix}_{k}": v for k, v in scores.items()}}
        return row, (cm.tolist() if cm is not None else None)

    def _end_epoch(self, row: dict) -> None:
        self.history.append(row)
        improved = self.best.update(row)
        if self.stopper is not None:
            self.stopper.update(row)
        final = row["epoch"] == self.spec.train.epochs or (
            self.stopper is not None and self.stopper.should_stop
        )
        self.writer.epoch(lambda: self._checkpoint(row["epoch"]), improved, final)
        self.log.append(row)
        for callback in self.callbacks:
            callback.epoch(row)
        if os.environ.get(KILL_HOOK_ENV) == str(row["epoch"]):
            os.kill(os.getpid(), signal.SIGKILL)

    def _diverged(self, epoch: int, name: str, value: float) -> None:
        self.writer.flush()
        kept = (
            f"the last good checkpoint (epoch {self.writer.last_epoch}) is "
            f"{self.run_dir / 'last.pt'}"
            if self.writer.last_epoch
            else "no checkpoint was written"
        )
        self.progress.close()
        self._write_summary("diverged", test=None, matrices={})
        raise RunError(
            f"{name} became {value} at epoch {epoch}; training stopped ({kept}). "
            "Try a lower learning rate or train.grad_clip."
        )

    def _checkpoint(self, epoch: int) -> dict:
        data, step = self.data, self.step
        return {
            "model": step.model.state_dict(),
            "optimizer": step.optimizer.state_dict(),
            "scheduler": step.stepper.state_dict(),
            "scaler": step.scaler.state_dict() if step.scaler is not None else None,
            "epoch": epoch,
            "rng": ckpt.capture_rng(self.generators),
            "best": self.best.state_dict(),
            "early_stopping": self.stopper.state_dict() if self.stopper else None,
            "history": list(self.history),
            "train_seconds": self.train_seconds,
            "preprocessing": data.preprocessing,
            "spec": self.text,
            "spec_dir": str(self.spec_dir),
            "task": data.task,
            "num_classes": data.num_classes,
            "class_labels": data.class_labels,
            "feature_names": data.feature_names,
            "data_hash": data.data_hash,
        }

    # --- the end of a run ---------------------------------------------------------------

    def finish(self, status: str) -> dict:
        """Final confusion matrices, test metrics, ``summary.json`` and ``curves.png``."""
        matrices, test, passes = {}, None, {}
        for name in ("val", "test"):
            if self.splits[name] is None:
                continue
            passes[name] = self.dist.evaluate(
                self.step, self.splits[name], self.spec.data.batch_size, self.device
            )
            scores, cm = self._scores(name, passes[name])
            if cm is not None:
                matrices[name] = cm
            if name == "test":
                test = scores
        self.distributed = self.dist.check_in_sync(self.step.model)
        per_class = self._class_report(passes) if self.dist.is_main else None
        summary = self._write_summary(status, test, matrices, per_class)
        if self.history and self.dist.is_main:
            from specc.train.plots import plot_curves

            plot_curves(self.history, list(self.plan.metrics), self.run_dir / "curves.png")
        return summary

    def _class_report(self, passes: dict) -> dict | None:
        """Classifiers: ``confusion_matrix.png``, ``errors.png`` (image data) and the
        per-class scores of the validation split (the test split without one)."""
        name = "val" if "val" in passes else "test" if "test" in passes else None
        if name is None or self.data.task not in ("binary", "multiclass"):
            return None
        from specc.report.classes import write_class_report

        result, split = passes[name], self.splits[name]
        pred = self.step.predictor.finish(result.preds)
        x = split.images() if hasattr(split, "images") else split.x  # image_folder: lazily
        return {
            name: write_class_report(
                self.run_dir,
                pred,
                torch.cat(result.targets),
                x,
                self.data.num_classes or 2,
                self.data.class_labels,
            )
        }

    def _write_summary(
        self, status: str, test: dict | None, matrices: dict, per_class: dict | None = None
    ) -> dict:
        import specc

        history = self.history
        best = next((r for r in history if r["epoch"] == self.best.best_epoch), None)
        summary = {
            "name": self.spec.name,
            "status": status,
            "run_dir": str(self.run_dir),
            "epochs_run": len(history),
            "epochs": self.spec.train.epochs,
            "seconds": time.perf_counter() - self.started,
            "train_seconds": self.train_seconds,
            "device": str(self.device),
            "precision": self.precision.name,
            "seed": self.spec.seed,
            "deterministic": self.spec.train.deterministic,
            "torch_version": torch.__version__,
            "specc_version": specc.__version__,
            "data_hash": self.data.data_hash,
            "task": self.data.task,
            "num_classes": self.data.num_classes,
            "class_labels": self.data.class_labels,
            "monitor": self.plan.monitor,
            "mode": self.plan.mode,
            "best": dict(best) if best else None,
            "final": dict(history[-1]) if history else None,
            "test": test,
            "confusion_matrix": matrices,
            "spec_dir": str(self.spec_dir),
        }
        if self.data.notes is not None:  # image counts, skipped and undecodable files
            failed = sum(getattr(s, "failures", 0) for s in self.splits.values() if s)
            summary["data"] = {**self.data.notes, "decode_failures": failed}
        if per_class:  # {split: {class: {precision, recall, f1, support}}}
            summary["per_class"] = per_class
        if self.distributed is not None:  # world size, backend, per-rank weight hashes
            summary["distributed"] = self.distributed
        if getattr(self, "forced", None):  # --resume --force: what differed from last.pt
            summary["resume_forced"] = list(self.forced)
        if self.dist.is_main:
            write_json(self.run_dir / "summary.json", summary)
        return summary
