"""``specc train SPEC``: train a spec into a run directory (see :mod:`specc.train`)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from specc.commands.common import RunError, load_or_exit

_SPEC = typer.Argument(None, help="The spec file (omit with --resume).")
_OUT = typer.Option(None, "--out", help="Exact run folder (default runs/<name>/<timestamp>/).")
_SET = typer.Option(None, "--set", help="Override a spec value: key.path=value (repeatable).")
_RESUME = typer.Option(None, "--resume", help="Continue a run folder from its last.pt.")


def train(
    spec: Path | None = _SPEC,
    out: Path | None = _OUT,
    epochs: int | None = typer.Option(None, "--epochs", help="Override train.epochs."),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N, mps."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Override data.batch_size."),
    lr: float | None = typer.Option(None, "--lr", help="Override optimizer.lr."),
    overrides: list[str] | None = _SET,
    resume: Path | None = _RESUME,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing."),
) -> None:
    """Train a spec: checkpoints, metrics.csv, summary.json and curves.png in a run folder."""
    if (spec is None) == (resume is None):
        raise RunError("give a SPEC to train, or --resume RUN_DIR to continue a run "
                       "(not both)", exit_code=2)
    if resume is not None and out is not None:
        raise RunError("--out cannot be used with --resume (the run folder is RUN_DIR)",
                       exit_code=2)
    sets = [f"{key}={value}" for key, value in (("train.epochs", epochs), ("train.device", device),
                                                ("data.batch_size", batch_size),
                                                ("optimizer.lr", lr)) if value is not None]
    sets += list(overrides or [])
    loaded = load_or_exit(spec) if spec is not None else None
    from specc.train import train as run_training

    result = run_training(loaded, out_dir=out, overrides=sets, resume=resume, quiet=quiet)
    if not quiet:
        sys.stdout.write(_closing(result) + "\n")


def _closing(result) -> str:
    summary = result.summary
    best = summary.get("best") or {}
    shown = "  ".join(f"{k} {v:.4f}" for k, v in best.items()
                      if k.startswith(("val_", "train_")) and isinstance(v, float))
    return (f"{summary['status']}: {summary['epochs_run']} epochs in "
            f"{summary['seconds']:.1f}s; best epoch {best.get('epoch')}: {shown}\n"
            f"run saved to {result.run_dir}")
