"""Training: ``specc train``'s library.

Public API (importing this package does not import torch)::

    result = specc.train.train(spec, out_dir="runs/x", overrides=["optimizer.lr=0.01"])
    result.run_dir, result.summary["best"]["val_accuracy"]
    spec, checkpoint = specc.train.load_run("runs/x")   # specc.rundir.load_run

``train`` does not export: :func:`specc.workflow.train` (what ``specc train`` runs) trains,
then writes ``model.onnx`` when the spec has ``export.onnx``.

See :mod:`specc.train.setup` for the exact order of operations (seeding, split,
shuffling) and :mod:`specc.train.session` for the epoch loop that train.py reproduces.
"""

from __future__ import annotations

from specc.rundir import load_run
from specc.train.api import RunResult, train

__all__ = ["RunResult", "load_run", "train"]
