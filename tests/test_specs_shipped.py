"""Every shipped spec validates, says what it claims, and the committed JSON Schema is current."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specc.commands.schema_cmd import schema_text
from specc.ops import LAYER_TYPES
from specc.spec.validate import load_spec

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
SCHEMA_LINE = "# yaml-language-server: $schema=../specc.schema.json"
EXPECTED = {
    "alexnet",
    "diabetes",
    "digits_cnn",
    "lenet",
    "linear_regression",
    "logistic_regression",
    "mnist_folder",
    "mnist_softmax",
    "resnet",
    "rnn",
    "titanic",
}
SPEC_FILES = sorted(SPECS.glob("*.yaml"))


def _load(name: str):
    return load_spec(SPECS / f"{name}.yaml")


def test_the_expected_specs_are_shipped():
    assert {p.stem for p in SPEC_FILES} >= EXPECTED


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_shipped_spec_validates(path: Path):
    spec = load_spec(path)
    assert spec.graph is not None and spec.graph.nodes
    assert path.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_LINE


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.stem)
def test_shipped_data_paths_exist(path: Path):
    spec = load_spec(path)
    if spec.data is None or not hasattr(spec.data.source, "path"):
        return
    if spec.data.source.type == "image_folder":  # written from the IDX files by this script
        assert (path.parent / "data" / "mnist_to_png.py").exists()
        return
    assert (path.parent / spec.data.source.path).exists(), spec.data.source.path


def test_lenet_has_the_classic_layers_and_61706_parameters():
    spec = _load("lenet")
    graph = spec.graph
    assert graph.params == 61_706
    assert [n.name for n in graph.nodes] == [
        "conv2d_1",
        "relu_1",
        "maxpool2d_1",
        "conv2",
        "relu_2",
        "maxpool2d_2",
        "flatten_1",
        "linear_1",
        "relu_3",
        "linear_2",
        "relu_4",
        "logits",
    ]
    assert graph.node("linear_1").inferred.args["in_features"] == 400
    assert spec.loss.type == "cross_entropy" and spec.optimizer.lr == 0.001
    assert spec.data.split.val == 0.2 and spec.data.split.stratify
    assert spec.data.batch_size == 64 and 8 <= spec.train.epochs <= 10
    assert spec.export.onnx.opset == 18


def test_alexnet_matches_torchvision_parameter_count():
    graph = _load("alexnet").graph
    assert graph.params == 61_100_840
    assert graph.output_shapes == [(1000,)]
    kinds = [n.kind for n in graph.nodes]
    assert kinds.count("conv2d") == 5 and kinds.count("linear") == 3
    assert kinds.count("dropout") == 2 and kinds.count("maxpool2d") == 3
    assert graph.node("fc6").inferred.args["in_features"] == 256 * 6 * 6


def test_rnn_reads_mnist_rows():
    spec = _load("rnn")
    assert spec.model.input.shape == [28, 28]
    recurrent = spec.graph.nodes[0]
    assert recurrent.kind in ("lstm", "gru") and recurrent.layer.output == "last"
    assert spec.graph.output_shapes == [(10,)]
    assert spec.data.source.type == "mnist"


def test_resnet_uses_a_repeated_block_with_add():
    spec = _load("resnet")
    names = [n.name for n in spec.graph.nodes]
    assert "res.0.add" in names and "res.1.add" in names
    add = spec.graph.node("res.1.add")
    assert add.inputs == ["res.1.bn2", "res.0.out"]
    assert spec.graph.node("res.0.conv1").inputs == ["relu_1"]
    assert [s.path for s in spec.graph.scopes()] == ["res", "res.0", "res.1"]


def test_titanic_input_width_is_the_one_hot_width():
    import pandas as pd

    spec = _load("titanic")
    source = spec.data.source
    frame = pd.read_csv(SPECS / source.path)[source.features]
    encoded = [
        c for step in spec.data.preprocess if step.type == "one_hot_encoder" for c in step.columns
    ]
    filled = frame.copy()
    filled["Embarked"] = filled["Embarked"].fillna(filled["Embarked"].mode()[0])
    width = len([c for c in source.features if c not in encoded])
    width += sum(filled[c].nunique() for c in encoded)
    assert spec.model.input.shape == [width]


@pytest.mark.parametrize("name", ["titanic", "rnn", "diabetes", "resnet"])
def test_data_pipeline_gives_samples_of_the_input_shape(name: str):
    from specc.data import prepare_data

    spec = _load(name)
    prepared = prepare_data(spec)
    assert tuple(prepared.train.x.shape[1:]) == tuple(spec.model.input.shape)
    assert len(prepared.val.x) > 0


def test_tabular_specs_match_their_data():
    import pandas as pd

    spec = _load("diabetes")
    frame = pd.read_csv(SPECS / spec.data.source.path)
    assert spec.model.input.shape == [frame.shape[1] - 1]
    assert [n.inferred.shape for n in spec.graph.nodes if n.kind == "linear"] == [
        (32,),
        (16,),
        (1,),
    ]
    assert _load("linear_regression").data.source.x == [[1.0], [2.0], [3.0]]


# --- the JSON Schema ----------------------------------------------------------------------


def test_committed_schema_is_current():
    committed = (ROOT / "specc.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), "run: specc schema -o specc.schema.json"
    # shipped in the package through the symlink specc/specc.schema.json
    assert (ROOT / "specc" / "specc.schema.json").read_text(encoding="utf-8") == committed


def _layer_item_schema() -> dict:
    schema = json.loads(schema_text())
    return schema["$defs"]["ModelSpec"]["properties"]["layers"]["items"]


def test_schema_has_one_variant_per_layer_type():
    item = _layer_item_schema()
    union = next(s for s in item["anyOf"] if "discriminator" in s)
    assert set(union["discriminator"]["mapping"]) == {*LAYER_TYPES, "block", "sequential"}


def test_schema_lets_editors_complete_bare_layer_names():
    item = _layer_item_schema()
    bare = next(s for s in item["anyOf"] if "enum" in s)["enum"]
    assert {"relu", "flatten", "softmax"} <= set(bare)
    assert "linear" not in bare  # out_features is required
    loss = json.loads(schema_text())["properties"]["loss"]
    assert any("cross_entropy" in s.get("enum", ()) for s in loss["anyOf"])
