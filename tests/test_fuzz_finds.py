"""Finds of bench/probe_fuzz.py at the command line's edges (``--set`` values, a tune
folder's ``tune.json``): each raised or misreported before, and is now one clear error. The
finds in spec text are cases of tests/test_errors_corpus.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_helpers import cli, one_error_line, tiny_project

from specc.errors import RunError, SpecErrors
from specc.spec.validate import load_spec
from specc.train.overrides import apply_overrides, parse_override
from specc.tune.config import CONFIG_FILE, TuneConfig


@pytest.mark.parametrize("value", ["&a [*a]", "&a {k: *a}"])
def test_a_set_value_holding_its_own_alias_is_an_option_error(value: str):
    # before: RecursionError, reported as "the input is nested too deeply" (exit 1)
    with pytest.raises(RunError) as info:
        parse_override(f"optimizer.lr={value}")
    assert info.value.exit_code == 2
    assert str(info.value).startswith(f"--set optimizer.lr={value}: the value is not valid")
    assert "nested more than 64 levels deep" in str(info.value)


def test_a_bad_value_is_blamed_on_the_override_that_stands(tmp_path: Path):
    # --epochs 1 is applied first, --set train.epochs=0 last: the 0 is the --set's
    spec = load_spec(tiny_project(tmp_path))
    with pytest.raises(SpecErrors) as info:
        apply_overrides(spec, ["train.epochs=1", "train.epochs=0"])
    (error,) = info.value.errors
    assert error.message.startswith("--set train.epochs=0: epochs:"), error.message
    assert error.code == "E106"


def test_the_cli_blames_set_not_epochs(tmp_path: Path, monkeypatch, capsys):
    spec = tiny_project(tmp_path)
    code, _, err = cli(
        monkeypatch, capsys, "train", spec, "--epochs", "1", "--set", "train.epochs=0", "-q"
    )
    assert code == 2 and "Traceback" not in err
    assert "error[E106]: --set train.epochs=0: epochs: input should be greater" in err
    assert not (tmp_path / "runs").exists()


STORED = {
    "not_json": "{not json",
    "a_list": "[1, 2]",
    "no_spec_path": '{"searches": ["optimizer.lr=uniform(0.1,0.2)"], "trials": 2}',
    "wrong_key": '{"spec": 3, "searches": "x", "trials": -1}',
    "searches_text": '{"spec_path": "s.yaml", "searches": "x", "trials": 2}',
    "searches_numbers": '{"spec_path": "s.yaml", "searches": [1], "trials": 2}',
    "trials_zero": '{"spec_path": "s.yaml", "searches": [], "trials": 0}',
    "trials_bool": '{"spec_path": "s.yaml", "searches": [], "trials": true}',
    "epochs_text": '{"spec_path": "s.yaml", "searches": [], "trials": 2, "epochs": "x"}',
    "binary": b"\xff\xfe\x00",
}


@pytest.mark.parametrize("name", list(STORED))
def test_a_broken_tune_json_is_one_clear_error(tmp_path: Path, name: str):
    # before: "unexpected JSONDecodeError/TypeError: ..." from the catch-all
    content = STORED[name]
    path = tmp_path / CONFIG_FILE
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(RunError) as info:
        TuneConfig.load(tmp_path)
    assert str(info.value).startswith(f"{path} "), info.value
    assert "tune's settings" in str(info.value)
    assert path.read_bytes() == (content if isinstance(content, bytes) else content.encode())


def test_the_stored_settings_still_load(tmp_path: Path):
    config = TuneConfig("s.yaml", ["optimizer.lr=uniform(0.1,0.2)"], 3, str(tmp_path), epochs=2)
    config.save()
    again = TuneConfig.load(tmp_path, trials=5)
    assert (again.searches, again.trials, again.epochs) == (config.searches, 5, 2)
    assert again.spec_path == str(Path("s.yaml").resolve())


def test_tune_resume_of_a_broken_tune_json_at_the_cli(tmp_path: Path, monkeypatch, capsys):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / CONFIG_FILE).write_text("[1, 2]", encoding="utf-8")
    code, _, err = cli(monkeypatch, capsys, "tune", "--resume", tmp_path / "t")
    assert code == 1
    one_error_line(err, "tune.json is not a tune's settings: expected a JSON object")
    assert "unexpected" not in err


# --- predict and report on a trained, exported run ------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """A trained tiny CSV run (features a, b) with its model.onnx."""
    from train_helpers import one_thread

    from specc.export import export_run
    from specc.train import train

    folder = tmp_path_factory.mktemp("exported")
    with one_thread():
        train(load_spec(tiny_project(folder)), out_dir=folder / "run", quiet=True)
        export_run(folder / "run", quiet=True)
    return folder / "run"


@pytest.mark.parametrize(
    ("shape", "needle"),
    [
        (
            (2, 5),
            "cannot preprocess the input: the array has shape [2, 5], but the model takes "
            "rows of 2 features (a, b)",
        ),
        ((3, 1, 2), "the array has shape [3, 1, 2]"),
        ((0, 2), "holds no samples to predict"),
    ],
)
def test_an_array_that_is_not_rows_of_the_features_is_refused(
    exported, tmp_path, monkeypatch, capsys, shape, needle
):
    # before: (2, 5) was read as 5 rows of 2 values (a silent wrong answer); (0, 2) raised
    import numpy as np

    np.save(tmp_path / "x.npy", np.zeros(shape, dtype=np.float32))
    code, out, err = cli(
        monkeypatch, capsys, "predict", exported / "model.onnx", tmp_path / "x.npy"
    )
    assert code == 2 and out == ""
    one_error_line(err, needle)


def test_rows_of_the_features_still_predict(exported, tmp_path, monkeypatch, capsys):
    import numpy as np

    np.save(tmp_path / "x.npy", np.zeros((3, 2), dtype=np.float32))
    code, out, _ = cli(monkeypatch, capsys, "predict", exported / "model.onnx", tmp_path / "x.npy")
    assert code == 0 and len(out.splitlines()) == 4  # the header and one row per sample


def test_an_image_for_a_tabular_model_is_refused(exported, tmp_path, monkeypatch, capsys):
    from PIL import Image

    Image.new("L", (8, 8)).save(tmp_path / "i.png")  # before: IndexError
    code, _, err = cli(monkeypatch, capsys, "predict", exported / "model.onnx", tmp_path / "i.png")
    assert code == 2
    one_error_line(err, "this model takes samples of shape [2], not images")


@pytest.mark.parametrize("name", ["spec.yaml", "summary.json", "best.pt", "metrics.csv"])
def test_report_out_never_overwrites_the_runs_files(exported, tmp_path, monkeypatch, capsys, name):
    # before: --out RUN/spec.yaml replaced the run's spec with the HTML page
    import shutil

    run = tmp_path / "run"
    shutil.copytree(exported, run)
    before = (run / name).read_bytes()
    code, _, err = cli(monkeypatch, capsys, "report", run, "--out", run / name, "-q")
    assert code == 2
    one_error_line(err, f"--out {run / name} is an input of this command")
    assert (run / name).read_bytes() == before


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{nope", "is not a run summary (invalid JSON"),
        ("", "is not a run summary (invalid JSON"),
        ("[1, 2]", "is not a run summary: expected a JSON object"),
    ],
)
def test_report_of_a_damaged_summary_is_one_clear_error(
    exported, tmp_path, monkeypatch, capsys, content, needle
):
    # before: "unexpected JSONDecodeError/AttributeError: ..."
    import shutil

    run = tmp_path / "run"
    shutil.copytree(exported, run)
    (run / "summary.json").write_text(content, encoding="utf-8")
    code, _, err = cli(monkeypatch, capsys, "report", run, "-q")
    assert code == 1
    one_error_line(err, "summary.json", needle)
    assert not (run / "report.html").exists()
