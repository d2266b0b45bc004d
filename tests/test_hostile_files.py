"""Hostile and careless uses of run folders and output paths: no lost file, no silent resume.

Classes covered here (see also test_hostile_limits.py and test_hostile_cli.py):

- lost or overwritten files: --out onto a user's folder or beside the spec, --out '', an
  output path equal to an input (also through a hard link), a planted symlink, two runs on
  one folder, the umask of written files, --resume --set rewriting spec.yaml;
- resume safety: an edited spec.yaml, a --set width, changed data, checkpoints of the wrong
  structure, garbage or truncated, --force recorded in summary.json, and a fuzz of run
  folders (each run file deleted, truncated, garbage, or a folder) under --resume and export.
"""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest
import torch
from hostile_helpers import TINY, cli, one_error_line, tiny_project, write_csv
from train_helpers import one_thread

from specc.rundir import lock_run_dir
from specc.spec.validate import load_spec
from specc.train import train


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A project folder with a finished two-epoch run in ``run/``."""
    folder = tmp_path_factory.mktemp("project")
    spec = tiny_project(folder)
    train(load_spec(spec), out_dir=folder / "run", quiet=True)
    return folder


@pytest.fixture
def project(finished, tmp_path):
    """A private copy of the finished project (tests may damage it)."""
    copy = tmp_path / "project"
    shutil.copytree(finished, copy)
    return copy


def snapshot(folder):
    """Every file's bytes and mode in ``folder`` (symlinks as their target)."""
    return {
        p.name: (os.readlink(p) if p.is_symlink() else p.read_bytes(), p.lstat().st_mode)
        for p in sorted(folder.iterdir())
        if p.is_symlink() or p.is_file()
    }


# --- lost or overwritten files ----------------------------------------------------------------


def test_out_onto_a_folder_of_user_files_is_refused_and_leaves_them(project, monkeypatch, capsys):
    mine = project / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    (mine / "metrics.csv").write_text("my own metrics")
    os.chmod(mine / "notes.txt", 0o664)
    before = snapshot(mine)
    code, _, err = cli(monkeypatch, capsys, "train", project / "spec.yaml", "--out", mine, "-q")
    assert code == 1
    one_error_line(err, "notes.txt", "new or empty folder")
    assert snapshot(mine) == before


def test_a_run_folder_without_last_pt_is_a_run_not_user_files(project, monkeypatch, capsys):
    """Every file a run or ``specc report`` writes counts as the run's (not the user's)."""
    old = project / "old"
    old.mkdir()
    for name in ("metrics.csv", "summary.json", "confusion_matrix.png", "errors.png"):
        (old / name).write_text("from a run that lost its last.pt")
    (old / "report.html").write_text("<html></html>")
    code, _, err = cli(monkeypatch, capsys, "train", project / "spec.yaml", "--out", old, "-q")
    assert code == 0, err
    assert (old / "last.pt").is_file()


def test_out_beside_the_spec_never_replaces_it(project, monkeypatch, capsys):
    spec = project / "spec.yaml"
    before = spec.read_bytes()
    monkeypatch.chdir(project)
    for out in (".", str(project), "./"):
        code, _, err = cli(monkeypatch, capsys, "train", "spec.yaml", "--out", out, "-q")
        assert code == 2, err
        one_error_line(err, "would replace it")
    assert spec.read_bytes() == before


def test_a_folder_holding_only_a_users_spec_yaml_is_not_a_run(project, monkeypatch, capsys):
    other = project / "other"
    other.mkdir()
    (other / "spec.yaml").write_text("mine")
    code, _, err = cli(monkeypatch, capsys, "train", project / "spec.yaml", "--out", other, "-q")
    assert code == 1
    one_error_line(err, "spec.yaml")
    assert (other / "spec.yaml").read_text() == "mine"


def test_empty_out_and_empty_output_paths_are_errors(project, monkeypatch, capsys):
    monkeypatch.chdir(project)
    cases = [
        ("train", "spec.yaml", "--out", ""),
        ("schema", "-o", ""),
        ("export", "spec.yaml", "-o", ""),
        ("predict", "run/model.onnx", "d.csv", "-o", ""),
        ("build", "spec.yaml", "--emit", ""),
    ]
    for args in cases:
        code, _, err = cli(monkeypatch, capsys, *args)
        assert code == 2, (args, err)
        one_error_line(err, "is empty")
    assert sorted(p.name for p in project.iterdir()) == ["d.csv", "run", "spec.yaml"]


