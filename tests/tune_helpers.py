"""Shared by the tune and callback tests: a tiny iris spec that trains in well under a
second, and the trials.csv of a tune folder."""

from __future__ import annotations

import csv
from pathlib import Path

TINY = """\
version: 1
name: tiny_tune
seed: 5
model:
  input: {shape: [4]}
  layers:
    - {type: linear, out_features: 8}
    - relu
    - {type: linear, out_features: 3}
loss: cross_entropy
optimizer: {type: adam, lr: 0.01}
data:
  source: {type: sklearn, name: iris}
  preprocess: [{type: standard_scaler}]
  split: {val: 0.3, stratify: true}
  batch_size: 16
train:
  epochs: 3
  device: cpu
  metrics: [accuracy]
"""

LR = "optimizer.lr=loguniform(1e-3,1e-1)"
WIDTH = "model.layers.0.out_features=choice(4,8,16)"


def write_tiny(folder: Path, text: str = TINY) -> Path:
    path = folder / "tiny.yaml"
    path.write_text(text)
    return path


def trials_csv(out: Path) -> list[dict]:
    with (out / "trials.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


class EpochLog:
    """An epoch callback that appends ``<pid> <epoch>`` to a file (picklable, so that
    ``specc tune --workers N`` can hand it to its worker processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def epoch(self, row: dict) -> None:
        import os

        with self.path.open("a") as handle:
            handle.write(f"{os.getpid()} {row['epoch']}\n")
