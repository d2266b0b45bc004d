"""Located errors of the activation, shape and broadcasting layer types: type-name hints that
never swap the operation, broadcasting's safety rule, and the batch dimension that shape ops
cannot touch."""

from __future__ import annotations

import pytest

from specc.ops import LAYER_TYPES
from specc.spec.type_hints import layer_type_hint
from specc.spec.validate import check_text

TYPES = sorted(LAYER_TYPES)


def _errors(layers: str, shape: str = "[3, 8, 8]") -> list:
    text = f"version: 1\nname: t\nmodel:\n  input: {{shape: {shape}}}\n  layers:\n{layers}"
    spec, errors = check_text(text, "t.yaml")
    assert spec is None and errors
    return errors


@pytest.mark.parametrize("kind", TYPES)
def test_a_real_type_is_never_unknown(kind):
    text = f"version: 1\nname: t\nmodel:\n  input: {{shape: [4]}}\n  layers: [{{type: {kind}}}]\n"
    _, errors = check_text(text, "t.yaml")
    assert not any(e.code == "E201" for e in errors), errors


@pytest.mark.parametrize(
    ("typed", "named", "not_offered"),
    [
        ("relu7", "'relu6' (min(max(x, 0), 6)) is a different operation", "did you mean"),
        ("conv3d", "'conv1d' (over [C, L]) and 'conv2d' (over [C, H, W]) are different", "did you"),
        ("maxpool3d", "'maxpool1d'", "did you mean"),
    ],
)
def test_a_digit_away_is_a_different_operation_not_a_spelling(typed, named, not_offered):
    hint = layer_type_hint(typed, TYPES)
    assert f"specc has no '{typed}'" in hint and named in hint
    assert not_offered not in hint


@pytest.mark.parametrize(
    ("typed", "meant", "twin"),
    [
        ("hardswsh", "hardswish", "hardsigmoid"),
        ("hardsigmod", "hardsigmoid", "hardswish"),
        ("avgpol2d", "avgpool2d", "avgpool1d"),
        ("maxpol2d", "maxpool2d", "maxpool1d"),
    ],
)
def test_a_near_twin_says_what_differs(typed, meant, twin):
    hint = layer_type_hint(typed, TYPES)
    assert hint.startswith(f" (did you mean '{meant}' (")
    assert f"not to be confused with '{twin}' (" in hint


def test_case_slips_and_plain_typos_keep_the_short_hint():
    assert layer_type_hint("ReLU6", TYPES) == " (did you mean 'relu6'?)"
    assert layer_type_hint("linaer", TYPES) == " (did you mean 'linear'?)"
    assert layer_type_hint("zzzzzz", TYPES) == ""


def test_unknown_type_error_is_located_with_the_hint():
    (error,) = _errors("    - {type: relu7}\n")
    assert (error.line, error.col) == (6, 14)
    assert "unknown layer type 'relu7'; specc has no 'relu7'" in error.message


@pytest.mark.parametrize(
    ("a", "b", "words"),
    [
        ([4, 1], [1, 4], "would broadcast to [4, 4], larger than every input"),
        ([4], [4, 1], "same number of dimensions"),
        ([4, 3], [4, 2], "dimension 2 (counting the batch) has sizes [2, 3]"),
    ],
)
def test_broadcasting_safety_rule_errors_say_why(a, b, words):
    layers = (
        f"    - {{type: parameter, shape: {a}, name: a}}\n"
        f"    - {{type: parameter, shape: {b}, name: b}}\n"
        "    - {type: add, inputs: [a, b]}\n"
    )
    (error,) = _errors(layers)
    assert (error.line, error.code) == (8, "E401") and words in error.message, error.message


def test_squeeze_and_excitation_broadcast_is_accepted():
    text = (
        "version: 1\nname: t\nmodel:\n  input: {shape: [8, 5, 5]}\n  layers:\n"
        "    - {type: mean, dim: [2, 3], keepdim: true}\n    - {type: sigmoid, name: g}\n"
        "    - {type: mul, inputs: [input, g]}\n"
    )
    spec, errors = check_text(text, "t.yaml")
    assert errors == [] and spec.graph.output_shapes == [(8, 5, 5)]


@pytest.mark.parametrize(
    ("layer", "words"),
    [
        ("{type: permute, dims: [1, 0, 2, 3]}", "moves the batch dimension"),
        ("{type: transpose, dim0: 0, dim1: 1}", "dim0 0 is the batch dimension"),
        ("{type: mean, dim: 0}", "is the batch dimension, which cannot be reduced"),
        ("{type: select, dim: -4, index: 0}", "is the batch dimension"),
        ("{type: squeeze, dim: 1}", "squeeze dim 1 has size 3, not 1"),
        ("{type: reshape, shape: [2, 95]}", "holds 190 elements per sample, but the input"),
        ("{type: reshape, shape: [-1, -1]}", "more than one -1"),
        (
            "{type: groupnorm, num_groups: 2}",
            "3 channels (the first dimension of [3, 8, 8]) do not",
        ),
        ("{type: prelu, num_parameters: 4}", "must be 1 or the number of channels: 3"),
        ("{type: hardtanh, min_val: 1.0, max_val: 0.0}", "min_val < max_val"),
        ("{type: slice, dim: 2, start: 9}", "is empty"),
    ],
)
def test_impossible_configurations_are_located_errors(layer, words):
    (error,) = _errors(f"    - {layer}\n")
    assert error.line == 6 and words in error.message, error.message
    assert error.code == "E401", error
