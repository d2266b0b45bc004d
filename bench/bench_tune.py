"""``specc tune`` overhead and ``--workers`` speed-up, side by side in one run.

1. Overhead: a tune of K trials against K plain ``specc train`` runs of the same specs
   (the values each trial drew, passed as ``--set``), both as command lines (what a user
   would run) and in-process (the library, no interpreter start-ups: the strict view of
   what Optuna, the study file and the pruner add). K <= 5 keeps the median pruner in its
   start-up phase, so every trial trains all its epochs, as the plain runs do.
   Target: tune / train <= 1.1.
2. ``--workers 2`` against ``--workers 1`` on the same tune (command lines).
   Target: workers 2 faster (ratio < 1). Run it alone on a quiet machine.

Reported: medians over rounds, the alternatives interleaved so that load hits all alike.

    python bench/bench_tune.py                       # diabetes, 5 trials x 20 epochs, 3 rounds
    python bench/bench_tune.py --trials 4 --epochs 10 --rounds 1
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEARCH = ["optimizer.lr=loguniform(1e-4,1e-1)", "model.layers.0.out_features=choice(16,32,64)"]


def _specc(*args: str) -> float:
    """Seconds of one ``python -m specc ...`` command (it must succeed)."""
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "specc", *args],
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - began


def _tune_args(spec: str, out: Path, trials: int, epochs: int, workers: int) -> list[str]:
    searches = [item for s in SEARCH for item in ("--search", s)]
    return [
        "tune",
        spec,
        "--trials",
        str(trials),
        "--epochs",
        str(epochs),
        *searches,
        "--out",
        str(out),
        "--workers",
        str(workers),
        "--quiet",
    ]


def _trial_sets(out: Path, epochs: int) -> list[list[str]]:
    with (out / "trials.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    keys = [s.partition("=")[0] for s in SEARCH]
    return [[f"{k}={row[k]}" for k in keys] + [f"train.epochs={epochs}"] for row in rows]


def cli_round(spec: str, folder: Path, trials: int, epochs: int) -> tuple[float, float]:
    """(tune seconds, seconds of the K equivalent `specc train` commands)."""
    tune_s = _specc(*_tune_args(spec, folder / "tune", trials, epochs, 1))
    train_s = 0.0
    for i, sets in enumerate(_trial_sets(folder / "tune", epochs)):
        args = [item for s in sets for item in ("--set", s)]
        train_s += _specc("train", spec, *args, "--out", str(folder / f"train-{i}"), "--quiet")
    return tune_s, train_s


def library_round(spec_path: str, folder: Path, trials: int, epochs: int) -> tuple[float, float]:
    """The same comparison in this process: :func:`specc.tune.tune` against K
    :func:`specc.train.train` calls."""
    from specc.spec.validate import load_spec
    from specc.train import train
    from specc.tune import TuneConfig, tune

    began = time.perf_counter()
    tune(TuneConfig(spec_path, SEARCH, trials, str(folder / "tune"), epochs=epochs), quiet=True)
    tune_s = time.perf_counter() - began
    spec = load_spec(spec_path)
    began = time.perf_counter()
    for i, sets in enumerate(_trial_sets(folder / "tune", epochs)):
        train(spec, out_dir=folder / f"train-{i}", overrides=sets, quiet=True)
    return tune_s, time.perf_counter() - began


def workers_round(spec: str, folder: Path, trials: int, epochs: int) -> tuple[float, float]:
    """(seconds with --workers 1, seconds with --workers 2)."""
    one = _specc(*_tune_args(spec, folder / "w1", trials, epochs, 1))
    two = _specc(*_tune_args(spec, folder / "w2", trials, epochs, 2))
    return one, two


def _report(name: str, pairs: list[tuple[float, float]], labels: tuple[str, str]) -> None:
    a = statistics.median(p[0] for p in pairs)
    b = statistics.median(p[1] for p in pairs)
    print(f"{name:<28} {labels[0]} {a:7.2f}s  {labels[1]} {b:7.2f}s  ratio {a / b:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="specs/diabetes.yaml")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-workers", action="store_true")
    args = parser.parse_args()
    spec = str((ROOT / args.spec).resolve())
    results: dict[str, list] = {"cli": [], "library": [], "workers": []}
    with tempfile.TemporaryDirectory() as tmp:  # first imports (torch, Optuna) paid here
        library_round(spec, Path(tmp), 1, 1)
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            results["cli"].append(cli_round(spec, Path(tmp) / "cli", args.trials, args.epochs))
            results["library"].append(
                library_round(spec, Path(tmp) / "lib", args.trials, args.epochs)
            )
            if not args.skip_workers:
                results["workers"].append(workers_round(spec, Path(tmp), args.trials, args.epochs))
        print(
            "round:", {k: [f"{s:.2f}" for s in v[-1]] for k, v in results.items() if v}, flush=True
        )
    print(
        f"{args.spec}: {args.trials} trials x {args.epochs} epochs, "
        f"median of {args.rounds} round(s), {os.cpu_count()} CPUs"
    )
    _report("tune vs K x specc train", results["cli"], ("tune", "train"))
    _report("tune() vs K x train()", results["library"], ("tune", "train"))
    if results["workers"]:
        _report("--workers 1 vs --workers 2", results["workers"], ("w1", "w2"))
        print("(workers: ratio > 1 means --workers 2 is faster)")


if __name__ == "__main__":
    main()
