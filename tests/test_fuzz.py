"""Fuzzing: whatever the text, validation returns a spec or located errors, and never raises.

``check_text`` must only ever return ``(Spec, [])`` or ``(None, [SpecError, ...])``: random
YAML-ish text, and random structural and textual mutations of the shipped specs (deleted,
duplicated, renamed and retyped keys, random values) must not let any other exception escape.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specc.codes import CODES
from specc.errors import SpecError
from specc.ops import LAYER_TYPES
from specc.spec.schema import Spec
from specc.spec.validate import check_text

ROOT = Path(__file__).resolve().parents[1]
# the shipped specs, plus one zoo spec and the fixture using every broadcasting/shape/activation op
SPECS = [
    *sorted((ROOT / "specs").glob("*.yaml")),
    ROOT / "specs/zoo/text_cnn.yaml",
    ROOT / "tests/specs/modern_ops.yaml",
]
TEXTS = {p.name: p.read_text(encoding="utf-8") for p in SPECS}
# the block language's forms, nested: expressions, defaults over params, first, when,
# sequential (positional and named), copy_names, a block inside a block inside a sequential
NESTED = Path(__file__).resolve().parent / "specs" / "nested.yaml"
TEXTS[NESTED.name] = NESTED.read_text(encoding="utf-8")
DATA = {name: yaml.safe_load(text) for name, text in TEXTS.items()}

# SPECC_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py fuzzes harder than the default run.
FUZZ = settings(
    max_examples=int(os.environ.get("SPECC_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

WORDS = sorted(
    {
        *LAYER_TYPES,
        "block",
        "input",
        "name",
        "inputs",
        "type",
        "layers",
        "model",
        "shape",
        "version",
        "outputs",
        "blocks",
        "params",
        "args",
        "repeat",
        "loss",
        "optimizer",
        "data",
        "train",
        "export",
        "source",
        "out_features",
        "kernel_size",
        "hidden_size",
        "output",
        "last",
        "sequence",
        "dim",
        "$width",
        "lr",
        "epochs",
        "cross_entropy",
        "adam",
        "csv",
        "mnist",
        "split",
        "val",
        "forward",
        "x",
        "sequential",
        "when",
        "first",
        "copy_names",
        "$c * 2",
        "($c + 1) // 0",
        "$s != 1 or",
        "not $n",
        "u{n}",
        "$nope",
        "unit",
        "stage",
    }
)
TOKENS = [
    *WORDS,
    ": ",
    ":",
    "- ",
    "\n",
    "\n  ",
    "\n    ",
    "{",
    "}",
    "[",
    "]",
    ", ",
    "'",
    '"',
    "#",
    "&a ",
    "*a",
    "!!python/name:os.system ",
    "!!str ",
    "<<: ",
    "? ",
    "|",
    ">",
    "%",
    "@",
    "\t",
    "1",
    "0",
    "-1",
    "1e9",
    ".nan",
    "null",
    "true",
    "~",
    "é",
    "\x00",
    "\ufeff",
]


def assert_contract(text: str) -> None:
    """The only allowed outcomes of validation."""
    result = check_text(text, "fuzz.yaml")
    assert isinstance(result, tuple) and len(result) == 2
    spec, errors = result
    if spec is not None:
        assert isinstance(spec, Spec) and errors == [] and spec.graph is not None
        names = [node.name for node in spec.graph.nodes]
        assert all(
            isinstance(n, str) and all(p.isidentifier() or p.isdigit() for p in n.split("."))
            for n in names
        ), names
        assert len(set(names)) == len(names)
        return
    assert errors, "an invalid spec must say why"
    n_lines = max(1, len(text.splitlines()) + 1)
    for error in errors:
        assert isinstance(error, SpecError)
        assert error.path == "fuzz.yaml" and error.message
        assert 1 <= error.line <= n_lines and error.col >= 1, error
        assert "\n" not in error.header()
        assert error.code in CODES, error


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 10**7)
    | st.floats(allow_nan=True)
    | st.text(max_size=6)
    | st.sampled_from(WORDS)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(WORDS) | st.integers(0, 3), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


def _mutate(data: Any, path: tuple, op: str, new: Any, key: Any) -> Any:
    """Apply one mutation at ``path`` (the root itself when path is empty)."""
    if not path:
        return new if op == "retype" else data
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "retype":
        parent[last] = new
    elif op == "rename" and isinstance(parent, dict) and key not in parent:
        parent[key] = parent.pop(last)
    elif op == "copy" and isinstance(parent, dict):
        parent[key] = parent[last]
    elif op == "copy" and isinstance(parent, list):
        parent.insert(last, parent[last])
    return data


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_random_yamlish_text(text: str):
    assert_contract(text)


@FUZZ
@given(st.text(max_size=200))
def test_random_unicode_text(text: str):
    assert_contract(text)


@FUZZ
@given(st.sampled_from(sorted(DATA)), st.data())
def test_structural_mutations_of_shipped_specs(name: str, draw: st.DataObject):
    data = yaml.safe_load(TEXTS[name])  # a fresh copy
    for _ in range(draw.draw(st.integers(1, 3))):
        paths = _paths(data)
        path = draw.draw(st.sampled_from(paths))
        op = draw.draw(st.sampled_from(["delete", "retype", "rename", "copy"]))
        data = _mutate(data, path, op, draw.draw(values), draw.draw(st.sampled_from(WORDS)))
    assert_contract(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


@FUZZ
@given(st.sampled_from(sorted(TEXTS)), st.data())
def test_textual_mutations_of_shipped_specs(name: str, draw: st.DataObject):
    lines = TEXTS[name].splitlines()
    for _ in range(draw.draw(st.integers(1, 3))):
        i = draw.draw(st.integers(0, len(lines) - 1))
        op = draw.draw(st.sampled_from(["delete", "duplicate", "insert", "cut"]))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])  # a duplicated key, or a repeated list item
        elif op == "insert":
            lines.insert(i, draw.draw(st.lists(st.sampled_from(TOKENS), max_size=8).map("".join)))
        elif op == "cut":
            j = draw.draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:j]
    assert_contract("\n".join(lines) + "\n")


def test_every_shipped_spec_satisfies_the_contract_unmutated():
    for text in TEXTS.values():
        spec, errors = check_text(text, "fuzz.yaml")
        assert spec is not None and errors == []
