"""Tracking (train.log: tensorboard, mlflow) and the classifier report: confusion matrix,
per-class scores, errors.png, and ``specc report``'s self-contained page (checked in headless
Chromium when it is installed)."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from train_helpers import one_thread, summary
from tune_helpers import TINY, write_tiny

from specc.errors import RunError
from specc.report.html import write_report
from specc.spec.validate import load_spec
from specc.track import hyperparameters
from specc.track.mlflow_tracker import tracking_uri
from specc.workflow import train

DIGITS = """\
version: 1
name: tiny_digits
seed: 1
model:
  input: {shape: [1, 8, 8]}
  layers:
    - {type: conv2d, out_channels: 4, kernel_size: 3, padding: 1}
    - relu
    - flatten
    - {type: linear, out_features: 10}
loss: cross_entropy
optimizer: {type: sgd, lr: 0.01}
data:
  source: {type: sklearn, name: digits}
  split: {val: 0.2, stratify: true}
  batch_size: 64
train: {epochs: 1, device: cpu, metrics: [accuracy, f1]}
"""


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    """A one-epoch CNN on the 8x8 digits: an image classifier with misclassifications."""
    folder = tmp_path_factory.mktemp("digits")
    with one_thread():
        return train(
            load_spec(write_tiny(folder, DIGITS)), out_dir=folder / "run", quiet=True
        ).run_dir


def test_classifier_runs_get_per_class_scores_and_figures(digits_run) -> None:
    result = summary(digits_run)
    classes = result["per_class"]["val"]
    assert list(classes) == [str(i) for i in range(10)]
    assert sum(c["support"] for c in classes.values()) == sum(
        map(sum, result["confusion_matrix"]["val"])
    )
    macro_f1 = sum(c["f1"] for c in classes.values()) / 10  # every class is in the split
    assert macro_f1 == pytest.approx(result["final"]["val_f1"], abs=1e-9)
    for name in ("confusion_matrix.png", "errors.png"):
        with Image.open(digits_run / name) as image:
            assert image.size[0] > 200


def test_tabular_classifiers_get_no_errors_png(tmp_path) -> None:
    run = train(
        load_spec(write_tiny(tmp_path)),
        out_dir=tmp_path / "run",
        overrides=["train.epochs=1"],
        quiet=True,
    ).run_dir
    assert (run / "confusion_matrix.png").exists() and not (run / "errors.png").exists()
    assert set(summary(run)["per_class"]["val"]) == {"setosa", "versicolor", "virginica"}


def _images(page: str) -> list[Image.Image]:
    found = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([^"]+)">', page)
    return [Image.open(io.BytesIO(base64.b64decode(data, validate=True))) for data in found]


def test_report_page_is_self_contained(digits_run) -> None:
    page = write_report(digits_run).read_text()
    assert page.count("<img") == 3 and len(_images(page)) == 3  # curves, matrix, errors
    for image in _images(page):
        image.verify()
    assert 'src="http' not in page and "<script" not in page and "<link" not in page
    assert "Per class (val)" in page and "conv2d" in page  # per-class and layer tables
    assert "name: tiny_digits" in page  # the spec


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium)")
def test_report_renders_its_images_in_chromium(digits_run, tmp_path) -> None:
    page = write_report(digits_run).read_text()
    probe = (
        "<script>addEventListener('load', () => { document.body.dataset.sizes = "
        "[...document.images].map(i => i.naturalWidth + 'x' + i.naturalHeight).join(',');"
        "});</script></body>"
    )
    copy = tmp_path / "probe.html"  # the page itself has no script; the probe adds one
    copy.write_text(page.replace("</body>", probe))
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
            copy.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    sizes = re.search(r'data-sizes="([^"]*)"', dom).group(1).split(",")
    assert sizes == [f"{i.width}x{i.height}" for i in _images(page)]


def test_report_of_a_folder_that_is_not_a_run(tmp_path) -> None:
    with pytest.raises(RunError, match="not a run directory"):
        write_report(tmp_path)


def test_hyperparameters_are_flattened_by_key_path() -> None:
    import yaml

    flat = hyperparameters(yaml.safe_load(TINY))
    assert flat["optimizer.lr"] == 0.01 and flat["model.layers.0.out_features"] == 8
    assert flat["model.layers.1"] == "relu" and flat["model.input.shape"] == "[4]"


def test_tensorboard_events_hold_every_metric_per_epoch(tmp_path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = train(
        load_spec(write_tiny(tmp_path)),
        out_dir=tmp_path / "run",
        quiet=True,
        overrides=["train.log=[tensorboard]"],
    ).run_dir
    events = EventAccumulator(str(run / "tensorboard")).Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/accuracy", "val/loss", "val/accuracy", "lr"} <= tags
    val_loss = [e.value for e in events.Scalars("val/loss")]
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(val_loss) == 3 == len(rows) - 1
    assert val_loss[-1] == pytest.approx(summary(run)["final"]["val_loss"], rel=1e-6)
    assert _hparams(run)["optimizer.lr"] == pytest.approx(0.01)  # add_hparams' summary
    assert _hparams(run)["optimizer.type"] == "adam"


def _hparams(run: Path) -> dict:
    """The hyperparameters recorded by add_hparams (its session-start summary)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import plugin_data_pb2

    for path in (run / "tensorboard").glob("events.*"):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.tag == "_hparams_/session_start_info":
                    data = plugin_data_pb2.HParamsPluginData.FromString(
                        value.metadata.plugin_data.content
                    )
                    return {
                        k: v.number_value or v.string_value
                        for k, v in data.session_start_info.hparams.items()
                    }
    return {}


@pytest.mark.slow  # about 11 s on an idle machine: MLflow creates its SQLite store
def test_mlflow_logs_params_metrics_and_artifacts(tmp_path, monkeypatch) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # a store without an artifact root puts artifacts in ./mlruns
    text = TINY + "export: {onnx: {}}\n"
    run = train(
        load_spec(write_tiny(tmp_path, text)),
        out_dir=tmp_path / "run",
        quiet=True,
        overrides=["train.log=[mlflow]"],
    ).run_dir
    client = MlflowClient(tracking_uri=uri)
    (logged,) = client.search_runs([client.get_experiment_by_name("tiny_tune").experiment_id])
    assert logged.info.status == "FINISHED" and logged.data.params["optimizer.lr"] == "0.01"
    history = client.get_metric_history(logged.info.run_id, "val_loss")
    assert [m.step for m in history] == [1, 2, 3]
    assert history[-1].value == pytest.approx(summary(run)["final"]["val_loss"], rel=1e-6)
    names = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert {"best.pt", "curves.png", "confusion_matrix.png", "model.onnx", "spec.yaml"} <= names


def test_mlflow_store_defaults_to_the_run_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri, artifacts = tracking_uri(tmp_path)
    assert uri == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert artifacts == (tmp_path.resolve() / "mlartifacts").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking:5000")
    assert tracking_uri(tmp_path) == ("http://tracking:5000", None)


def test_a_missing_extra_is_named(tmp_path, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    with pytest.raises(RunError, match=r"pip install 'specc\[mlflow\]'") as caught:
        train(
            load_spec(write_tiny(tmp_path)),
            out_dir=tmp_path / "run",
            quiet=True,
            overrides=["train.log=[mlflow]"],
        )
    assert caught.value.exit_code == 2 and not (tmp_path / "run").exists()


def test_summary_json_stays_json(digits_run) -> None:
    json.loads((digits_run / "summary.json").read_text())
