"""The README's spec reference stays true: every type is documented and every example validates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from specc.ops import LAYER_TYPES
from specc.spec import sections
from specc.spec.validate import check_text

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")

# README heading -> (names that must be documented there, how to wrap an example in a spec)
BASE = "version: 1\nname: t\nmodel: {input: {shape: [4]}, layers: [relu]}\n"
TABLES = {
    "### Layer types": ({*LAYER_TYPES, "block", "sequential"}, None),
    "### `loss`": (sections.LOSSES, "loss: {}"),
    "### `optimizer`": (sections.OPTIMIZERS, "optimizer: {}"),
    "### `scheduler`": (sections.SCHEDULERS, "scheduler: {}"),
    "**Sources**": (sections.SOURCES, "data: {{source: {}}}"),
    "**Preprocessing steps**": (
        sections.PREPROCESS,
        "data: {{source: {{type: inline, x: [1], y: [1]}}, preprocess: [{}]}}",
    ),
    "**Transforms**": (
        sections.TRANSFORMS,
        "data: {{source: {{type: inline, x: [1], y: [1]}}, transforms: [{}]}}",
    ),
}


def _type_names(members) -> set[str]:
    return {
        m if isinstance(m, str) else m.model_fields["type"].annotation.__args__[0] for m in members
    }


def _rows(heading: str) -> list[tuple[str, str]]:
    """(type name, example) for each table row under ``heading``."""
    text = README.split(heading, 1)[1]
    rows = []
    for line in text.splitlines()[1:]:
        if line.startswith(("### ", "**")) and rows:
            break
        match = re.match(r"\| `(\w+)` \|.*\| `([^`]+)` \|$", line)
        if match:
            rows.append((match.group(1), match.group(2)))
    return rows


@pytest.mark.parametrize("heading", list(TABLES))
def test_every_type_is_documented_with_an_example(heading: str):
    names, _ = TABLES[heading]
    documented = [name for name, _ in _rows(heading)]
    assert sorted(documented) == sorted(_type_names(names))


LAYER_CONTEXTS = [
    # (input shape, dtype, layers written before the example)
    ([3, 16, 16], "float32", []),
    ([8, 16], "float32", []),
    ([16], "float32", []),
    ([3, 16, 16], "int64", []),
    ([16], "float32", ["{type: identity, name: a}", "{type: identity, name: b, inputs: input}"]),
    ([8, 8], "float32", ["{type: identity, name: a}", "{type: identity, name: b, inputs: input}"]),
    ([1, 16], "float32", []),
]
BLOCK = "  blocks: {residual: {layers: [relu]}}\n"


def _layer_spec(example: str, shape: list[int], dtype: str, before: list[str]) -> str:
    layers = "".join(f"    - {layer}\n" for layer in [*before, example])
    return (
        f"version: 1\nname: t\nmodel:\n  input: {{shape: {shape}, dtype: {dtype}}}\n"
        f"{BLOCK}  layers:\n{layers}"
    )


@pytest.mark.parametrize(("name", "example"), _rows("### Layer types"))
def test_layer_example_validates(name: str, example: str):
    assert example == name or yaml.safe_load(example)["type"] == name
    results = [check_text(_layer_spec(example, *context)) for context in LAYER_CONTEXTS]
    assert any(spec is not None for spec, _ in results), [e for _, e in results]


@pytest.mark.parametrize("heading", [h for h in TABLES if h != "### Layer types"])
def test_section_examples_validate(heading: str):
    _, wrap = TABLES[heading]
    last = {"bce": "sigmoid", "nll": "logsoftmax"}  # what these losses need before them
    for name, example in _rows(heading):
        parsed = yaml.safe_load(example)
        assert parsed == name or parsed["type"] == name
        base = BASE.replace("layers: [relu]", f"layers: [{last.get(name, 'relu')}]")
        _, errors = check_text(base + wrap.format(example) + "\n")
        assert errors == [], (example, errors)


def test_yaml_examples_validate():
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    checked = 0
    for block in blocks:
        data = yaml.safe_load(block)
        if not isinstance(data, dict) or "model" not in data or "[...]" in block:
            continue
        text = block if "version:" in block else "version: 1\nname: t\n" + block
        _, errors = check_text(text)
        assert errors == [], (block, errors)
        checked += 1
    assert checked >= 2
