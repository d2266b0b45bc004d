"""Hostile inputs at the commands: exit 2 with a located error for bad specs and options,
one ``error: ...`` line (exit 1) for runtime failures, nothing printed that should not be.

Classes covered here:

- tracebacks in commands: CSVs with a header and no rows, 300-character paths and names,
  ``-o`` into a folder, a missing parent or a read-only folder, hostile ONNX metadata, raw
  control bytes in a spec or a path, and a fuzz of command options;
- silent wrong runs and leaks: infinite CSV values (train and predict), ``--atol nan``,
  unknown task metadata, data files outside the spec's folder, spreadsheet formulas in the
  predictions CSV, ``--nproc`` with a bad ``--set``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import onnx
import pytest
from hostile_helpers import TINY, cli, one_error_line, tiny_project, write_csv
from train_helpers import one_thread

from specc.predict import Predictions
from specc.spec.validate import load_spec
from specc.train import train

FORMULAS = ('=HYPERLINK("http://x")', "@SUM(A1)")


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A trained run whose class labels are spreadsheet formulas, and its model.onnx."""
    folder = tmp_path_factory.mktemp("exported")
    spec = tiny_project(folder)
    write_csv(folder / "d.csv", labels=FORMULAS)
    train(load_spec(spec), out_dir=folder / "run", quiet=True)
    from specc.export import export_run

    export_run(folder / "run", quiet=True)
    (folder / "rows.csv").write_text("a,b\n0.1,0.2\n0.9,0.8\n")
    return folder


@pytest.fixture
def project(exported, tmp_path):
    copy = tmp_path / "p"
    shutil.copytree(exported, copy)
    return copy


# --- tracebacks in the commands ---------------------------------------------------------------


def test_a_csv_with_a_header_and_no_rows(project, monkeypatch, capsys):
    (project / "empty.csv").write_text("a,b,y\n")
    code, _, err = cli(
        monkeypatch,
        capsys,
        "train",
        project / "spec.yaml",
        "--out",
        project / "r",
        "--set",
        "data.source.path=empty.csv",
        "-q",
    )
    assert code == 1
    one_error_line(err, "header but no rows")
    (project / "empty_rows.csv").write_text("a,b\n")
    code, _, err = cli(
        monkeypatch, capsys, "predict", project / "run" / "model.onnx", project / "empty_rows.csv"
    )
    assert code == 2
    one_error_line(err, "header but no rows")


def test_300_character_paths_and_names(project, monkeypatch, capsys):
    monkeypatch.chdir(project)
    long = "x" * 300
    code, _, err = cli(monkeypatch, capsys, "train", "spec.yaml", "--out", long, "-q")
    assert code == 1
    one_error_line(err, "File name too long")
    named = project / "named.yaml"
    named.write_text(TINY.replace("name: tiny", f"name: {long}"))
    code, _, err = cli(monkeypatch, capsys, "train", named, "-q")
    assert code == 1
    one_error_line(err, "cannot create the run directory")
    code, _, err = cli(monkeypatch, capsys, "export", named)
    assert code == 1
    one_error_line(err, "File name too long")
    for args in (("schema", "-o", long), ("predict", "run/model.onnx", "rows.csv", "-o", long)):
        code, _, err = cli(monkeypatch, capsys, *args)
        assert code == 1, (args, err)
        one_error_line(err)


def test_outputs_into_a_folder_or_a_missing_parent(project, monkeypatch, capsys):
    monkeypatch.chdir(project)
    model = "run/model.onnx"
    for option in (["schema", "-o"], ["predict", model, "rows.csv", "-o"], ["export", "run", "-o"]):
        code, _, err = cli(monkeypatch, capsys, *option, ".")
        assert code == 2, (option, err)
        one_error_line(err, "is a folder")
    for option in (["schema", "-o"], ["predict", model, "rows.csv", "-o"]):
        code, _, err = cli(monkeypatch, capsys, *option, "missing/x.out")
        assert code == 1, (option, err)
        one_error_line(err, "does not exist")
        code, _, err = cli(monkeypatch, capsys, *option, "spec.yaml/x.out")  # under a file
        assert code == 1, (option, err)
        one_error_line(err, "does not exist")
    code, _, err = cli(monkeypatch, capsys, "export", "run", "-o", "spec.yaml/m.onnx")
    assert code == 1
    one_error_line(err, "cannot create the folder")
    code, _, err = cli(monkeypatch, capsys, "build", "spec.yaml", "--emit", "spec.yaml")
    assert code == 1
    one_error_line(err, "cannot write to spec.yaml")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_outputs_into_a_read_only_folder(project, monkeypatch, capsys):
    locked = project / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for args in (
            ("schema", "-o", locked / "s.json"),
            (
                "predict",
                project / "run" / "model.onnx",
                project / "rows.csv",
                "-o",
                locked / "p.csv",
            ),
        ):
            code, _, err = cli(monkeypatch, capsys, *args)
            assert code == 1
            one_error_line(err, "not writable")
    finally:
        locked.chmod(0o755)


