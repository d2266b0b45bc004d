"""The safe YAML loader: plain data, the position of every key and value, located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from specc.spec.load import load_text
from specc.spec.validate import check_file, check_text

TEXT = """\
version: 1
name: t
model:
  input: {shape: [1, 8, 8]}
  layers:
    - {type: conv2d, out_channels: 4, kernel_size: 3}
    - relu
    - type: flatten
      start_dim: 1
"""


def test_positions_of_keys_and_values():
    loaded, errors = load_text(TEXT, "t.yaml")
    assert errors == [] and loaded is not None
    pos = loaded.positions
    assert loaded.data["model"]["layers"][1] == "relu"
    assert pos.key[("model",)] == (3, 1)
    assert pos.value[("model", "input", "shape")] == (4, 18)
    assert pos.value[("model", "layers", 0)] == (6, 7)
    assert pos.key[("model", "layers", 0, "kernel_size")] == (6, 39)
    assert pos.value[("model", "layers", 2, "start_dim")] == (9, 18)
    assert pos.locate(("model", "layers", 2, "start_dim"), at_key=True) == (9, 7)
    # an unknown deeper path falls back to the nearest enclosing node
    assert pos.locate(("model", "layers", 2, "nope", 3)) == (8, 7)


def test_anchors_and_aliases_are_plain_data():
    text = TEXT + "loss: &l mse\nexport: {onnx: {opset: 18}}\n"
    loaded, errors = load_text(text.replace("name: t", "name: &n t"), "t.yaml")
    assert errors == [] and loaded.data["name"] == "t" and loaded.data["loss"] == "mse"


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['x']",
        "!!python/name:os.system",
        "!custom 3",
        "!!python/tuple [1, 2]",
    ],
)
def test_no_constructed_objects(tag: str):
    loaded, errors = load_text(f"version: 1\nname: {tag}\n", "t.yaml")
    assert loaded is None
    assert [(e.line, e.col, e.code) for e in errors] == [(2, 7, "E005")]


def test_every_duplicate_key_is_reported():
    text = "version: 1\nname: a\nname: b\nmodel: {x: 1, x: 2}\n"
    loaded, errors = load_text(text, "t.yaml")
    assert loaded is None
    assert [(e.line, e.col, e.code) for e in errors] == [(3, 1, "E004"), (4, 15, "E004")]
    assert "first written at line 2" in errors[0].message


def test_non_scalar_key_is_an_error():
    loaded, errors = load_text("? [a, b]\n: 1\n", "t.yaml")
    assert loaded is None and [(e.line, e.code) for e in errors] == [(1, "E006")]


def test_standard_scalars_are_values():
    loaded, _ = load_text("a: 2024-01-01\nb: ~\nc: 1e-3\nd: yes\ne: 0x10\n", "t.yaml")
    data = loaded.data
    assert data["b"] is None and data["d"] is True and data["e"] == 16
    assert data["c"] == "1e-3"  # YAML 1.1: no dot, so a string...


def test_exponent_without_dot_still_works_as_a_learning_rate():
    spec, errors = check_text(TEXT + "optimizer: {type: adam, lr: 1e-3}\n", "t.yaml")
    assert errors == [] and spec.optimizer.lr == 0.001  # ...which the float field accepts


def test_control_character_is_a_located_one_line_error():
    _, errors = check_text("version: 1\nname: a\x07b\n", "t.yaml")
    assert [(e.line, e.col, e.code) for e in errors] == [(2, 8, "E002")]
    assert "'\\x07' is not allowed" in errors[0].message and "\n" not in errors[0].message


def test_byte_order_mark_is_accepted():
    spec, errors = check_text("\ufeff" + TEXT, "t.yaml")
    assert errors == [] and spec is not None


def test_missing_and_unreadable_files(tmp_path: Path):
    spec, errors, source = check_file(tmp_path / "nope.yaml")
    assert spec is None and errors[0].code == "E001" and source == ""
    assert "no such file" in errors[0].message
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    spec, errors, _ = check_file(binary)
    assert spec is None and [e.code for e in errors] == ["E001"]
    assert "cannot read" in errors[0].message


def test_valid_spec_keeps_its_source_and_positions(tmp_path: Path):
    path = tmp_path / "ok.yaml"
    path.write_text(TEXT, encoding="utf-8")
    spec, errors, source = check_file(path)
    assert errors == [] and source == TEXT
    assert spec.source_path == str(path) and spec.source == TEXT
    assert spec.line_of(("model", "layers", 1)) == 7
    assert [n.line for n in spec.graph.nodes] == [6, 7, 8]
    assert [n.name for n in spec.graph.nodes] == ["conv2d_1", "relu_1", "flatten_1"]


def test_block_layers_point_at_the_block_definition():
    text = """\
version: 1
name: t
model:
  input: {shape: [4]}
  blocks:
    mlp:
      params: {width: 8, act: relu}
      layers:
        - {type: linear, out_features: $width, name: fc}
        - {type: $act, name: act}
  layers:
    - {type: block, block: mlp, repeat: 2, name: body}
    - {type: block, block: mlp, args: {width: 2, act: tanh}}
"""
    spec, errors = check_text(text, "t.yaml")
    assert errors == []
    nodes = {n.name: n for n in spec.graph.nodes}
    assert list(nodes) == [
        "body.0.fc",
        "body.0.act",
        "body.1.fc",
        "body.1.act",
        "block_2.fc",
        "block_2.act",
    ]  # k counts named layers too
    assert nodes["body.1.fc"].inputs == ["body.0.act"]
    assert nodes["block_2.fc"].inputs == ["body.1.act"]
    assert nodes["block_2.act"].kind == "tanh" and nodes["block_2.fc"].shape == (2,)
    assert nodes["body.1.fc"].line == 9 and nodes["block_2.act"].line == 10


def test_null_name_means_an_automatic_name():
    text = TEXT.replace("    - relu\n", "    - {type: relu, name: null}\n")
    spec, errors = check_text(text, "t.yaml")
    assert errors == [] and spec.graph.nodes[1].name == "relu_1"
