"""Runaways and values that validate but break later: refused early, with a located error.

Classes covered here:

- runaways: YAML alias bombs and deep nesting (in a spec and in a ``--set`` value), block
  ``repeat`` counts, gzip and npz archives that inflate past the data limit, models whose
  weights exceed the memory (build, train, export), refused before the work;
- values: integers beyond int64, per-sample sizes beyond the limit, non-finite numbers,
  ``outputs: []``, reserved layer names (nn.Module's attributes, compared with torch), spec
  names that clash with train.py, the seed range, non-name keys and ``outputs: input``.
"""

from __future__ import annotations

import ast
import gzip

import numpy as np
import pytest
import torch
from hostile_helpers import TINY, cli, one_error_line, tiny_project

from specc.errors import RunError, SpecErrors
from specc.ops.base import MODULE_ATTRIBUTES, RESERVED_NAMES
from specc.spec.load import MAX_DEPTH
from specc.spec.validate import MAX_LAYERS, check_text, load_spec
from specc.train.overrides import parse_override

HEAD = "version: 1\nname: x\n"
MODEL = "model:\n  input: {shape: [4]}\n  layers:\n    - {type: linear, out_features: 2}\n"


def errors_of(text: str) -> list:
    spec, errors = check_text(text, "h.yaml")
    assert spec is None and errors
    return errors


def bomb(levels: int = 9) -> str:
    """A billion-laughs alias bomb: 9 levels of 9 aliases each."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


# --- runaways ---------------------------------------------------------------------------------


def test_an_alias_bomb_is_refused_at_a_line() -> None:
    (error,) = errors_of(HEAD + bomb() + MODEL)
    assert error.code == "E902" and error.line >= 3


def test_an_alias_bomb_in_a_set_value_is_refused() -> None:
    value = "{" + bomb().replace("\n", ", ").rstrip(", ").replace(": &", ": &") + "}"
    with pytest.raises(RunError) as caught:
        parse_override(f"data.x={value}")
    assert caught.value.exit_code == 2 and "expands to more than" in str(caught.value)


@pytest.mark.parametrize("style", ["flow", "block", "set"])
def test_nesting_10_to_the_5_deep_is_a_located_error(style: str) -> None:
    depth = 100_000
    if style == "set":
        with pytest.raises(RunError) as caught:
            parse_override("model.x=" + "[" * depth + "]" * depth)
        assert caught.value.exit_code == 2 and f"more than {MAX_DEPTH}" in str(caught.value)
        return
    if style == "flow":
        body = "model: " + "[" * depth + "]" * depth + "\n"
    else:
        body = "model:\n" + "".join(" " * i + "- \n" for i in range(1, 2000))
    (error,) = errors_of(HEAD + body)
    assert error.code == "E901" and f"nested more than {MAX_DEPTH} levels" in error.message
    assert error.line == (3 if style == "flow" else 3 + MAX_DEPTH)


@pytest.mark.parametrize("repeat", [1_000_000, 10**8, 10**18])
def test_a_huge_block_repeat_is_refused_before_expanding(repeat: int) -> None:
    text = (
        HEAD
        + f"""model:
  input: {{shape: [4]}}
  blocks:
    b: {{layers: [{{type: linear, out_features: 4}}, relu]}}
  layers:
    - relu
    - {{type: block, block: b, repeat: {repeat}}}
"""
    )
    (error,) = errors_of(text)
    assert error.line == 9 and error.col == text.splitlines()[8].index("repeat") + 1
    assert error.code == "E903" and f"more than {MAX_LAYERS:,} layers" in error.message


def test_many_layers_of_a_wide_block_count_too() -> None:
    inner = ", ".join(["relu"] * 200)
    text = (
        HEAD
        + f"""model:
  input: {{shape: [4]}}
  blocks:
    b: {{layers: [{inner}]}}
  layers:
    - {{type: block, block: b, repeat: 60}}