def test_no_output_path_may_be_an_input(project, monkeypatch, capsys):
    monkeypatch.chdir(project)
    code, _, err = cli(monkeypatch, capsys, "export", "run", "-o", "m.onnx")
    assert code == 0, err
    os.link("m.onnx", "hardlink.onnx")
    before = snapshot(project) | snapshot(project / "run")
    cases = [
        ("export", "spec.yaml", "-o", "spec.yaml"),
        ("export", "spec.yaml", "-o", "./spec.yaml"),
        ("export", "run", "-o", "run/last.pt"),
        ("export", "run", "-o", "run/spec.yaml"),
        ("export", "spec.yaml", "--checkpoint", "run/best.pt", "-o", "run/best.pt"),
        ("predict", "m.onnx", "d.csv", "-o", "m.onnx"),
        ("predict", "m.onnx", "d.csv", "-o", "d.csv"),
        ("predict", "m.onnx", "d.csv", "-o", "hardlink.onnx"),
    ]
    for args in cases:
        code, _, err = cli(monkeypatch, capsys, *args)
        assert code == 2, (args, err)
        one_error_line(err, "is an input of this command")
    assert snapshot(project) | snapshot(project / "run") == before


def test_writes_replace_a_planted_symlink_instead_of_following_it(project, monkeypatch, capsys):
    victim = project / "victim.txt"
    victim.write_text("precious")
    run = project / "run"
    for name in ("curves.png", "metrics.csv", "summary.json"):
        (run / name).unlink()
        (run / name).symlink_to(victim)
    code, _, err = cli(monkeypatch, capsys, "train", "--resume", run, "--epochs", "3", "-q")
    assert code == 0, err
    assert victim.read_text() == "precious"
    for name in ("curves.png", "metrics.csv", "summary.json"):
        assert not (run / name).is_symlink() and (run / name).stat().st_size > 0


def test_a_second_train_on_a_locked_folder_is_refused(project, monkeypatch, capsys):
    run = project / "fresh"
    run.mkdir()
    lock = lock_run_dir(run)  # what a running `specc train` holds
    try:
        code, _, err = cli(monkeypatch, capsys, "train", project / "spec.yaml", "--out", run, "-q")
        assert code == 1
        one_error_line(err, "another specc train is using")
        assert not (run / "metrics.csv").exists()
    finally:
        lock.release()
    code, _, err = cli(monkeypatch, capsys, "train", project / "spec.yaml", "--out", run, "-q")
    assert code == 0, err
    assert not (run / ".lock").exists()


def test_written_files_follow_the_umask(project, monkeypatch, capsys):
    old = os.umask(0o027)
    try:
        code, _, err = cli(
            monkeypatch, capsys, "train", project / "spec.yaml", "--out", project / "masked", "-q"
        )
        code2, _, err2 = cli(monkeypatch, capsys, "schema", "-o", project / "s.json")
    finally:
        os.umask(old)
    assert code == 0 and code2 == 0, err + err2
    files = [*(project / "masked").iterdir(), project / "s.json"]
    assert len(files) == 7
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path


def test_resume_of_a_finished_run_does_not_rewrite_spec_yaml(project, monkeypatch, capsys):
    run = project / "run"
    before = (run / "spec.yaml").read_bytes()
    code, _, err = cli(
        monkeypatch,
        capsys,
        "train",
        "--resume",
        run,
        "--set",
        "train.device=cpu",
        "--set",
        "data.num_workers=0",
        "-q",
    )
    assert code == 0, err
    assert (run / "spec.yaml").read_bytes() == before
    code, _, err = cli(
        monkeypatch, capsys, "train", "--resume", run, "--set", "optimizer.lr=0.5", "-q"
    )
    assert code == 1
    one_error_line(err, "optimizer.lr: 0.01 -> 0.5", "--force")
    assert (run / "spec.yaml").read_bytes() == before


# --- resume safety ----------------------------------------------------------------------------


def test_resume_after_spec_yaml_was_edited_is_refused_then_forced(project, monkeypatch, capsys):
    run = project / "run"
    edited = (run / "spec.yaml").read_text().replace("lr: 0.01", "lr: 0.02")
    (run / "spec.yaml").write_text(edited)
    last = (run / "last.pt").read_bytes()
    code, _, err = cli(monkeypatch, capsys, "train", "--resume", run, "--epochs", "3", "-q")
    assert code == 1
    one_error_line(err, "optimizer.lr: 0.01 -> 0.02")
    assert (run / "last.pt").read_bytes() == last
    code, _, err = cli(
        monkeypatch, capsys, "train", "--resume", run, "--epochs", "3", "--force", "-q"
    )
    assert code == 0, err
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_run"] == 3
    assert summary["resume_forced"] == ["optimizer.lr: 0.01 -> 0.02"]


def test_resume_with_a_set_changing_a_width_touches_nothing(project, monkeypatch, capsys):
    run = project / "run"
    before = snapshot(run)
    args = ("train", "--resume", run, "--set", "model.layers.0.out_features=8", "-q")
    code, _, err = cli(monkeypatch, capsys, *args)
    assert code == 1
    one_error_line(err, "model.layers.0.out_features: 4 -> 8")
    code, _, err = cli(monkeypatch, capsys, *args, "--force")
    assert code == 1
    one_error_line(err, "does not fit the model", "linear_1.weight: saved (4, 2), model (8, 2)")
    assert snapshot(run) == before


