"""Agreement between data and model before training, and task inference."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import torch

from specc import SpecErrors, load_spec
from specc.data import prepare_data

SHIPPED = Path(__file__).resolve().parent.parent / "specs" / "data"

TITANIC = """\
  source:
    type: csv
    path: titanic.csv
    target: Survived
    features: [Pclass, Sex, Age, SibSp, Parch, Fare, Embarked]
  preprocess:
    - {type: simple_imputer, strategy: median, columns: [Age]}
    - {type: simple_imputer, strategy: most_frequent, columns: [Embarked]}
    - {type: one_hot_encoder, columns: [Sex, Embarked]}
    - {type: standard_scaler}
  split: {val: 0.2, stratify: true}
"""


def make(
    tmp_path,
    data: str,
    *,
    shape="[8]",
    layers="    - {type: linear, out_features: 1}\n",
    loss: str | None = "bce_with_logits",
):
    loss_line = f"loss: {loss}\n" if loss else ""
    text = (
        f"version: 1\nname: t\nmodel:\n  input: {{shape: {shape}}}\n  layers:\n{layers}"
        f"{loss_line}data:\n{data if data[:2] == '  ' else textwrap.indent(data, '  ')}"
    )
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return load_spec(path)


def errors_of(spec, code: str):
    """The located errors preparing ``spec``'s data gives; each has ``code``."""
    with pytest.raises(SpecErrors) as info:
        prepare_data(spec)
    assert {e.code for e in info.value.errors} == {code}, info.value.errors
    return info.value.errors


def test_feature_width_after_one_hot(tmp_path):
    shutil.copy(SHIPPED / "titanic.csv", tmp_path)
    (error,) = errors_of(make(tmp_path, TITANIC), code="E509")
    assert error.message.startswith(
        "model.input.shape is [8] but the CSV gives 10 features after one_hot_encoder"
    )
    assert (error.line, error.key_path) == (4, ("model", "input", "shape"))
    assert error.hint == "set model.input.shape to [10]"
    data = prepare_data(make(tmp_path, TITANIC, shape="[10]"))
    assert data.train.x.shape == (712, 10) and data.val.x.shape == (179, 10)
    assert abs(data.train.y.mean().item() - 0.384) < 0.01  # stratified survival rate


def test_output_units_against_classes(tmp_path):
    layers = "    - {type: linear, out_features: 10, name: logits}\n"
    (error,) = errors_of(
        make(
            tmp_path,
            "source: {type: sklearn, name: iris}\n",
            shape="[4]",
            layers=layers,
            loss="cross_entropy",
        ),
        code="E509",
    )
    assert error.message == "the output layer 'logits' has 10 units but the target has 3 classes"
    assert error.line == 6 and error.key_path == ("model", "layers", 0)


def test_bce_needs_one_unit(tmp_path):
    layers = "    - {type: linear, out_features: 2}\n"
    (error,) = errors_of(
        make(
            tmp_path, "source: {type: sklearn, name: breast_cancer}\n", shape="[30]", layers=layers
        ),
        code="E509",
    )
    assert error.message.startswith("bce_with_logits needs 1 output unit for a binary target")


def test_regression_width(tmp_path):
    layers = "    - {type: linear, out_features: 2}\n"
    (error,) = errors_of(
        make(
            tmp_path,
            "source: {type: sklearn, name: diabetes}\n",
            shape="[10]",
            layers=layers,
            loss="mse",
        ),
        code="E509",
    )
    assert "gives [2] per sample but the target has 1 column" in error.message


IMAGES = "    - flatten\n    - {type: linear, out_features: 10}\n"


