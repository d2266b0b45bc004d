"""Checkpoints during training: when to write them, and RNG states as plain tensors.

A checkpoint is a dict of tensors and plain Python values, so ``torch.load(path,
weights_only=True)`` reads it (:func:`specc.rundir.load_checkpoint`). It is written to a
temporary file in the same folder and moved into place with ``os.replace``
(:func:`specc.rundir.save_checkpoint`), so a crash or a SIGKILL never leaves a half-written
checkpoint behind (the file is not fsync'ed: the guarantee is against process crashes, not
power loss).

:class:`CheckpointWriter` writes ``best.pt`` and ``last.pt`` at most once per
``interval`` seconds (default 1 s, environment variable ``SPECC_CHECKPOINT_INTERVAL``):
when epochs are shorter than that, it keeps in-memory copies of the newest and the best
state and writes them when the interval has passed and at the end of the run, so a
500-epoch run on three samples does not spend its time writing files. A run killed in
between resumes from the last written epoch, and ends with the same weights.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
import torch

from specc.rundir import BEST_CHECKPOINT, LAST_CHECKPOINT, save_checkpoint

__all__ = ["CheckpointWriter", "capture_rng", "restore_rng"]

INTERVAL_ENV = "SPECC_CHECKPOINT_INTERVAL"


def capture_rng(generators: dict[str, torch.Generator]) -> dict:
    """Every random state a run depends on, as tensors and plain values.

    Python's ``random``, NumPy's global generator, torch's CPU (and CUDA) generators and
    the named ``generators`` (shuffling, augmentation).
    """
    version, internal, gauss = random.getstate()
    # the legacy tuple (the default); numpy's stubs also allow the dict form
    legacy = cast("tuple[str, np.ndarray, int, int, float]", np.random.get_state())
    kind, keys, pos, has_gauss, cached = legacy
    state = {
        "python": {
            "version": version,
            "state": torch.tensor(internal, dtype=torch.int64),
            "gauss": gauss,
        },
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "torch": torch.get_rng_state(),
        "generators": {name: g.get_state() for name, g in generators.items()},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict, generators: dict[str, torch.Generator]) -> None:
    """Put back the states saved by :func:`capture_rng`."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state(
        (
            npy["kind"],
            npy["keys"].numpy().astype(np.uint32),
            npy["pos"],
            npy["has_gauss"],
            npy["cached"],
        )
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    for name, g in generators.items():
        if name in state["generators"]:
            g.set_state(state["generators"][name])


def _clone(value):
    """A deep copy of a checkpoint dict: tensors cloned, containers rebuilt."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return type(value)((k, _clone(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_clone(v) for v in value)
    return value


# The entries of a checkpoint that reference live tensors (the rest is immutable data).
_LIVE = {"model", "optimizer", "scheduler", "scaler", "rng"}


class CheckpointWriter:
    """Writes ``best.pt`` and ``last.pt`` of a run folder, at most once per ``interval``.

    Args:
        folder: the run directory.
        interval: minimum seconds between writes (None: ``SPECC_CHECKPOINT_INTERVAL`` or 1).
    """

    def __init__(self, folder: Path, interval: float | None = None) -> None:
        self.folder = Path(folder)
        self.interval = float(os.environ.get(INTERVAL_ENV, "1.0")) if interval is None else interval
        self.written_at = float("-inf")
        self.pending: dict[str, dict] = {}
        self.last_epoch = 0  # the epoch last.pt holds on disk

    def epoch(self, make_state: Callable[[], dict], improved: bool, final: bool = False) -> None:
        """Record the end of an epoch (``make_state`` builds its checkpoint dict)."""
        state = make_state()
        due = final or time.monotonic() - self.written_at >= self.interval
        if not due:  # keep a copy: training goes on changing the live tensors
            state = {k: _clone(v) if k in _LIVE else v for k, v in state.items()}
        if improved:
            self.pending[BEST_CHECKPOINT] = state
        self.pending[LAST_CHECKPOINT] = state
        if due:
            self.flush()

    def flush(self) -> None:
        """Write whatever is pending (the best state first, then the newest)."""
        for name in (BEST_CHECKPOINT, LAST_CHECKPOINT):
            state = self.pending.pop(name, None)
            if state is not None:
                save_checkpoint(state, self.folder / name)
                if name == LAST_CHECKPOINT:
                    self.last_epoch = state["epoch"]
        self.written_at = time.monotonic()
