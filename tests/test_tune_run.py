"""``specc tune`` end to end on a tiny iris spec: the tune folder, best.yaml, pruned invalid
combinations, workers sharing the study, and a killed tune continued without lost or
duplicated trials."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from fault_entry import FAULT_ENTRY, KILL_HOOK_ENV
from PIL import Image
from train_helpers import one_thread, summary
from tune_helpers import LR, WIDTH, EpochLog, trials_csv, write_tiny

from specc.errors import RunError
from specc.spec.validate import load_spec
from specc.train import train
from specc.train.callbacks import install, uninstall
from specc.tune import TuneConfig, tune
from specc.tune.config import monitor_of
from specc.tune.space import parse_search
from specc.tune.study import open_study

ROOT = Path(__file__).resolve().parents[1]
FINISHED = ("COMPLETE", "PRUNED")


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def _config(tmp_path: Path, trials: int, searches=(LR, WIDTH), **kwargs) -> TuneConfig:
    spec = write_tiny(tmp_path)
    return TuneConfig(str(spec), list(searches), trials, str(tmp_path / "tune"), **kwargs)


def test_tune_writes_trials_best_yaml_and_plots(tmp_path) -> None:
    result = tune(_config(tmp_path, trials=3, epochs=2), quiet=True)
    out = result.out_dir
    rows = trials_csv(out)
    assert [r["number"] for r in rows] == ["0", "1", "2"]
    assert all(r["state"] in FINISHED for r in rows)
    for row in rows:  # one run folder per trial, as specc train writes it
        run = Path(row["run_dir"])
        assert run.parent == out / "trials" and (run / "metrics.csv").exists()
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    best_row = min(complete, key=lambda r: float(r["value"]))  # val_loss: minimised
    best = summary(Path(best_row["run_dir"]))
    assert float(best_row["value"]) == pytest.approx(best["best"]["val_loss"], rel=1e-6)
    assert result.best_yaml == out / "best.yaml"
    written = yaml.safe_load(result.best_yaml.read_text())
    assert written["optimizer"]["lr"] == pytest.approx(float(best_row["optimizer.lr"]))
    assert written["model"]["layers"][0]["out_features"] == int(
        best_row["model.layers.0.out_features"]
    )
    for name in ("optimization_history.png", "param_importances.png"):
        with Image.open(out / name) as image:
            image.verify()
    retrained = train(
        load_spec(result.best_yaml),
        out_dir=tmp_path / "again",
        overrides=["train.epochs=2"],
        quiet=True,
    )  # best.yaml trains where it is
    assert retrained.summary["best"]["val_loss"] == pytest.approx(best["best"]["val_loss"])


def test_an_invalid_combination_is_a_pruned_trial_with_its_reason(tmp_path) -> None:
    config = _config(
        tmp_path,
        trials=2,
        epochs=1,
        searches=["data.split.val=choice(0.2,0.6)", "data.split.test=choice(0.2,0.5)"],
    )
    spec = load_spec(config.spec_path)
    Path(config.out).mkdir()
    study = open_study(config, spec, monitor_of(spec))  # the first trial: 0.6 + 0.5 > 1
    study.enqueue_trial({"data.split.val": 0.6, "data.split.test": 0.5})
    study.enqueue_trial({"data.split.val": 0.2, "data.split.test": 0.2})
    tune(config, quiet=True)
    first, second = trials_csv(config.out_dir)
    assert first["state"] == "PRUNED"
    assert first["reason"].startswith("invalid spec: ") and "no training rows" in first["reason"]
    assert second["state"] == "COMPLETE" and float(second["value"]) > 0


@pytest.mark.slow
def test_workers_share_the_study_and_stop_at_n(tmp_path) -> None:
    result = tune(_config(tmp_path, trials=4, epochs=1, workers=2), quiet=True)
    rows = trials_csv(result.out_dir)
    assert sum(r["state"] in FINISHED for r in rows) == 4
    assert len({r["run_dir"] for r in rows}) == len(rows)
    params = {(r["optimizer.lr"], r["model.layers.0.out_features"]) for r in rows}
    assert len(params) == len(rows)  # the two workers' samplers draw different points


@pytest.mark.slow
def test_installed_callbacks_reach_the_worker_processes(tmp_path) -> None:
    log = tmp_path / "epochs.txt"
    callback = EpochLog(log)
    install(callback)
    try:
        tune(_config(tmp_path, trials=2, epochs=2, workers=2), quiet=True)
    finally:
        uninstall(callback)
    lines = [line.split() for line in log.read_text().splitlines()]
    pids = {pid for pid, _ in lines}
    assert str(os.getpid()) not in pids and 1 <= len(pids) <= 2  # only the workers trained
    assert sorted(epoch for _, epoch in lines).count("1") == 2  # each trial's first epoch


def test_a_callback_that_cannot_be_pickled_stops_a_tune_with_workers(tmp_path) -> None:
    callback = EpochLog(tmp_path / "epochs.txt")
    callback.unpicklable = lambda: None
    install(callback)
    try:
        with pytest.raises(RunError, match="cannot reach the tune workers"):
            tune(_config(tmp_path, trials=2, epochs=1, workers=2), quiet=True)
    finally:
        uninstall(callback)
    assert not (tmp_path / "epochs.txt").exists()  # no trial ran
    assert not (tmp_path / "tune" / ".lock").exists()  # the lock was released


def _cli(*args: str, env: dict | None = None, entry=("-m", "specc")) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *entry, "tune", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=300,
    )


def test_a_trial_left_running_is_failed_and_its_values_run_again(tmp_path) -> None:
    """What a killed tune leaves in its study (a RUNNING trial), continued in-process."""
    config = _config(tmp_path, trials=2, epochs=1)
    spec = load_spec(config.spec_path)
    Path(config.out).mkdir()
    study = open_study(config, spec, monitor_of(spec))
    orphan = study.ask(
        {
            s.partition("=")[0]: d.optuna()
            for s, d in ((LR, parse_search(LR).dist), (WIDTH, parse_search(WIDTH).dist))
        }
    )
    tune(config, quiet=True)
    rows = trials_csv(config.out_dir)
    assert rows[0]["state"] == "FAIL" and rows[0]["reason"].startswith("interrupted")
    assert sum(r["state"] in FINISHED for r in rows) == 2 and len(rows) == 3
    assert float(rows[1]["optimizer.lr"]) == orphan.params["optimizer.lr"]


@pytest.mark.slow
def test_a_killed_tune_continues_to_exactly_n_trials(tmp_path) -> None:
    spec, out = write_tiny(tmp_path), tmp_path / "tune"
    args = [str(spec), "--trials", "3", "--epochs", "3", "--search", LR, "--out", str(out)]
    killed = _cli(*args, env={KILL_HOOK_ENV: "2"}, entry=[FAULT_ENTRY])  # trial 0, epoch 2
    assert killed.returncode == -9, killed.stderr
    again = _cli("--resume", str(out))
    assert again.returncode == 0, again.stderr
    assert "trial(s) 0 were interrupted" in again.stdout
    rows = trials_csv(out)
    finished = [r for r in rows if r["state"] in FINISHED]
    assert len(finished) == 3 and len({r["number"] for r in rows}) == len(rows)
    interrupted = [r for r in rows if r["state"] == "FAIL"]
    assert [r["number"] for r in interrupted] == ["0"]
    assert interrupted[0]["reason"].startswith("interrupted")
    retry = rows[1]  # the interrupted values ran again, to the end
    assert retry["optimizer.lr"] == interrupted[0]["optimizer.lr"] and retry["state"] in FINISHED
    assert again.stdout.count("] complete") + again.stdout.count("] pruned") == 3


def test_cli_reports_a_bad_search_at_the_spec_line(tmp_path) -> None:
    spec = write_tiny(tmp_path)
    bad = _cli(
        str(spec),
        "--trials",
        "2",
        "--search",
        "optimizer.lrr=uniform(0.1,0.2)",
        "--out",
        str(tmp_path / "t"),
    )
    assert bad.returncode == 2
    assert f"{spec}:11:" in bad.stderr and "--search optimizer.lrr=uniform(0.1,0.2)" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "t").exists()


@pytest.mark.slow
def test_a_second_tune_into_the_same_out_stops_with_one_line(tmp_path) -> None:
    """Two real `specc tune` processes on one --out: the second one stops at once (exit 1),
    before it touches tune.json or the study; the first one goes on."""
    spec, out = write_tiny(tmp_path), tmp_path / "tune"
    args = [str(spec), "--epochs", "3", "--search", LR, "--out", str(out), "--quiet"]
    first = subprocess.Popen(
        [sys.executable, "-m", "specc", "tune", *args, "--trials", "200"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / "tune.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        stored = (out / "tune.json").read_text()
        second = _cli(*args, "--trials", "3")
        assert first.poll() is None  # the two really overlapped
        assert second.returncode == 1, second.stderr
        assert second.stderr.strip().splitlines() == [
            f"error: another specc tune is using {out}; wait for it to finish or "
            "choose another --out"
        ]
        assert (out / "tune.json").read_text() == stored  # --trials 200 kept, not 3
    finally:
        first.terminate()
        first.communicate(timeout=60)


@pytest.mark.slow
def test_two_tunes_join_one_storage(tmp_path) -> None:
    """Two `specc tune` processes (as on two machines) on one SQLite study via --storage."""
    spec, storage = write_tiny(tmp_path), f"sqlite:///{tmp_path / 'shared.db'}"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "specc",
                "tune",
                str(spec),
                "--trials",
                "6",
                "--epochs",
                "2",
                "--search",
                LR,
                "--storage",
                storage,
                "--out",
                str(tmp_path / f"m{i}"),
                "--quiet",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for i in range(2)
    ]
    assert [p.wait(timeout=600) for p in procs] == [0, 0]
    rows = trials_csv(tmp_path / "m0")  # each process writes the whole study's table
    assert rows == trials_csv(tmp_path / "m1")
    assert sum(r["state"] in FINISHED for r in rows) == 6
    assert {Path(r["run_dir"]).parent.parent.name for r in rows if r["state"] in FINISHED} == {
        "m0",
        "m1",
    }
