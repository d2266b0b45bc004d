"""End-to-end training runs on tiny real data: the run directory, checkpoints, metrics,
reproducibility (same seed, SIGKILL + resume), overrides, early stopping, divergence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fault_entry import FAULT_ENTRY, KILL_HOOK_ENV
from train_helpers import assert_same_weights, one_thread, weights

from specc.errors import RunError, SpecErrors
from specc.rundir import RUN_FILES, load_run
from specc.spec.validate import load_spec
from specc.train import train
from specc.train.checkpoint import INTERVAL_ENV

IRIS = """\
version: 1
name: tiny_iris
seed: 3
model:
  input: {shape: [4]}
  layers:
    - {type: linear, out_features: 16}
    - relu
    - {type: dropout, p: 0.2}
    - {type: linear, out_features: 3}
loss: {type: cross_entropy, label_smoothing: 0.05}
optimizer: {type: sgd, lr: 0.1, momentum: 0.9}
scheduler: {type: step_lr, step_size: 2, gamma: 0.5}
data:
  source: {type: sklearn, name: iris}
  preprocess: [{type: standard_scaler}]
  split: {val: 0.2, test: 0.2, stratify: true}
  batch_size: 16
train:
  epochs: 4
  device: cpu
  metrics: [accuracy, f1]