"""
    )
    (error,) = errors_of(text)
    assert error.code == "E903" and "12,000" in error.message


def test_a_gzip_that_inflates_past_the_limit_is_stopped(tmp_path, monkeypatch) -> None:
    from specc.data.idx import read_idx

    monkeypatch.setattr("specc.limits.MAX_DATA_BYTES", 2**20)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    header = bytes([0, 0, 8, 3]) + (4000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    path.write_bytes(gzip.compress(header + bytes(4000 * 28 * 28)))
    assert path.stat().st_size < 20_000  # 3 MB inflated from a few kB
    with pytest.raises(RunError, match="decompresses to more than 1 MB"):
        read_idx(path, 3)
    monkeypatch.setattr("specc.limits.MAX_DATA_BYTES", 2**23)
    assert read_idx(path, 3).shape == (4000, 28, 28)  # under the limit it reads


def test_an_npz_that_inflates_past_the_limit_is_refused(tmp_path, monkeypatch) -> None:
    from specc.data.sources import load_source

    np.savez_compressed(tmp_path / "b.npz", x=np.zeros((3000, 100)), y=np.zeros(3000))
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(
        HEAD + "model:\n  input: {shape: [100]}\n  layers: [relu]\n"
        "data:\n  source: {type: npz, path: b.npz}\n"
    )
    spec = load_spec(spec_path)
    monkeypatch.setattr("specc.limits.MAX_DATA_BYTES", 2**20)
    with pytest.raises(RunError, match="decompresses to more than 1 MB"):
        load_source(spec, tmp_path)
    monkeypatch.setattr("specc.limits.MAX_DATA_BYTES", 2**23)
    assert load_source(spec, tmp_path).x.shape == (3000, 100)


def test_a_model_too_big_for_memory_is_refused_before_allocating(tmp_path, monkeypatch, capsys):
    huge = TINY.replace("out_features: 4}", "out_features: 100000000000}")  # 10^11 weights
    spec = tiny_project(tmp_path, huge)
    for args in (
        ("build", spec),
        ("train", spec, "--out", tmp_path / "run", "-q"),
        ("export", spec, "-o", tmp_path / "m.onnx"),
    ):
        code, _, err = cli(monkeypatch, capsys, *args)
        assert code == 1, (args, err)
        one_error_line(err, "needs about", "500,000,000,002 parameters", "before allocating")
    assert not (tmp_path / "run").exists() and not (tmp_path / "m.onnx").exists()


# --- values that validate but break later --------------------------------------------------


def test_integers_beyond_int64_are_located() -> None:
    text = HEAD + MODEL.replace("out_features: 2", "out_features: " + "9" * 38)
    (error,) = errors_of(text)
    assert (error.line, error.code) == (6, "E003")


def test_a_sample_beyond_the_size_limit_is_located() -> None:
    text = HEAD + "model:\n  input: {shape: [1048576, 1048576, 4]}\n  layers: [relu]\n"
    (error,) = errors_of(text)
    assert (error.line, error.code) == (4, "E904")


@pytest.mark.parametrize(
    "where, value",
    [
        ("{type: leakyrelu, negative_slope: VALUE}", ".inf"),
        ("{type: elu, alpha: VALUE}", ".nan"),
        ("{type: batchnorm1d, eps: VALUE}", "-.inf"),
        ("{type: dropout, p: VALUE}", "1.0e+400"),
    ],
)
def test_non_finite_numbers_are_located(where: str, value: str) -> None:
    layer = where.replace("VALUE", value)
    text = HEAD + f"model:\n  input: {{shape: [4]}}\n  layers:\n    - {layer}\n"
    (error,) = errors_of(text)
    assert (error.line, error.code) == (6, "E003")
    assert error.col == 7 + layer.index(value)


@pytest.mark.parametrize(
    "section",
    [
        "optimizer: {type: adam, lr: .inf}",
        "optimizer: {type: adam, lr: inf}",
        "optimizer: {type: adam, lr: '1e999'}",
        "train: {epochs: 1, grad_clip: .nan}",
        "data:\n  source: {type: inline, x: [[1, .inf]], y: [1]}",
    ],
)
def test_non_finite_numbers_in_sections_are_located(section: str) -> None:
    text = HEAD + MODEL + section + "\n"
    errors = errors_of(text)
    # E003 when YAML reads a non-finite number, E106 when pydantic parses one from text
    assert any(e.code in ("E003", "E106") and e.line >= 7 for e in errors), errors
    assert any("finite number" in e.message for e in errors), errors


def test_outputs_empty_and_outputs_input_have_clear_messages() -> None:
    (error,) = errors_of(HEAD + MODEL + "  outputs: []\n")
    assert (error.line, error.code) == (7, "E403") and "model.outputs is empty" in error.message
    (error,) = errors_of(HEAD + MODEL + "  outputs: input\n")
    assert (error.line, error.code) == (7, "E403")
    assert "cannot be the model's 'input'" in error.message
    assert "did you mean" not in error.message


def test_reserved_names_are_nn_modules_public_attributes() -> None:
    live = {name for name in dir(torch.nn.Module) if not name.startswith("_")}
    assert live == MODULE_ATTRIBUTES  # regenerate the frozen list when torch adds one
    assert MODULE_ATTRIBUTES <= RESERVED_NAMES


@pytest.mark.parametrize(
    "name", ["register_forward_hook", "to_empty", "set_submodule", "T_destination", "training"]
)
def test_module_attribute_layer_names_are_rejected(name: str) -> None:
    (error,) = errors_of(HEAD + MODEL.replace("out_features: 2", f"out_features: 2, name: {name}"))
    assert (error.line, error.code) == (6, "E207") and "reserved" in error.message


@pytest.mark.parametrize("name", ["Path", "HERE", "SEED", "EPOCHS", "StandardScaler", "path"])
def test_spec_names_never_clash_with_train_py(tmp_path, name: str) -> None:
    from specc.backends.source import class_name
    from specc.backends.train_source import render_train_source

    text = TINY.replace("name: tiny", f"name: {name}").replace(
        "  batch_size: 8", "  preprocess: [{type: standard_scaler}]\n  batch_size: 8"
    )
    spec = load_spec(tiny_project(tmp_path, text))
    source = render_train_source(spec)
    tree = ast.parse(source)
    bound = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound += [(a.asname or a.name).split(".")[0] for a in node.names]
        elif isinstance(node, ast.Assign):
            bound += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.append(node.name)
    assert bound.count(class_name(spec)) == 1, (class_name(spec), bound)


@pytest.mark.parametrize("seed", ["-1", "4294967296", "18446744073709551616"])
def test_the_seed_range_is_located_at_seed(seed: str) -> None:
    (error,) = errors_of(HEAD + f"seed: {seed}\n" + MODEL)
    assert error.line == 3 and error.key_path[:1] == ("seed",), error
    assert error.code in ("E003", "E106"), error  # beyond int64 YAML refuses it already
    two = errors_of(
        HEAD + MODEL + f"data:\n  source: {{type: sklearn, name: iris}}\n"
        f"  split: {{val: 0.2, seed: {seed}}}\n"
    )
    assert any(e.line == 9 for e in two), two


def test_keys_that_are_not_names_are_located_at_their_lines() -> None:
    text = HEAD + "1: a\ntrue: b\nnull: c\n2.5: d\n~: e\n" + MODEL
    errors = errors_of(text)
    assert [(e.line, e.code) for e in errors] == [(line, "E006") for line in (3, 4, 5, 6, 7)]
    assert "reads as an integer" in errors[0].message and "'1'" in errors[0].message
    assert "reads as a boolean" in errors[1].message
    assert not any(e.code == "E004" for e in errors)  # no "duplicate key"
    (error,) = errors_of(HEAD + MODEL.replace("{type: linear", "{[1]: 2, type: linear"))
    assert (error.line, error.code) == (6, "E006") and "plain value" in error.message


def test_generated_code_holds_no_bare_inf_or_nan(tmp_path) -> None:
    """Non-finite numbers never reach generated code: they are refused at load, also
    through --set."""
    from specc.train.overrides import apply_overrides

    spec = load_spec(tiny_project(tmp_path))
    for value in (".inf", ".nan", "1e999", "inf", "Infinity"):
        with pytest.raises((RunError, SpecErrors)) as caught:
            apply_overrides(spec, [f"optimizer.lr={value}"])
        assert "finite number" in str(caught.value)
