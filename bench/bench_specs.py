"""Train every shipped spec and check it against its accuracy target.

Prints a table: spec, epochs run, wall seconds (``summary.json``'s ``seconds``: data,
model, training, evaluation and plots), the metric, its target and pass/fail. A spec
without the sections training needs (alexnet: no data) is listed as skipped.

    python bench/bench_specs.py                 # every spec in specs/
    python bench/bench_specs.py lenet rnn       # some of them
    python bench/bench_specs.py --threads 2     # the 2-core setting of the targets
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

import specc
from specc.train import train

ROOT = Path(__file__).resolve().parent.parent
TIME_LIMIT = 60.0

# spec name -> (metric key in summary["final"], minimum)
TARGETS = {
    "lenet": ("val_accuracy", 0.98),
    "mnist_softmax": ("val_accuracy", 0.90),
    "diabetes": ("val_accuracy", 0.75),
    "titanic": ("val_accuracy", 0.80),
    "digits_cnn": ("val_accuracy", 0.97),
    "rnn": ("val_accuracy", 0.95),
}


def line_fit(run_dir: Path) -> tuple[float, bool]:
    """Largest error of the learned (w, b) against (2, 0) and whether it is within 0.01."""
    state = torch.load(run_dir / "last.pt", weights_only=True)["model"]
    w, b = (t.reshape(-1)[0].item() for t in state.values())
    error = max(abs(w - 2.0), abs(b))
    return error, error <= 0.01


def bench(path: Path) -> tuple:
    spec = specc.load_spec(path)
    if spec.loss is None or spec.data is None or spec.optimizer is None:
        return (path.stem, "-", "-", "skipped: no loss/optimizer/data section", "-", "-")
    with tempfile.TemporaryDirectory() as folder:
        result = train(spec, out_dir=Path(folder) / "run", quiet=True, overrides=["export=null"])
        summary = result.summary
        if path.stem == "linear_regression":
            error, ok = line_fit(result.run_dir)
            metric, target = f"max |(w,b)-(2,0)| = {error:.4f}", "<= 0.01"
        elif path.stem in TARGETS:
            key, minimum = TARGETS[path.stem]
            value = summary["final"][key]
            metric, target, ok = f"{key} = {value:.4f}", f">= {minimum}", value >= minimum
        else:
            shown = {k: v for k, v in summary["final"].items() if k.startswith("val_")}
            metric = ", ".join(f"{k} = {v:.4f}" for k, v in shown.items())
            target, ok = "(none)", True
    seconds = summary["seconds"]
    passed = ok and seconds <= TIME_LIMIT
    return (
        path.stem,
        summary["epochs_run"],
        f"{seconds:.1f}",
        metric,
        target,
        "pass" if passed else ("FAIL (time)" if ok else "FAIL"),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="spec names (default: all in specs/)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    paths = [ROOT / "specs" / f"{n}.yaml" for n in args.names] or sorted(
        (ROOT / "specs").glob("*.yaml")
    )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    rows = [("spec", "epochs", "seconds", "metric (final epoch)", "target", "result")]
    for path in paths:
        rows.append(bench(path))
        print("  ".join(str(c) for c in rows[-1]), file=sys.stderr, flush=True)
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    return 0 if all(r[-1] in ("pass", "-") for r in rows[1:]) else 1


if __name__ == "__main__":
    sys.exit(main())