"""


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def write_spec(folder: Path, text: str = IRIS, name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("iris")
    spec = load_spec(write_spec(folder))
    return train(spec, out_dir=folder / "run", quiet=True)


def test_run_directory_holds_everything(iris_run):
    run = iris_run.run_dir
    expected = {
        "spec.yaml",
        "metrics.csv",
        "summary.json",
        "best.pt",
        "last.pt",
        "curves.png",
        "confusion_matrix.png",
    }  # a classifier
    assert {p.name for p in run.iterdir()} == expected
    assert expected <= RUN_FILES  # the names rundir owns (so --out accepts such a folder)
    lines = (run / "metrics.csv").read_text().splitlines()
    assert lines[0] == (
        "epoch,train_loss,train_accuracy,train_f1,val_loss,val_accuracy,val_f1,lr,seconds"
    )
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "3", "4"]
    assert [float(line.split(",")[-2]) for line in lines[1:]] == [0.1, 0.1, 0.05, 0.05]  # lr used
    summary = json.loads((run / "summary.json").read_text())
    assert summary == iris_run.summary | {"seconds": summary["seconds"]}
    assert summary["epochs_run"] == 4 and summary["status"] == "completed"
    assert summary["device"] == "cpu" and summary["seed"] == 3
    assert summary["torch_version"] == torch.__version__ and summary["data_hash"]
    assert 0 < summary["train_seconds"] <= summary["seconds"]
    assert summary["final"]["epoch"] == 4 and "val_accuracy" in summary["final"]
    history = torch.load(run / "last.pt", weights_only=True)["history"]
    assert summary["best"]["val_loss"] == min(r["val_loss"] for r in history)  # the monitor
    assert set(summary["test"]) == {"test_loss", "test_accuracy", "test_f1"}
    assert summary["final"]["val_accuracy"] > 0.7
    val_cm = summary["confusion_matrix"]["val"]
    assert len(val_cm) == 3 and sum(map(sum, val_cm)) == 30
    assert sum(map(sum, summary["confusion_matrix"]["test"])) == 30


def test_checkpoints_follow_the_contract(iris_run):
    state = torch.load(iris_run.run_dir / "last.pt", weights_only=True)
    for key in (
        "model",
        "optimizer",
        "scheduler",
        "epoch",
        "rng",
        "preprocessing",
        "spec",
        "task",
        "num_classes",
        "class_labels",
        "feature_names",
    ):
        assert key in state, key
    assert state["epoch"] == 4 and state["task"] == "multiclass" and state["num_classes"] == 3
    assert state["spec"] == IRIS
    spec, best = load_run(iris_run.run_dir)
    assert spec.name == "tiny_iris"
    assert best["epoch"] == iris_run.summary["best"]["epoch"]


def test_same_seed_gives_identical_weights(iris_run, tmp_path):
    again = train(load_spec(write_spec(tmp_path)), out_dir=tmp_path / "run", quiet=True)
    assert_same_weights(weights(iris_run.run_dir), weights(again.run_dir))
    assert again.summary["final"] == iris_run.summary["final"] | {
        "seconds": again.summary["final"]["seconds"]
    }


@pytest.mark.slow
def test_sigkill_then_resume_ends_with_the_uninterrupted_weights(iris_run, tmp_path):
    spec_path = write_spec(tmp_path)
    run = tmp_path / "run"
    env = {
        **os.environ,
        KILL_HOOK_ENV: "2",
        "OMP_NUM_THREADS": "1",
        INTERVAL_ENV: "0",
    }  # write last.pt after every epoch, so it holds epoch 2
    proc = subprocess.run(
        [sys.executable, FAULT_ENTRY, "train", str(spec_path), "--out", str(run), "--quiet"],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 2
    assert not (run / "summary.json").exists()
    result = train(resume=run, quiet=True)
    assert result.summary["epochs_run"] == 4
    assert_same_weights(weights(iris_run.run_dir), weights(run))
    rows = (run / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4"]
    assert result.summary["final"]["val_loss"] == iris_run.summary["final"]["val_loss"]


def test_a_spec_without_training_sections_is_a_located_error(tmp_path):
    text = IRIS.split("loss:")[0]
    spec = load_spec(write_spec(tmp_path, text))
    with pytest.raises(SpecErrors) as info:
        train(spec, out_dir=tmp_path / "run", quiet=True)
    messages = [e.message for e in info.value.errors]
    assert messages == [
        f"train needs a '{s}' section" for s in ("loss", "optimizer", "data", "train")
    ]
    assert {(e.line, e.code) for e in info.value.errors} == {(1, "E601")}
    assert not (tmp_path / "run").exists()


def test_overrides_are_applied_and_stored(tmp_path):
    spec = load_spec(write_spec(tmp_path))
    result = train(
        spec,
        out_dir=tmp_path / "run",
        quiet=True,
        overrides=[
            "train.epochs=2",
            "optimizer.lr=0.05",
            "scheduler=exponential_lr",
            "scheduler.gamma=0.5",
            "data.batch_size=32",
        ],
    )
    assert result.summary["epochs_run"] == 2
    stored = load_spec(tmp_path / "run" / "spec.yaml")
    assert stored.optimizer.lr == 0.05 and stored.data.batch_size == 32
    assert stored.scheduler.type == "exponential_lr"
    assert result.summary["final"]["lr"] == pytest.approx(0.025)  # lr used in epoch 2


def test_train_alone_does_not_export_and_hands_the_resolved_spec_on(tmp_path):
    spec = load_spec(write_spec(tmp_path, IRIS + "export: {onnx: {}}\n"))
    seen = []

    def after_training(resolved, run_dir):
        seen.append((resolved.train.epochs, run_dir, (run_dir / "summary.json").is_file()))

    result = train(
        spec,
        out_dir=tmp_path / "run",
        quiet=True,
        overrides=["train.epochs=1"],
        after_training=after_training,
    )
    assert seen == [(1, result.run_dir, True)]
    assert not (result.run_dir / "model.onnx").exists()  # specc.workflow.train exports


def test_a_bad_override_is_located_and_names_the_override(tmp_path):
    spec = load_spec(write_spec(tmp_path))
    with pytest.raises(SpecErrors) as info:
        train(spec, out_dir=tmp_path / "run", quiet=True, overrides=["optimizer.lr=-1"])
    (error,) = info.value.errors
    assert error.message.startswith("--set optimizer.lr=-1: ") and error.code == "E106"
    assert (
        error.line == IRIS.splitlines().index("optimizer: {type: sgd, lr: 0.1, momentum: 0.9}") + 1
    )
    with pytest.raises(SpecErrors, match=r"--set train\.epoch=3: .*did you mean 'epochs'"):
        train(spec, out_dir=tmp_path / "run", quiet=True, overrides=["train.epoch=3"])
    with pytest.raises(RunError, match=r"expected key\.path=value"):
        train(spec, out_dir=tmp_path / "run", quiet=True, overrides=["train.epochs"])


def test_monitor_not_computed_is_a_located_error(tmp_path):
    spec = load_spec(
        write_spec(
            tmp_path,
            IRIS.replace("  metrics: [accuracy, f1]", "  metrics: [accuracy]\n  monitor: val_f1"),
        )
    )
    with pytest.raises(SpecErrors, match="monitor 'val_f1' is not computed") as info:
        train(spec, out_dir=tmp_path / "run", quiet=True)
    assert [e.code for e in info.value.errors] == ["E604"]


def test_early_stopping_stops_and_says_so(tmp_path):
    text = IRIS.replace(
        "  metrics: [accuracy, f1]",
        "  metrics: [accuracy, f1]\n"
        "  monitor: val_accuracy\n"
        "  early_stopping: {monitor: val_loss, patience: 1, min_delta: 10.0}",
    )
    result = train(load_spec(write_spec(tmp_path, text)), out_dir=tmp_path / "run", quiet=True)
    assert result.summary["status"] == "early_stopped"
    assert result.summary["epochs_run"] == 2
    assert result.summary["monitor"] == "val_accuracy" and result.summary["mode"] == "max"


REGRESSION = """\
version: 1
name: line
seed: 0
model:
  input: {shape: [1]}
  layers: [{type: linear, out_features: 1}]