def test_image_shape_and_pad(tmp_path):
    data = "source: {type: sklearn, name: digits}\n"
    (error,) = errors_of(
        make(tmp_path, data, shape="[1, 12, 12]", layers=IMAGES, loss="cross_entropy"), code="E509"
    )
    assert (
        error.message == "model.input.shape is [1, 12, 12] but the samples of sklearn "
        "digits are [1, 8, 8]"
    )
    assert "pad or resize" in error.hint
    padded = data + "transforms: [{type: pad, padding: 2}]\n"
    prepared = prepare_data(
        make(tmp_path, padded, shape="[1, 12, 12]", layers=IMAGES, loss="cross_entropy")
    )
    assert prepared.train.x.shape == (1797, 1, 12, 12)
    assert prepared.train.x[:, :, :2].abs().sum() == 0  # the padded border
    scrambled = errors_of(
        make(tmp_path, data, shape="[4, 16]", layers=IMAGES, loss="cross_entropy"), code="E509"
    )
    assert "model.input.shape is [4, 16]" in scrambled[0].message
    rows = prepare_data(
        make(tmp_path, data, shape="[8, 8]", layers=IMAGES, loss="cross_entropy")
    )  # size-1 channel dropped: 8 rows of 8
    assert rows.train.x.shape == (1797, 8, 8)


def test_reshape_rules():
    from specc.data.checks import reshape_ok

    assert reshape_ok([1, 28, 28], [784]) and reshape_ok([64], [1, 8, 8])
    assert reshape_ok([1, 28, 28], [28, 28]) and reshape_ok([28, 28, 1], [1, 28, 28])
    assert not reshape_ok([32, 32, 3], [3, 32, 32]) and not reshape_ok([1, 8, 8], [4, 16])


def test_normalize_channels_and_random_crop_size(tmp_path):
    data = (
        "source: {type: sklearn, name: digits}\ntransforms:\n"
        "  - {type: normalize, mean: [0.5, 0.5], std: [0.2]}\n"
        "  - {type: random_crop, size: 6, padding: 1}\n"
    )
    (error,) = errors_of(
        make(tmp_path, data, shape="[1, 8, 8]", layers=IMAGES, loss="cross_entropy"), code="E508"
    )  # reported before the crop is checked
    assert "normalize has 2 mean values but the samples have 1 channels" in error.message
    assert error.key_path == ("data", "transforms", 0, "mean") and error.line == 12


def test_random_crop_must_keep_the_size(tmp_path):
    data = (
        "source: {type: sklearn, name: digits}\ntransforms:\n"
        "  - {type: random_crop, size: 6, padding: 1}\n"
    )
    (error,) = errors_of(
        make(tmp_path, data, shape="[1, 8, 8]", layers=IMAGES, loss="cross_entropy"), code="E508"
    )
    assert "random_crop size [6, 6] must equal the image size [8, 8]" in error.message


def test_a_crop_padding_too_large_for_memory_is_located_before_any_batch(tmp_path):
    data = (
        "source: {type: sklearn, name: digits}\ntransforms:\n"
        "  - {type: random_crop, size: 8, padding: 100000}\n"
    )
    (error,) = errors_of(
        make(tmp_path, data, shape="[1, 8, 8]", layers=IMAGES, loss="cross_entropy"), code="E904"
    )
    assert error.key_path == ("data", "transforms", 0, "padding")
    assert "[1, 200008, 200008]" in error.message and "more than the" in error.message
    fits = data.replace("100000", "2")
    assert prepare_data(
        make(tmp_path, fits, shape="[1, 8, 8]", layers=IMAGES, loss="cross_entropy")
    )


@pytest.mark.parametrize(
    ("y", "units", "task", "dtype"),
    [
        ("[0, 1, 2, 1, 0, 2]", 3, "multiclass", torch.int64),
        ("[0, 1, 1, 0, 1, 0]", 1, "binary", torch.float32),
        ("[0.5, 1.5, 2.25, 3.0, 0.1, 9.0]", 1, "regression", torch.float32),
    ],
)
def test_task_inferred_from_the_target_without_a_loss(tmp_path, y, units, task, dtype):
    data = f"source: {{type: inline, x: [[1], [2], [3], [4], [5], [6]], y: {y}}}\n"
    spec = make(
        tmp_path,
        data,
        shape="[1]",
        loss=None,
        layers=f"    - {{type: linear, out_features: {units}}}\n",
    )
    prepared = prepare_data(spec)
    assert prepared.task == task and prepared.train.y.dtype == dtype