def _with_metadata(source: Path, target: Path, **changes: str) -> Path:
    proto = onnx.load(str(source))
    for entry in proto.metadata_props:
        key = entry.key.removeprefix("specc.")
        if key in changes:
            entry.value = changes[key]
    onnx.save(proto, str(target))
    return target


@pytest.mark.parametrize(
    "changes, needle",
    [
        ({"preprocessing": "[1, 2, 3]"}, "unexpected preprocessing"),
        ({"preprocessing": "[" * 100_000 + "]" * 100_000}, "nested too deeply"),
        ({"task": '"ranking"'}, "unexpected task"),
        ({"input_shape": '"x"'}, "unexpected input_shape"),
        ({"class_labels": '{"a": 1}'}, "unexpected class_labels"),
        ({"output_shapes": "[]"}, "unexpected output_shapes"),
        ({"feature_names": "not json"}, "damaged"),
    ],
)
def test_hostile_onnx_metadata_is_one_clear_line(project, monkeypatch, capsys, changes, needle):
    model = _with_metadata(project / "run" / "model.onnx", project / "bad.onnx", **changes)
    code, out, err = cli(monkeypatch, capsys, "predict", model, project / "rows.csv")
    assert code == 1 and out == ""
    one_error_line(err, "metadata", needle)


def test_control_bytes_never_reach_the_terminal(tmp_path, monkeypatch, capsys):
    for i, text in enumerate(
        [
            "version: 1\nname: a\x1b[31mred\nmodel: {}\n",
            "version: 1\nname: a\x00b\n",
            'version: 1\nname: "\\e[2J\\x00"\nmodel: {}\n',
        ]
    ):
        spec = tmp_path / f"s{i}.yaml"
        spec.write_text(text)
        for command in ("validate", "build"):
            code, out, err = cli(monkeypatch, capsys, command, spec)
            assert code == 2, err
            assert "\x1b" not in err + out and "\x00" not in err + out, err
            assert "Traceback" not in err
    code, _, err = cli(monkeypatch, capsys, "train", tmp_path / "a\x1b[2Jb.yaml")
    assert code == 2 and "\x1b" not in err and "\\x1b" in err


OPTION_FUZZ = [
    ("--epochs", "-1"),
    ("--epochs", "99999999999999999999"),
    ("--batch-size", "0"),
    ("--lr", "nan"),
    ("--lr", "inf"),
    ("--lr", "-1"),
    ("--device", "cuda:99"),
    ("--device", "\x1b[31m"),
    ("--set", "=x"),
    ("--set", "a..b=1"),
    ("--set", "noequals"),
    ("--set", "model.layers.999.out_features=1"),
    ("--set", "seed=-1"),
    ("--set", "seed=1e400"),
    ("--set", "model=[[[[[]]]]]"),
    ("--set", "data.x=&a [*a]"),
    ("--set", "model.layers.0.name=register_forward_hook"),
    ("--set", "optimizer.lr=!!python/none"),
    ("--set", "\x00=1"),
    ("--set", "²=1"),
    ("--resume", "nonexistent"),
    ("--resume", "spec.yaml"),
    ("--nnodes", "2"),
    ("--force", None),
    ("--out", "spec.yaml"),
    ("--out", "d.csv"),
]


@pytest.mark.parametrize("option, value", OPTION_FUZZ)
def test_fuzz_train_options(project, monkeypatch, capsys, option, value):
    monkeypatch.chdir(project)
    args = ["train", "spec.yaml", option] + ([value] if value is not None else [])
    if option == "--resume":
        args.remove("spec.yaml")
    code, _, err = cli(monkeypatch, capsys, *args, "-q")
    assert code in (1, 2), (args, err)
    assert "Traceback" not in err and "unexpected" not in err, err
    assert "\x1b" not in err and "\x00" not in err
    if code == 1:
        one_error_line(err)
    assert not (project / "runs").exists()  # nothing was trained


PREDICT_FUZZ = [("--top-k", "0"), ("--top-k", "-5"), ("--top-k", "x")]


@pytest.mark.parametrize(
    "option, value",
    [
        *PREDICT_FUZZ,
        ("--opset", "99"),
        ("--atol", "nan"),
        ("--atol", "inf"),
        ("--atol", "-1"),
        ("--checkpoint", "nonexistent.pt"),
    ],
)
def test_fuzz_export_and_predict_options(project, monkeypatch, capsys, option, value):
    monkeypatch.chdir(project)
    command = (
        ["predict", "run/model.onnx", "rows.csv"]
        if (option, value) in PREDICT_FUZZ
        else ["export", "run", "-o", "m.onnx"]
    )
    code, _, err = cli(monkeypatch, capsys, *command, option, value)
    assert code in (1, 2), err
    assert "Traceback" not in err and "unexpected" not in err, err
    assert not (project / "m.onnx").exists()


