"""Helpers shared by the training tests: a run's saved weights and summary, bit-identity of
two state_dicts, and one torch thread while tiny models train."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch


def weights(run_dir: Path) -> dict:
    """The model state_dict saved in ``run_dir/last.pt``."""
    return torch.load(run_dir / "last.pt", weights_only=True)["model"]


def summary(run_dir: Path) -> dict:
    """The run's ``summary.json``."""
    return json.loads((run_dir / "summary.json").read_text())


def assert_same_weights(a: dict, b: dict) -> None:
    """The two state_dicts hold the same names and bit-identical tensors."""
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@contextmanager
def one_thread() -> Iterator[None]:
    """Tiny models train fastest on one thread (and the test machine is shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
