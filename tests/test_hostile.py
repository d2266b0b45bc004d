"""Spec text reaches generated code only as a validated identifier or a repr() literal.

Hostile layer and spec names are rejected at validation; hostile file names, paths and
data paths are rendered inert. Every generated file is checked with ``ast`` (only torch
imports, only calls into torch/nn/self/a few builtins) and run where specc is blocked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from compiler_helpers import check_generated_ast, run_without_specc, spec_from_text

from specc import build_model, load_spec, render_source
from specc.backends.source import class_name
from specc.spec.validate import check_text

BODY = """version: 1
name: {name}
model:
  input: {{shape: [4]}}
  layers:
    - {{type: linear, out_features: 3, name: {layer}}}
    - relu
"""

HOSTILE_LAYER_NAMES = [
    "x; import os",
    "__class__",
    "_private",
    "class",
    "lambda",
    "match",
    "self",
    "forward",
    "torch",
    "nn",
    "super",
    "x",
    "input",
    "state_dict",
    "a b",
    "1abc",
    "é",
    "a-b",
    "x\nimport os",
    '"""',
    "'''",
    "print",
    "a\\b",
    "a#b",
]


@pytest.mark.parametrize("layer", HOSTILE_LAYER_NAMES)
def test_hostile_layer_names_are_rejected_at_validation(layer: str) -> None:
    text = BODY.format(name="ok", layer=json.dumps(layer))
    spec, errors = check_text(text, "hostile.yaml")
    assert spec is None
    assert any(e.line == 6 and e.code == "E207" for e in errors), errors


def test_a_hostile_block_use_name_is_rejected() -> None:
    text = """version: 1
name: ok
model:
  input: {shape: [4]}
  blocks:
    b: {layers: [{type: linear, out_features: 4, name: fc}]}
  layers:
    - {type: block, block: b, name: "x; import os #"}
"""
    spec, errors = check_text(text, "hostile.yaml")
    assert spec is None
    assert any(e.code == "E207" and "'x; import os #" in e.message for e in errors), errors


@pytest.mark.parametrize("name", ['a"""b', "a'b", "a\nimport os", "a b", "x;y", "é"])
def test_hostile_spec_names_are_rejected(name: str) -> None:
    spec, errors = check_text(BODY.format(name=json.dumps(name), layer="fc"), "hostile.yaml")
    assert spec is None and any((e.line, e.code) == (2, "E107") for e in errors), errors


HOSTILE_FILE_NAMES = [
    "it's.yaml",
    'say "hi".yaml',
    "tri'''ple\"\"\"quote.yaml",
    "back\\slash\\N{x}.yaml",
    "new\nline\nimport os\n.yaml",
    "$(touch pwned).yaml",
    "ünïcode spec.yaml",
    "#hash.yaml",
    '""".yaml',
]


@pytest.mark.parametrize("file_name", HOSTILE_FILE_NAMES)
def test_hostile_file_names_render_inert(file_name: str, tmp_path: Path) -> None:
    path = tmp_path / file_name
    path.write_text(BODY.format(name="hostile", layer="fc"), encoding="utf-8")
    spec = load_spec(path)
    assert spec.source_path == str(path)
    source = render_source(spec)
    check_generated_ast(source, class_name(spec))
    assert "import os" not in source and "pwned" not in source.replace("touch_pwned", "")
    model = build_model(spec)
    assert tuple(model(torch.zeros(2, 4)).shape) == (2, 3)


HOSTILE_PATHS = [
    '"""\nimport os\nos.system("touch pwned")\n"""/spec.yaml',
    "'''\nimport os\n'''/x.yaml",
    "C:\\Users\\N\\x'\".yaml",
    "dir\n# comment\nimport os/spec.yaml",
    "x\rimport os\r.yaml",
    "\\",
]


def test_hostile_paths_and_data_paths_render_inert_and_run(tmp_path: Path) -> None:
    files = []
    for k, where in enumerate(HOSTILE_PATHS):
        data_path = where.replace("spec.yaml", "data.csv")
        text = BODY.format(name=f"hostile-{k}", layer="fc") + (
            "data:\n  source: {type: csv, path: "
            + json.dumps(data_path)
            + ", target: y}\n  batch_size: 4\n"
        )
        spec = spec_from_text(text, where)
        assert spec.data is not None and spec.data.source.path == data_path
        source = render_source(spec)
        tree = check_generated_ast(source, class_name(spec))
        compile(tree, "hostile", "exec")
        lines = [line.lstrip() for line in source.splitlines()]
        assert not any(line.startswith(("import os", "os.", "'''")) for line in lines)
        out = tmp_path / f"model_{k}.py"
        out.write_text(source, encoding="utf-8")
        files.append(out)
        build_model(spec)
    ran = run_without_specc(files, tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["(2, 3)"] * len(files)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