# --- silent wrong runs and leaks ------------------------------------------------------------


@pytest.mark.parametrize("cell", ["inf", "1e400", "-inf"])
def test_infinite_csv_values_are_data_errors(project, monkeypatch, capsys, cell):
    rows = (project / "d.csv").read_text().splitlines()
    rows[3] = f"0.5,{cell},{FORMULAS[0]!r}".replace("'", '"')
    (project / "d.csv").write_text("\n".join(rows) + "\n")
    code, _, err = cli(
        monkeypatch, capsys, "train", project / "spec.yaml", "--out", project / "r", "-q"
    )
    assert code == 1
    one_error_line(err, "column 'b'", "line 4")
    (project / "rows.csv").write_text(f"a,b\n0.1,0.2\n{cell},0.1\n")
    code, out, err = cli(
        monkeypatch, capsys, "predict", project / "run" / "model.onnx", project / "rows.csv"
    )
    assert code == 2 and out == ""
    one_error_line(err, "column 'a'", "line 3")


def test_data_files_outside_the_spec_folder_are_not_quoted(tmp_path, monkeypatch, capsys):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "creds.csv").write_text("password_hunter2,token_abc\n1,2\n")
    project = tmp_path / "p"
    spec = tiny_project(project, TINY.replace("path: d.csv", "path: ../secret/creds.csv"))
    code, _, err = cli(monkeypatch, capsys, "train", spec, "-q")
    assert code == 2
    assert "hunter2" not in err and "token_abc" not in err
    assert "outside the spec's folder" in err
    passwd = TINY.replace(
        "{type: csv, path: d.csv, target: y}",
        "{type: csv, path: /etc/passwd, target: y, delimiter: ':'}",
    )
    spec.write_text(passwd)
    code, _, err = cli(monkeypatch, capsys, "train", spec, "-q")
    assert code == 2 and "outside the spec's folder" in err
    assert "root:x" not in err and "/bin/" not in err and ", x, 0" not in err
    inside = TINY.replace("target: y", "target: z")
    spec.write_text(inside)
    code, _, err = cli(monkeypatch, capsys, "train", spec, "-q")
    assert code == 2 and "its columns are: a, b, y" in err  # the spec's own data is listed


def test_export_atol_must_be_finite(project, monkeypatch, capsys):
    for atol in ("nan", "inf", "-1e-3"):
        code, _, err = cli(monkeypatch, capsys, "export", project / "run", "--atol", atol)
        assert code == 2
        one_error_line(err, "--atol must be a finite number")


def test_predictions_escape_spreadsheet_formulas(project, monkeypatch, capsys):
    code, _, err = cli(
        monkeypatch,
        capsys,
        "predict",
        project / "run" / "model.onnx",
        project / "rows.csv",
        "-o",
        project / "pred.csv",
    )
    assert code == 0, err
    text = (project / "pred.csv").read_text()
    labels = {row[1] for row in csv.reader(text.splitlines()[1:])}
    assert labels and all(label.startswith("'") for label in labels), text
    assert "\n=" not in text and ",=" not in text and ",@" not in text
    table = Predictions(
        ["class", "label", "value"],
        [[0, "+1", -0.5], [1, "-cmd", 2.0], [2, "\tx", 1.0], [3, "ok", 1.0]],
    )
    rows = table.to_csv().splitlines()[1:]
    assert rows == ["0,'+1,-0.5", "1,'-cmd,2.0", "2,'\tx,1.0", "3,ok,1.0"]


def test_nproc_with_a_bad_set_is_refused_before_launching(project, monkeypatch, capsys):
    def no_launch(*args, **kwargs):
        raise AssertionError("torchrun must not start for an invalid spec")

    monkeypatch.setattr("specc.train.distributed.launch", no_launch)
    code, _, err = cli(
        monkeypatch,
        capsys,
        "train",
        project / "spec.yaml",
        "--nproc",
        "2",
        "--set",
        "optimizer.lr=-1",
    )
    assert code == 2
    assert err.count(": error[") == 1 and ": error[E106]: --set optimizer.lr=-1" in err
    code, _, err = cli(
        monkeypatch, capsys, "train", project / "spec.yaml", "--nproc", "2", "--set", "noequals"
    )
    assert code == 2
    one_error_line(err, "expected key.path=value")


def test_metadata_json_written_by_export_reads_back(project):
    """The metadata checks accept everything export writes (no false refusal)."""
    from specc.export.metadata import read_metadata

    proto = onnx.load(str(project / "run" / "model.onnx"))
    info = read_metadata({p.key: p.value for p in proto.metadata_props})
    assert info.class_labels == sorted(FORMULAS)
    assert json.loads(json.dumps(info.preprocessing)) == info.preprocessing