loss: mse
optimizer: {type: sgd, lr: LR}
data:
  source: {type: inline, x: X, y: Y}
  batch_size: 4
  shuffle: false
train: {epochs: EPOCHS, metrics: [mse, mae, r2], device: cpu, deterministic: true}
"""


def regression_spec(folder: Path, lr: float, epochs: int, scale: float = 1.0) -> Path:
    xs = [[scale * (i / 8 - 1)] for i in range(16)]
    text = (
        REGRESSION.replace("LR", str(lr))
        .replace("EPOCHS", str(epochs))
        .replace("X", json.dumps(xs))
        .replace("Y", json.dumps([[2 * x[0]] for x in xs]))
    )
    return write_spec(folder, text)


def test_regression_metrics_and_deterministic_mode(tmp_path):
    result = train(
        load_spec(regression_spec(tmp_path, 0.3, 30)), out_dir=tmp_path / "run", quiet=True
    )
    final = result.summary["final"]
    assert final["train_r2"] > 0.99 and final["train_mse"] == pytest.approx(final["train_loss"])
    assert "val_loss" not in final and result.summary["monitor"] == "train_loss"
    assert not torch.are_deterministic_algorithms_enabled()  # restored after the run


def test_a_diverging_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tmp_path):
    spec = load_spec(regression_spec(tmp_path, 3.0, 50, scale=10.0))
    with pytest.raises(RunError, match=r"train_loss became (nan|inf) at epoch (\d+)") as info:
        train(spec, out_dir=tmp_path / "run", quiet=True)
    epoch = int(info.value.args[0].split("at epoch ")[1].split(";")[0])
    assert epoch > 1
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert state["epoch"] == epoch - 1
    assert all(torch.isfinite(t).all() for t in state["model"].values())
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["epochs_run"] == epoch - 1


def test_cli_trains_and_reports_missing_sections(tmp_path, monkeypatch, capsys):
    from specc.cli import app
    from specc.commands.common import run_app

    spec_path = write_spec(tmp_path)
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "specc",
            "train",
            str(spec_path),
            "--out",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            "--lr",
            "0.05",
        ],
    )
    assert run_app(app) == 0
    out = capsys.readouterr().out
    assert "epoch 1/1" in out and f"run saved to {tmp_path / 'run'}" in out
    assert run_app(app) == 1  # the folder already holds a run
    assert "already holds a run" in capsys.readouterr().err
    bare = write_spec(tmp_path, IRIS.split("loss:")[0], "bare.yaml")
    monkeypatch.setattr(sys, "argv", ["specc", "train", str(bare), "--quiet"])
    assert run_app(app) == 2
    assert f"{bare}:1:1: error[E601]: train needs a 'loss' section" in capsys.readouterr().err


def test_bf16_autocast_trains_on_cpu_and_fp16_is_a_clear_error(tmp_path):
    spec = load_spec(write_spec(tmp_path))
    result = train(
        spec,
        out_dir=tmp_path / "bf16",
        quiet=True,
        overrides=["train.precision=bf16", "train.epochs=2"],
    )
    assert result.summary["precision"] == "bf16"
    assert result.summary["final"]["val_loss"] < 1.2
    with pytest.raises(RunError, match="fp16 needs a GPU"):
        train(spec, out_dir=tmp_path / "fp16", quiet=True, overrides=["train.precision=fp16"])
    assert not (tmp_path / "fp16").exists()  # a failed setup leaves no run folder


def test_one_cycle_steps_every_batch_over_the_whole_run(tmp_path):
    spec = load_spec(write_spec(tmp_path))
    result = train(
        spec,
        out_dir=tmp_path / "run",
        quiet=True,
        overrides=["scheduler={type: one_cycle, max_lr: 0.2}", "train.epochs=3"],
    )
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[1:]
    lrs = [float(r.split(",")[-2]) for r in rows]  # the lr at the start of each epoch
    assert lrs[0] == pytest.approx(0.2 / 25)
    assert lrs[1] > lrs[0] and lrs[2] < lrs[1]
    assert result.summary["epochs_run"] == 3
