"""``specc predict``: onnxruntime on raw inputs gives the trained torch model's predictions.

Real runs: Titanic (raw rows with missing values, one-hot columns), Pima diabetes (numeric
scaling folded into the graph), LeNet on 200 MNIST images (written by ``specc train``'s
export hook; .npy and PNG inputs). Predict is run in a subprocess where importing torch fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from export_helpers import ROOT, SPECS, cli_in_process

import specc
from specc.data import apply_preprocessing
from specc.export import ExportError, export_onnx, export_run
from specc.rundir import load_run
from specc.workflow import train


def _torch_model(run_dir: Path):
    spec, checkpoint = load_run(run_dir)
    model = specc.build_model(spec)
    model.load_state_dict(checkpoint["model"])
    return model.eval(), checkpoint


def _train(spec_name: str, folder: Path, *overrides: str) -> Path:
    spec = specc.load_spec(SPECS / f"{spec_name}.yaml")
    return train(spec, out_dir=folder, overrides=list(overrides), quiet=True).run_dir


@pytest.fixture(scope="module")
def titanic_run(tmp_path_factory) -> Path:
    run_dir = _train("titanic", tmp_path_factory.mktemp("titanic") / "run", "train.epochs=2")
    assert not (run_dir / "model.onnx").exists()  # titanic.yaml has no export.onnx
    export_run(run_dir, quiet=True)
    return run_dir


def _raw_titanic_rows(n_missing: int = 12, n_complete: int = 12) -> pd.DataFrame:
    frame = pd.read_csv(SPECS / "data" / "titanic.csv")
    missing = frame[frame["Age"].isna()].head(n_missing - 2)
    no_port = frame[frame["Embarked"].isna()]
    complete = frame.dropna(subset=["Age", "Embarked"]).head(n_complete)
    rows = pd.concat([missing, no_port, complete]).drop(columns=["Survived"])
    return rows.sample(frac=1.0, random_state=0)  # every raw column, in a shuffled order


NO_TORCH = """
import sys
sys.modules["torch"] = None  # any `import torch` now raises ImportError
sys.argv = ["specc", *sys.argv[1:]]
from specc.cli import main
try:
    main()
finally:
    sys.stderr.write("\\ntorch imported: %s\\n" % (sys.modules.get("torch") is not None))
