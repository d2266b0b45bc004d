"""The trainer's extension point (specc.train.callbacks): the order callbacks are called in,
installed callbacks, a callback that fails a run, and no test hooks in the production code."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fault_entry import FAIL_HOOK_ENV, FailAtEpoch, install_faults
from train_helpers import one_thread
from tune_helpers import TINY

from specc.errors import RunError
from specc.spec.validate import load_spec
from specc.train import callbacks, train
from specc.train.checkpoint import INTERVAL_ENV

ROOT = Path(__file__).resolve().parents[1]


class Recorder:
    """Writes down every call it gets."""

    def __init__(self) -> None:
        self.calls: list = []

    def attach(self, run_dir: Path) -> None:
        self.calls.append(("attach", run_dir.name))

    def epoch_start(self, epoch: int) -> None:
        self.calls.append(("start", epoch))

    def epoch(self, row: dict) -> None:
        self.calls.append(("end", row["epoch"], sorted(row)))


@pytest.fixture
def spec(tmp_path):
    (tmp_path / "spec.yaml").write_text(TINY)
    with one_thread():
        yield load_spec(tmp_path / "spec.yaml")


def test_callbacks_see_the_folder_then_each_epoch_start_and_row(spec, tmp_path):
    given, extra = Recorder(), Recorder()
    callbacks.install(extra)
    try:
        train(spec, out_dir=tmp_path / "run", quiet=True, callbacks=[given])
    finally:
        callbacks.uninstall(extra)
    columns = sorted(["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"])
    expected = [("attach", "run")]
    for epoch in (1, 2, 3):
        expected += [("start", epoch), ("end", epoch, sorted([*columns, "lr", "seconds"]))]
    assert given.calls == expected and extra.calls == expected
    assert callbacks.installed() == []


def test_a_callback_that_raises_stops_the_run_and_keeps_the_last_checkpoint(
    spec, tmp_path, monkeypatch
):
    monkeypatch.setenv(INTERVAL_ENV, "0")  # last.pt after every epoch
    with pytest.raises(RunError, match=f"failure injected by {FAIL_HOOK_ENV} at epoch 3"):
        train(spec, out_dir=tmp_path / "run", quiet=True, callbacks=[FailAtEpoch(3)])
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["epoch"] == 2
    assert not (tmp_path / "run" / "summary.json").exists()


def test_the_failing_rank_fault_installs_only_on_its_rank():
    before = callbacks.installed()
    install_faults({FAIL_HOOK_ENV: "1:3", "RANK": "0"})
    assert callbacks.installed() == before
    install_faults({FAIL_HOOK_ENV: "1:3", "RANK": "1"})
    (fault,) = [c for c in callbacks.installed() if c not in before]
    callbacks.uninstall(fault)
    assert isinstance(fault, FailAtEpoch) and fault.at == 3 and fault.every_rank


def test_the_library_holds_no_test_hooks():
    hooks = [p for p in (ROOT / "specc").rglob("*.py") if "SPECC_TEST_" in p.read_text()]
    assert hooks == []
