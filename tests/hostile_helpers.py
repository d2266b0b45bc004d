"""Helpers of the hostile-input tests: a tiny CSV training spec, the CLI run in-process, and
the checks every hostile case makes (exit status, one clear line, no traceback)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

TINY = """\
version: 1
name: tiny
seed: 1
model:
  input: {shape: [2]}
  layers:
    - {type: linear, out_features: 4}
    - relu
    - {type: linear, out_features: 2}
loss: cross_entropy
optimizer: {type: adam, lr: 0.01}
data:
  source: {type: csv, path: d.csv, target: y}
  batch_size: 8
train: {epochs: 2, device: cpu}
"""


def write_csv(path: Path, rows: int = 32, labels: tuple = ("yes", "no")) -> Path:
    """A CSV of two numeric features ``a, b`` and a text target ``y``."""
    rng = random.Random(0)
    lines = ["a,b,y"] + [
        f"{rng.random():.4f},{rng.random():.4f},{rng.choice(labels)}" for _ in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def tiny_project(folder: Path, text: str = TINY, name: str = "spec.yaml") -> Path:
    """``folder/spec.yaml`` (or ``name``) and its ``d.csv``; returns the spec path."""
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / "d.csv")
    spec = folder / name
    spec.write_text(text, encoding="utf-8")
    return spec


def cli(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """Run ``specc ARGS`` in this process: ``(exit status, stdout, stderr)``."""
    from specc.cli import app
    from specc.commands.common import run_app

    monkeypatch.setattr(sys, "argv", ["specc", *map(str, args)])
    code = run_app(app)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str, *needles: str) -> None:
    """``err`` is one ``error: ...`` line holding each needle, with no traceback."""
    assert "Traceback" not in err, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, (needle, err)