"""


def _predict_without_torch(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", NO_TORCH, "predict", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_titanic_raw_rows_with_missing_values_match_torch(titanic_run, tmp_path):
    rows = _raw_titanic_rows()
    assert rows["Age"].isna().sum() >= 5 and rows["Embarked"].isna().sum() == 2
    rows.to_csv(tmp_path / "rows.csv", index=False)
    result = _predict_without_torch(
        titanic_run / "model.onnx", tmp_path / "rows.csv", "-o", tmp_path / "pred.csv"
    )
    assert result.returncode == 0, result.stderr
    assert "torch imported: False" in result.stderr
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert list(pred.columns) == ["class", "label", "probability"] and len(pred) == len(rows)

    model, checkpoint = _torch_model(titanic_run)
    x = torch.from_numpy(apply_preprocessing(checkpoint["preprocessing"], rows))
    p_survive = torch.sigmoid(model(x)).detach().numpy()[:, 0]
    expected_class = (p_survive >= 0.5).astype(int)
    np.testing.assert_array_equal(pred["class"].to_numpy(), expected_class)
    expected_prob = np.where(expected_class == 1, p_survive, 1 - p_survive)
    np.testing.assert_allclose(pred["probability"].to_numpy(), expected_prob, atol=1e-5)


def test_titanic_metadata_carries_preprocessing_and_labels(titanic_run):
    import onnx

    props = {p.key: p.value for p in onnx.load(str(titanic_run / "model.onnx")).metadata_props}
    state = json.loads(props["specc.preprocessing"])
    assert state["features"] == ["Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked"]
    assert [s["type"] for s in state["steps"]][-1] == "standard_scaler"
    assert json.loads(props["specc.task"]) == "binary"
    assert json.loads(props["specc.output_kind"]) == "logit"
    assert json.loads(props["specc.output_shapes"]) == [[1]]


def test_predict_errors_are_one_line(titanic_run, tmp_path, capsys):
    model = titanic_run / "model.onnx"
    _raw_titanic_rows().drop(columns=["Fare"]).to_csv(tmp_path / "no_fare.csv", index=False)
    code, _, err = cli_in_process(capsys, "predict", model, tmp_path / "no_fare.csv")
    assert code == 2 and "lacks the feature column(s) ['Fare']" in err
    np.save(tmp_path / "wide.npy", np.zeros((3, 9)))
    code, _, err = cli_in_process(capsys, "predict", model, tmp_path / "wide.npy")
    assert code == 2 and "error: cannot preprocess the input" in err
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    code, _, err = cli_in_process(capsys, "predict", tmp_path / "junk.onnx", tmp_path / "wide.npy")
    assert code == 1 and "cannot load" in err
    code, _, err = cli_in_process(capsys, "predict", model, tmp_path / "absent.csv")
    assert code == 1 and "no input file" in err
    (tmp_path / "x.txt").write_text("1,2\n")
    code, _, err = cli_in_process(capsys, "predict", model, tmp_path / "x.txt")
    assert code == 2 and "unknown input type" in err and "Traceback" not in err


def test_checkpoint_must_fit_the_spec(titanic_run, capsys):
    code, _, err = cli_in_process(
        capsys, "export", SPECS / "diabetes.yaml", "--checkpoint", titanic_run / "last.pt"
    )
    assert code == 1 and "the checkpoint does not fit spec 'diabetes'" in err
    code, _, err = cli_in_process(
        capsys, "export", titanic_run, "--checkpoint", titanic_run / "missing.pt"
    )
    assert code == 1 and "no checkpoint at" in err


def test_titanic_cannot_fold_encoders(titanic_run, tmp_path):
    model, checkpoint = _torch_model(titanic_run)
    spec, _ = load_run(titanic_run)
    with pytest.raises(ExportError, match="encoder"):
        export_onnx(
            model, spec, tmp_path / "m.onnx", checkpoint=checkpoint, include_preprocessing=True
        )


def test_diabetes_folded_scaling_takes_raw_features(tmp_path, capsys):
    run_dir = _train("diabetes", tmp_path / "run", "train.epochs=1")
    model, checkpoint = _torch_model(run_dir)
    spec, _ = load_run(run_dir)
    report = export_onnx(
        model, spec, tmp_path / "folded.onnx", checkpoint=checkpoint, include_preprocessing=True
    )
    assert report.info.includes_preprocessing and report.parity.max_abs_diff <= 1e-4
    raw = pd.read_csv(SPECS / "data" / "diabetes.csv.gz").head(40)
    raw.to_csv(tmp_path / "raw.csv", index=False)
    code, out, err = cli_in_process(capsys, "predict", report.path, tmp_path / "raw.csv")
    assert code == 0, err
    pred = pd.read_csv(__import__("io").StringIO(out))
    x = torch.from_numpy(apply_preprocessing(checkpoint["preprocessing"], raw))
    p = torch.sigmoid(model(x)).detach().numpy()[:, 0]
    np.testing.assert_array_equal(pred["class"].to_numpy(), (p >= 0.5).astype(int))
    np.testing.assert_allclose(pred["probability"], np.where(p >= 0.5, p, 1 - p), atol=1e-5)


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory) -> Path:
    """LeNet on 200 MNIST images, 1 epoch; lenet.yaml has export.onnx, so train exports."""
    return _train(
        "lenet",
        tmp_path_factory.mktemp("lenet") / "run",
        "train.epochs=1",
        "data.source.limit=200",
        "train.device=cpu",
    )


def test_train_hook_writes_verified_onnx(lenet_run):
    import onnx

    from specc.export import read_metadata

    path = lenet_run / "model.onnx"
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))
    info = read_metadata({p.key: p.value for p in model.metadata_props})
    assert info.spec_name == "lenet5" and info.input_shape == [1, 28, 28]
    assert info.task == "multiclass" and info.opset == model.opset_import[0].version == 18
    assert info.preprocessing is not None  # the fitted MNIST scaling, for specc predict


def test_lenet_npy_and_png_inputs_match_torch(lenet_run, tmp_path, capsys):
    from PIL import Image

    from specc.data.idx import read_idx

    images = read_idx(SPECS / "data" / "mnist" / "t10k-images-idx3-ubyte.gz", 3)[-6:]
    np.save(tmp_path / "digits.npy", images)
    folder = tmp_path / "pngs"
    folder.mkdir()
    for k, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{k}.png")
    model, checkpoint = _torch_model(lenet_run)
    x = torch.from_numpy(apply_preprocessing(checkpoint["preprocessing"], images))
    probs = torch.softmax(model(x), dim=1).detach().numpy()
    top = np.argsort(-probs, axis=1, kind="stable")[:, :3]
    for source in (tmp_path / "digits.npy", folder):
        code, out, err = cli_in_process(
            capsys, "predict", lenet_run / "model.onnx", source, "--top-k", "3"
        )
        assert code == 0, err
        pred = pd.read_csv(__import__("io").StringIO(out))
        if source == folder:  # one row per file, named first
            assert pred.pop("file").tolist() == [f"{k}.png" for k in range(len(images))]
        assert list(pred.columns)[:3] == ["class_1", "label_1", "probability_1"]
        np.testing.assert_array_equal(pred[["class_1", "class_2", "class_3"]].to_numpy(), top)
        np.testing.assert_allclose(pred["probability_1"], probs.max(axis=1), atol=1e-5)


def test_regression_values_from_model_input_array(tmp_path, capsys):
    spec = specc.load_spec(SPECS / "linear_regression.yaml")
    torch.manual_seed(0)
    model = specc.build_model(spec)
    report = export_onnx(model, spec, tmp_path / "lr.onnx")
    x = np.array([[1.0], [2.5], [-3.0]], dtype=np.float32)
    np.savez(tmp_path / "x.npz", x=x)
    code, out, err = cli_in_process(capsys, "predict", report.path, tmp_path / "x.npz")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "value"
    expected = model(torch.from_numpy(x)).detach().numpy()[:, 0]
    np.testing.assert_allclose([float(v) for v in lines[1:]], expected, atol=1e-6)
    np.save(tmp_path / "bad.npy", np.zeros((2, 3), dtype=np.float32))
    code, _, err = cli_in_process(capsys, "predict", report.path, tmp_path / "bad.npy")
    assert code == 2 and "the model takes [1]" in err
