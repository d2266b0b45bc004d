"""``specc tune SPEC --trials N --search KEY=DIST ...``: hyperparameter search
(see :mod:`specc.tune`)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from specc.commands.common import RunError

_SPEC = typer.Argument(None, help="The spec file (omit with --resume).")
_SEARCH = typer.Option(
    None,
    "--search",
    help="KEY=DIST: a --set key path and loguniform(a,b), "
    "uniform(a,b), int(a,b) or choice(v1,v2,...) (repeatable).",
)
_OUT = typer.Option(
    None,
    "--out",
    help="The tune folder (default runs/<name>/tune-<timestamp>/); an existing one is continued.",
)
_STORAGE = typer.Option(
    None,
    "--storage",
    help="Optuna RDB storage URL shared by several "
    "machines (postgresql://..., mysql://..., sqlite:///...).",
)
_RESUME = typer.Option(None, "--resume", help="Continue the tune in this folder.")


def tune(
    spec: Path | None = _SPEC,
    trials: int | None = typer.Option(None, "--trials", min=1, help="Finished trials wanted."),
    search: list[str] | None = _SEARCH,
    out: Path | None = _OUT,
    workers: int = typer.Option(1, "--workers", min=1, help="Trials run at once here."),
    storage: str | None = _STORAGE,
    timeout: float | None = typer.Option(
        None, "--timeout", min=0, help="Start no trial after this many seconds."
    ),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="train.epochs per trial."),
    resume: Path | None = _RESUME,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing."),
) -> None:
    """Search hyperparameters with Optuna: one run folder per trial, trials.csv, best.yaml."""
    from specc.tune import default_out
    from specc.tune import tune as run_tune

    config = _config(spec, trials, search, out, storage, epochs, resume, default_out)
    config.workers, config.timeout = workers, timeout
    result = run_tune(config, quiet=quiet)
    if not quiet:
        shown = ", ".join(f"{n} {s.lower()}" for s, n in sorted(result.states.items()))
        best = f"; best spec: {result.best_yaml}" if result.best_yaml else ""
        sys.stdout.write(f"tune finished: {shown}{best}\ntune saved to {result.out_dir}\n")


def _config(spec, trials, search, out, storage, epochs, resume, default_out):
    from specc.tune import TuneConfig

    if resume is not None:
        if spec is not None or search or out is not None:
            raise RunError(
                "--resume DIR continues the tune stored in DIR; give no SPEC, "
                "--search or --out with it",
                exit_code=2,
            )
        return TuneConfig.load(resume, trials=trials, storage=storage, epochs=epochs)
    if spec is None:
        raise RunError("give a SPEC to tune, or --resume DIR to continue a tune", exit_code=2)
    if not search:
        raise RunError(
            "give at least one --search KEY=DIST, for example "
            "--search 'optimizer.lr=loguniform(1e-4,1e-1)'",
            exit_code=2,
        )
    if trials is None:
        raise RunError("give --trials N (the number of finished trials wanted)", exit_code=2)
    if out is None:
        from specc.commands.common import load_or_exit

        out = default_out(load_or_exit(spec).name)
    return TuneConfig(str(spec), list(search), trials, str(out), storage, epochs)