def test_resume_after_the_data_changed_is_refused(tmp_path, monkeypatch, capsys):
    spec = tiny_project(tmp_path)  # its own run: last.pt names this folder's d.csv
    train(load_spec(spec), out_dir=tmp_path / "run", quiet=True)
    write_csv(tmp_path / "d.csv", rows=40)
    code, _, err = cli(
        monkeypatch, capsys, "train", "--resume", tmp_path / "run", "--epochs", "3", "-q"
    )
    assert code == 1
    one_error_line(err, "data hash")


@pytest.mark.parametrize(
    "content",
    [
        {"a": 1},
        [1, 2, 3],
        torch.zeros(3),
        {"model": {"w": 1}, "epoch": "x"},
    ],
)
def test_a_checkpoint_of_the_wrong_structure_is_refused(project, monkeypatch, capsys, content):
    run = project / "run"
    for name in ("last.pt", "best.pt"):
        torch.save(content, run / name)
    before = snapshot(run)
    code, _, err = cli(monkeypatch, capsys, "train", "--resume", run, "--epochs", "3", "-q")
    assert code == 1
    one_error_line(err, "not a specc checkpoint")
    code, _, err = cli(monkeypatch, capsys, "export", run)
    assert code == 1
    one_error_line(err, "not a specc checkpoint")
    assert snapshot(run) == before


class Foreign:
    """Pickled by torch.save; weights_only loading must refuse it."""


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "foreign pickle"])
def test_a_damaged_checkpoint_is_one_clear_line(project, monkeypatch, capsys, damage):
    last = project / "run" / "last.pt"
    if damage == "garbage":
        last.write_text("this is not a checkpoint\n")
    elif damage == "truncated":
        last.write_bytes(last.read_bytes()[:200])
    elif damage == "empty":
        last.write_bytes(b"")
    else:
        torch.save({"model": Foreign()}, last)
    code, _, err = cli(monkeypatch, capsys, "train", "--resume", project / "run", "-q")
    assert code == 1
    one_error_line(err, "cannot read the checkpoint")
    assert "weights_only" not in err


def test_export_with_checkpoint_last_pt_does_not_need_best_pt(project, monkeypatch, capsys):
    run = project / "run"
    (run / "best.pt").write_text("garbage")
    code, _, err = cli(monkeypatch, capsys, "export", run)
    assert code == 1
    one_error_line(err, "best.pt", "truncated or not a torch checkpoint")
    code, out, err = cli(
        monkeypatch,
        capsys,
        "export",
        run,
        "--checkpoint",
        run / "last.pt",
        "-o",
        project / "m.onnx",
    )
    assert code == 0, err
    assert "onnx checker: ok" in out and (project / "m.onnx").stat().st_size > 0


RUN_FILES = ["spec.yaml", "last.pt", "best.pt", "summary.json", "metrics.csv"]
DAMAGES = ["deleted", "truncated", "garbage", "folder"]


def _damage(path, how: str) -> None:
    if how == "deleted":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 2)])
    elif how == "garbage":
        path.write_bytes(b"\x00\xff\x1b[31m garbage \x80\n" * 3)
    else:
        path.unlink()
        path.mkdir()


@pytest.mark.parametrize("name", RUN_FILES)
@pytest.mark.parametrize("how", DAMAGES)
def test_fuzz_damaged_run_folders(project, monkeypatch, capsys, name, how):
    run = project / "run"
    _damage(run / name, how)
    commands = [("train", "--resume", run, "--epochs", "3", "-q")]
    if name in ("spec.yaml", "best.pt", "last.pt"):  # what export reads
        commands.append(("export", run, "-o", project / "m.onnx"))
    for args in commands:
        code, _, err = cli(monkeypatch, capsys, *args)
        assert code in (0, 1, 2), (args, err)
        assert "Traceback" not in err and "unexpected" not in err, (args, err)
        assert "\x1b" not in err and "\x00" not in err, (args, err)
        if code == 1:
            one_error_line(err)
        elif code == 2:
            assert err.startswith(str(run / "spec.yaml")), err


def test_a_spec_named_spec_yaml_is_kept_when_training_into_its_folder_by_default(
    project, monkeypatch, capsys
):
    """The default runs/<name>/<stamp>/ never touches the spec, even run from its folder."""
    monkeypatch.chdir(project)
    before = (project / "spec.yaml").read_bytes()
    code, _, err = cli(monkeypatch, capsys, "train", "spec.yaml", "-q")
    assert code == 0, err
    assert (project / "spec.yaml").read_bytes() == before
    assert len(list((project / "runs" / "tiny").iterdir())) == 1
    assert TINY in (next((project / "runs" / "tiny").iterdir()) / "spec.yaml").read_text()
