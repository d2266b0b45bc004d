"""``specc build SPEC [--json] [--emit DIR] [--explain]`` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from compiler_helpers import ROOT, ruff
from typer.testing import CliRunner

from specc import build_model, load_spec
from specc.cli import app
from specc.commands.common import run_app
from specc.summary import summarize, tree_rows

LENET = ROOT / "tests/specs/lenet.yaml"
RESIDUAL = ROOT / "tests/specs/residual.yaml"
BAD = """version: 1
name: bad
model:
  input: {shape: [1, 28, 28]}
  layers:
    - {type: conv2d, out_channel: 6, kernel_size: 5}
    - {type: linear, out_features: 10, name: "x; import os"}
"""


def _invoke(*args: str):
    return CliRunner().invoke(app, ["build", *args])


def test_table_lists_every_layer_and_the_totals() -> None:
    result = _invoke(str(LENET))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for name in ("conv2d_1", "conv2", "maxpool2d_2", "flatten_1", "linear_1", "logits"):
        assert name in out
    assert "[16, 5, 5]" in out and "48,120" in out
    assert "output: logits [10]" in out
    assert "parameters: 61,706 (61,706 trainable)" in out
    assert "size: 0.247 MB" in out
    assert "multiply-accumulates per sample: 416,520" in out
    assert "conv2d: (28 + 2*2 - 5)/1 + 1 = 28" not in out  # only with --explain


def test_json_object_has_the_documented_keys() -> None:
    result = _invoke(str(LENET), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert {
        "name",
        "class_name",
        "params",
        "trainable_params",
        "macs",
        "input_shape",
        "output_shape",
        "layers",
    } <= set(data)
    assert (data["name"], data["class_name"]) == ("lenet5", "Lenet5")
    assert (data["params"], data["trainable_params"]) == (61_706, 61_706)
    assert data["input_shape"] == [1, 28, 28] and data["output_shape"] == [10]
    assert data["layers"][0] == {
        "name": "conv2d_1",
        "type": "conv2d",
        "output_shape": [6, 28, 28],
        "params": 156,
        "line": 9,
    }
    assert sum(layer["params"] for layer in data["layers"]) == data["params"]
    assert all(
        set(layer) == {"name", "type", "output_shape", "params", "line"} for layer in data["layers"]
    )


def test_json_with_several_outputs_lists_their_shapes_in_order() -> None:
    data = json.loads(_invoke(str(RESIDUAL), "--json").stdout)
    assert data["output_shape"] == [[5], [1]] and data["outputs"] == ["classes", "score"]


def test_explain_shows_the_arithmetic() -> None:
    result = _invoke(str(LENET), "--explain")
    assert result.exit_code == 0, result.stderr
    assert "conv2d: (28 + 2*2 - 5)/1 + 1 = 28" in result.stdout
    assert "linear: 400*120 + 120 = 48,120 parameters" in result.stdout
    assert "flatten: 16*5*5 = 400" in result.stdout
    data = json.loads(_invoke(str(LENET), "--json", "--explain").stdout)
    assert "linear: 400*120 + 120 = 48,120 parameters" in data["layers"][7]["explain"]


def test_emit_writes_a_standalone_model_file(tmp_path: Path) -> None:
    out_dir = tmp_path / "deep" / "out"
    result = _invoke(str(LENET), "--emit", str(out_dir))
    assert result.exit_code == 0, result.stderr
    model_py = out_dir / "model.py"
    assert f"wrote {model_py}" in result.stdout
    assert model_py.read_text(encoding="utf-8") == (ROOT / "tests/golden/lenet_model.py").read_text(
        encoding="utf-8"
    ).replace("tests/specs/lenet.yaml", str(LENET))
    assert ruff("check", str(model_py)).returncode == 0
    assert ruff("format", "--check", str(model_py)).returncode == 0
    # running generated files without specc: test_compiler runs every spec's file that way


def test_emit_json_lists_the_files(tmp_path: Path) -> None:
    data = json.loads(_invoke(str(LENET), "--json", "--emit", str(tmp_path)).stdout)
    assert data["files"] == [str(tmp_path / "model.py"), str(tmp_path / "train.py")]


def test_emit_into_a_file_is_one_clear_line_and_exit_1(tmp_path: Path, capsys, monkeypatch) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["specc", "build", str(LENET), "--emit", str(blocker / "sub")])
    assert run_app(app) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write to ")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_bad_spec_gets_exactly_the_validate_report_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD, encoding="utf-8")
    run = [sys.executable, "-m", "specc"]
    validate = subprocess.run(
        [*run, "validate", str(bad)], capture_output=True, text=True, timeout=120
    )
    build = subprocess.run(
        [*run, "build", str(bad), "--json"], capture_output=True, text=True, timeout=120
    )
    assert validate.returncode == build.returncode == 2
    assert build.stderr == validate.stderr
    assert "bad.yaml:6:" in build.stderr and "bad.yaml:7:" in build.stderr
    assert build.stdout == "" and "Traceback" not in build.stderr


@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.yaml")), ids=lambda p: p.name)
def test_summary_totals_equal_the_real_module(path: Path) -> None:
    spec = load_spec(path)
    static, real = summarize(spec), summarize(spec, build_model(spec))
    assert static.params == real.params == real.trainable_params
    assert sum(row.params for row in real.layers) == real.params


def test_a_model_torch_cannot_allocate_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    import resource

    huge = tmp_path / "huge.yaml"
    huge.write_text(
        """version: 1
name: huge
model:
  input: {shape: [10000000]}
  layers:
    - {type: linear, out_features: 10000000}
""",
        encoding="utf-8",
    )

    def limit_memory() -> None:  # 400 TB of weights must fail to allocate, never swap
        resource.setrlimit(resource.RLIMIT_AS, (8 * 2**30, 8 * 2**30))

    proc = subprocess.run(
        [sys.executable, "-m", "specc", "build", str(huge)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_memory,
    )
    assert proc.returncode == 1, proc.stderr
    # refused from the parameter count, before torch tries the allocation
    assert proc.stderr.startswith(f"error: {huge}: building 'huge' needs about")
    assert "100,000,010,000,000 parameters" in proc.stderr and "before allocating" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_table_nests_rows_by_block_scope() -> None:
    """Blocks, repeated uses and sequentials get a row each (their parameters summed) and
    their members are indented under them, as the generated module nests them."""
    spec = load_spec(ROOT / "specs" / "zoo" / "resnet18.yaml")
    rows = tree_rows(spec.graph)
    leaves = [r for r in rows if not r.scope]
    assert len(leaves) == len(spec.graph.nodes)
    assert sum(r.params for r in leaves) == spec.graph.params
    layer2 = next(i for i, r in enumerate(rows) if r.key == "layer2")
    assert (rows[layer2].type, rows[layer2].depth) == ("2 x basic", 0)
    first = rows[layer2 + 1]
    assert (first.key, first.type, first.depth, first.params) == ("0", "basic", 1, 230_144)
    assert [(r.key, r.depth) for r in rows[layer2 + 2 : layer2 + 4]] == [("conv1", 2), ("bn1", 2)]
    down = next(r for r in rows[layer2:] if r.key == "downsample")
    assert (down.type, down.depth, down.params) == ("sequential", 2, 8_192 + 256)
    result = _invoke(str(ROOT / "specs" / "zoo" / "resnet18.yaml"))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("│ layer2 ") and "525,568" in line for line in lines)
    assert any(line.startswith("│     conv1 ") for line in lines)
    assert "layer2.0.conv1" not in result.stdout
