"""The compiler: spec -> generated model.py -> nn.Module, and their agreement.

Covers every spec in specs/ and the fixtures in tests/specs/: the in-memory module and the
generated file give identical weights and outputs; static parameter counts equal torch's;
the file passes ruff's defaults and runs where specc cannot be imported; golden files.
"""

from __future__ import annotations

import linecache
import re
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from compiler_helpers import (
    ROOT,
    check_generated_ast,
    import_file,
    ruff,
    run_without_specc,
    spec_from_text,
)
from regen_golden import GOLDEN, golden_source

from specc import build_model, load_spec, render_source
from specc.backends.module import compile_model_class
from specc.backends.naming import camel_case, plan_forward, safe_text, spec_label
from specc.backends.source import class_name

SPEC_FILES = (
    sorted((ROOT / "specs").glob("*.yaml"))
    + sorted((ROOT / "specs/zoo").glob("*.yaml"))
    + sorted((ROOT / "tests/specs").glob("*.yaml"))
)


def _sample(spec, batch: int = 2) -> torch.Tensor:
    graph = spec.graph
    gen = torch.Generator().manual_seed(0)
    if graph.input_dtype == "int64":
        high = min(getattr(n.layer, "num_embeddings", 2) for n in graph.consumers("input"))
        return torch.randint(0, high, (batch, *graph.input_shape), generator=gen)
    return torch.randn(batch, *graph.input_shape, generator=gen)


def _as_tuple(out) -> tuple[torch.Tensor, ...]:
    return out if isinstance(out, tuple) else (out,)


# about 3.5 s: two initialisations of a 133M-parameter model and two 224x224 forwards
LARGE_ZOO = {"vgg11_bn.yaml"}
AGREE_CASES = [
    pytest.param(p, marks=pytest.mark.slow) if p.parent.name == "zoo" and p.name in LARGE_ZOO else p
    for p in SPEC_FILES
]


@pytest.mark.parametrize("path", AGREE_CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_module_and_generated_file_agree(path: Path, tmp_path: Path) -> None:
    spec = load_spec(path)
    model_py = tmp_path / "model.py"
    model_py.write_text(render_source(spec), encoding="utf-8")
    generated = getattr(import_file(model_py), class_name(spec))

    torch.manual_seed(spec.seed)
    built = build_model(spec)
    rng_after_build = torch.get_rng_state()
    torch.manual_seed(spec.seed)
    from_file = generated()
    assert torch.equal(torch.get_rng_state(), rng_after_build)

    a, b = built.state_dict(), from_file.state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
    from_file.load_state_dict(a, strict=True)
    built.eval()
    from_file.eval()
    x = _sample(spec)
    with torch.no_grad():
        out_a, out_b = _as_tuple(built(x)), _as_tuple(from_file(x))
    assert len(out_a) == len(spec.graph.outputs)
    for ya, yb, shape in zip(out_a, out_b, spec.graph.output_shapes, strict=True):
        assert torch.equal(ya, yb)
        assert tuple(ya.shape) == (2, *shape)


KNOWN_COUNTS = {"alexnet.yaml": 61_100_840, "lenet.yaml": 61_706}  # torchvision's AlexNet


def _submodule(model, path: str):
    try:
        return model.get_submodule(path)
    except AttributeError:
        pass
    try:
        return model.get_parameter(path)  # a `parameter` layer: the tensor itself
    except AttributeError:
        return None  # a layer without a module (add, concat...)


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_static_parameter_counts_equal_torch(path: Path) -> None:
    spec = load_spec(path)
    model = build_model(spec)
    assert sum(p.numel() for p in model.parameters()) == spec.graph.params
    assert spec.graph.params == KNOWN_COUNTS.get(path.name, spec.graph.params)
    for node in spec.graph.nodes:
        sub = _submodule(model, node.name)
        if isinstance(sub, torch.nn.Parameter):  # a `parameter` layer: the tensor itself
            real = sub.numel()
        else:
            real = sum(p.numel() for p in sub.parameters()) if sub is not None else 0
        assert real == node.inferred.params, node.name


def _write_generated(spec_files: list[Path], folder: Path) -> list[Path]:
    """Write each spec's generated model.py into ``folder``, checking its AST on the way."""
    paths = []
    for path in spec_files:
        spec = load_spec(path)
        out = folder / f"{path.parent.name}_{path.stem}.py"
        out.write_text(render_source(spec), encoding="utf-8")
        check_generated_ast(out.read_text(encoding="utf-8"), class_name(spec))
        paths.append(out)
    return paths


def _assert_run_without_specc(paths: list[Path], folder: Path) -> None:
    ran = run_without_specc(paths, folder)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.count("\n") == len(paths)


ZOO_FILES = [p for p in SPEC_FILES if p.parent.name == "zoo"]


def test_generated_files_pass_ruff_defaults_and_run_without_specc(tmp_path: Path) -> None:
    """Every generated file is ruff-clean; those outside the zoo also run without specc."""
    paths = _write_generated(SPEC_FILES, tmp_path)
    assert len(paths) >= 3
    check = ruff("check", *map(str, paths))
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = ruff("format", "--check", "--diff", *map(str, paths))
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    small = [out for out, path in zip(paths, SPEC_FILES, strict=True) if path not in ZOO_FILES]
    _assert_run_without_specc(small, tmp_path)


@pytest.mark.slow  # about 6 s idle: a forward pass of every zoo model at 224x224 in a subprocess
def test_generated_zoo_files_run_without_specc(tmp_path: Path) -> None:
    _assert_run_without_specc(_write_generated(ZOO_FILES, tmp_path), tmp_path)


def test_lenet_parameters_match_a_hand_written_torch_model() -> None:
    hand = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(400, 120),
        torch.nn.ReLU(),
        torch.nn.Linear(120, 84),
        torch.nn.ReLU(),
        torch.nn.Linear(84, 10),
    )
    model = build_model(load_spec(ROOT / "tests/specs/lenet.yaml"))
    ours = [tuple(p.shape) for p in model.parameters()]
    assert ours == [tuple(p.shape) for p in hand.parameters()]
    assert sum(p.numel() for p in model.parameters()) == 61_706


@pytest.mark.parametrize("spec_name", sorted(GOLDEN))
def test_golden_files(spec_name: str) -> None:
    golden = ROOT / "tests/golden" / GOLDEN[spec_name]
    assert golden_source(spec_name) == golden.read_text(encoding="utf-8"), (
        f"{golden} is out of date; after an intended change run "
        "`.venv/bin/python tests/regen_golden.py` and review the diff"
    )


def test_lenet_source_has_named_layers_shape_comments_and_a_main() -> None:
    text = golden_source("lenet.yaml")
    assert "class Lenet5(nn.Module):" in text
    assert "def __init__(self):" in text
    assert "        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)  # lenet.yaml:12\n" in text
    assert "        x = self.conv2d_1(x)  # (B, 6, 28, 28)  lenet.yaml:9\n" in text
    assert "        x = self.flatten_1(x)  # (B, 400)  lenet.yaml:15\n" in text
    assert "        return x\n" in text
    assert 'if __name__ == "__main__":' in text
    forward = text.split("def forward")[1].split('"""')[2].split("return")[0]
    code_lines = [line for line in forward.splitlines() if line.strip()]
    assert code_lines and all("  # (B, " in line for line in code_lines)


def test_build_model_does_not_seed() -> None:
    spec = load_spec(ROOT / "tests/specs/lenet.yaml")
    torch.manual_seed(1)
    first = build_model(spec).state_dict()
    second = build_model(spec).state_dict()
    assert not torch.equal(first["logits.weight"], second["logits.weight"])


def test_traceback_points_at_generated_lines_with_spec_comments() -> None:
    spec = load_spec(ROOT / "tests/specs/lenet.yaml")
    model = build_model(spec)
    with pytest.raises(RuntimeError) as info:
        model(torch.zeros(2, 3, 28, 28))  # wrong channel count
    frames = [f for f in traceback.extract_tb(info.tb) if f.filename.startswith("<specc:")]
    assert frames, "no frame in the generated code"
    frame = frames[-1]
    assert frame.filename.startswith("<specc:lenet.yaml:")
    assert frame.line == "x = self.conv2d_1(x)  # (B, 6, 28, 28)  lenet.yaml:9"
    assert linecache.getline(frame.filename, frame.lineno).strip() == frame.line
    assert type(model).__name__ == "Lenet5" == compile_model_class(spec).__name__


def test_importing_specc_and_the_compiler_does_not_import_torch() -> None:
    code = (
        "import sys, specc, specc.backends.source, specc.backends.emit, specc.summary, "
        "specc.commands.build_cmd, specc.cli; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("lenet5", "Lenet5"),
        ("digits_resnet", "DigitsResnet"),
        ("residual-two-heads", "ResidualTwoHeads"),
        ("3layer", "Model3layer"),
        ("none", "NoneModel"),
        ("true", "TrueModel"),
        ("exception", "ExceptionModel"),
        ("module", "ModuleModel"),
        ("_-_", "Model"),
        ("mlp", "Mlp"),
    ],
)
def test_class_names_are_safe_camel_case(name: str, expected: str) -> None:
    assert camel_case(name) == expected
    assert expected.isidentifier()


def test_safe_text_and_labels_drop_everything_that_could_escape() -> None:
    hostile = 'a"""b\'c\\d\ne\rf\x00g é #h'
    cleaned = safe_text(hostile)
    assert re.fullmatch(r"[A-Za-z0-9_./+-]*", cleaned)
    assert spec_label("dir/sub\\my spec.yaml") == "my_spec.yaml"
    assert len(safe_text("x" * 500)) == 60


# ---- graph features, end to end ----------------------------------------------------------


@dataclass
class Built:
    spec: Any
    source: str
    model: torch.nn.Module
    x: torch.Tensor


def _roundtrip(text: str, tmp_path: Path, name: str = "feature.yaml") -> Built:
    """Build a spec both ways; check ruff, AST, agreement and shapes."""
    spec = spec_from_text(text, name)
    source = render_source(spec)
    check_generated_ast(source, class_name(spec))
    out = tmp_path / "model.py"
    out.write_text(source, encoding="utf-8")
    for args in (("check",), ("format", "--check", "--diff")):
        result = ruff(*args, str(out))
        assert result.returncode == 0, source + result.stdout + result.stderr
    torch.manual_seed(0)
    built = build_model(spec).eval()
    torch.manual_seed(0)
    other = getattr(import_file(out), class_name(spec))().eval()
    x = _sample(spec)
    with torch.no_grad():
        ys, zs = _as_tuple(built(x)), _as_tuple(other(x))
    for y, z, shape in zip(ys, zs, spec.graph.output_shapes, strict=True):
        assert torch.equal(y, z)
        assert tuple(y.shape) == (2, *shape)
    return Built(spec, source, built, x)


def test_skip_connection_from_the_input_keeps_x(tmp_path: Path) -> None:
    text = """version: 1
name: skip
model:
  input: {shape: [4]}
  layers:
    - {type: linear, out_features: 4}
    - relu
    - {type: add, inputs: [relu_1, input], name: total}
"""
    built = _roundtrip(text, tmp_path)
    assert "h = self.linear_1(x)" in built.source and "total = h + x" not in built.source
    assert "h = h + x" in built.source and "return h" in built.source
    model, x = built.model, built.x
    with torch.no_grad():
        assert torch.equal(model(x), torch.relu(model.linear_1(x)) + x)


def test_several_outputs_are_a_tuple_in_outputs_order(tmp_path: Path) -> None:
    text = """version: 1
name: heads
model:
  input: {shape: [6]}
  layers:
    - {type: linear, out_features: 8, name: body}
    - {type: linear, out_features: 3, name: head_a}
    - {type: linear, out_features: 2, inputs: body, name: head_b}
  outputs: [head_b, body, head_a]
"""
    built = _roundtrip(text, tmp_path)
    assert "return head_b, body, head_a" in built.source
    with torch.no_grad():
        b, body, a = built.model(built.x)
    assert (b.shape[1], body.shape[1], a.shape[1]) == (2, 8, 3)
    assert torch.equal(a, built.model.head_a(body))


def test_concat_and_mul_merges(tmp_path: Path) -> None:
    text = """version: 1
name: merges
model:
  input: {shape: [2, 5]}
  layers:
    - {type: linear, out_features: 5, name: left}
    - {type: sigmoid, name: gate}
    - {type: mul, inputs: [input, gate], name: gated}
    - {type: concat, inputs: [gated, left, input], dim: 1, name: joined}
    - {type: flatten}
"""
    built = _roundtrip(text, tmp_path)
    assert built.spec.graph.output_shapes == [(30,)]
    with torch.no_grad():
        x = built.x
        left = built.model.left(x)
        expected = torch.cat([x * torch.sigmoid(left), left, x], dim=1).flatten(1)
        assert torch.equal(built.model(built.x), expected)


def test_unused_branch_is_built_but_not_computed(tmp_path: Path) -> None:
    text = """version: 1
name: dead
model:
  input: {shape: [3]}
  layers:
    - {type: linear, out_features: 4, name: unused}
    - {type: linear, out_features: 2, inputs: input, name: out}
"""
    built = _roundtrip(text, tmp_path)
    assert "# unused (feature.yaml:6) is skipped: no output uses it" in built.source
    assert "unused.weight" in built.model.state_dict()


def test_repeated_blocks_become_a_sequential_of_one_class(tmp_path: Path) -> None:
    built = _roundtrip(
        (ROOT / "tests/specs/residual.yaml").read_text(encoding="utf-8"), tmp_path, "residual.yaml"
    )
    assert "class Res(nn.Module):" in built.source
    assert "self.res = nn.Sequential(Res(), Res())" in built.source
    assert "h = h + x" in built.source  # the block's skip connection reads its input
    assert {"res.0.conv.weight", "res.1.conv.weight"} <= set(built.model.state_dict())


def test_long_names_are_laid_out_as_ruff_format_would(tmp_path: Path) -> None:
    long = "a_really_quite_long_layer_name_that_keeps_going_and_going_on"
    text = f"""version: 1
name: long-names
model:
  input: {{shape: [3, 6, 6]}}
  layers:
    - {{type: conv2d, out_channels: 4, kernel_size: 3, padding: 1, stride: 1, dilation: 1,
        groups: 1, bias: false, padding_mode: reflect, name: {long}_1}}
    - {{type: relu, name: {long}_2}}
    - {{type: relu, name: {long}_3}}
    - {{type: add, inputs: [{long}_1, {long}_2, {long}_3], name: {long}_4}}
    - {{type: concat, inputs: [{long}_4, {long}_1, {long}_2, {long}_3], dim: 1,
        name: {long}_5}}
"""
    built = _roundtrip(text, tmp_path)
    assert "        x = torch.cat(\n            [\n                x,\n" in built.source


LAYOUT_TOPOLOGIES = {
    "conv": """
  input: {{shape: [3, 6, 6]}}
  layers:
    - {{type: conv2d, out_channels: 4, kernel_size: [3, 1], padding: 1, stride: 1, dilation: 1,
        groups: 1, bias: false, padding_mode: reflect, name: {n}_a}}
    - {{type: relu, name: {n}_b}}
    - {{type: add, inputs: [{n}_a, {n}_b, {n}_a], name: {n}_c}}
    - {{type: concat, inputs: [{n}_c, {n}_a, {n}_b], dim: 1, name: {n}_d}}
  outputs: [{n}_d, {n}_b]
""",
    "recurrent": """
  input: {{shape: [7, 3]}}
  layers:
    - {{type: lstm, hidden_size: 4, bidirectional: true, output: last, num_layers: 2,
        dropout: 0.1, name: {n}_a}}
    - {{type: linear, out_features: 8, name: {n}_b}}
    - {{type: concat, inputs: [{n}_a, {n}_b], dim: 1, name: {n}_c}}
    - {{type: mul, inputs: [{n}_c, {n}_c], name: {n}_d}}
  outputs: [{n}_d, {n}_a]
""",
    "embedding": """
  input: {{shape: [5], dtype: int64}}
  layers:
    - {{type: embedding, num_embeddings: 1000, embedding_dim: 16, padding_idx: 0, name: {n}_a}}
    - {{type: gru, hidden_size: 8, output: sequence, bidirectional: true, name: {n}_b}}
    - {{type: gru, hidden_size: 8, output: last, bidirectional: true, inputs: {n}_b, name: {n}_c}}
    - {{type: flatten, inputs: {n}_b, start_dim: 1, end_dim: 2, name: {n}_d}}
    - {{type: concat, inputs: [{n}_c, {n}_d], dim: 1, name: {n}_e}}
""",
}


def test_layout_matches_ruff_format_across_name_lengths(tmp_path: Path) -> None:
    """Names of many lengths push every kind of line across the 88-column limit."""
    paths = []
    for topology, layers in LAYOUT_TOPOLOGIES.items():
        for length in range(4, 100, 2):
            name = ("n" + "abcdefghij" * 8)[:length]
            spec = spec_from_text(f"version: 1\nname: lay\nmodel:{layers.format(n=name)}")
            path = tmp_path / f"{topology}_{length}.py"
            source = render_source(spec)
            compile(source, str(path), "exec")
            path.write_text(source, encoding="utf-8")
            paths.append(path)
    fmt = ruff("format", "--check", "--diff", *map(str, paths))
    assert fmt.returncode == 0, fmt.stdout[-4000:]
    check = ruff("check", *map(str, paths))
    assert check.returncode == 0, check.stdout[-4000:]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("output", ["last", "sequence"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_layers(kind: str, output: str, bidirectional: bool, tmp_path: Path) -> None:
    text = f"""version: 1
name: seq
model:
  input: {{shape: [7, 3]}}
  layers:
    - {{type: {kind}, hidden_size: 4, output: {output}, bidirectional: {str(bidirectional).lower()},
        name: rec}}
"""
    built = _roundtrip(text, tmp_path)
    width = 8 if bidirectional else 4
    assert built.spec.graph.output_shapes == [(width,) if output == "last" else (7, width)]
    with torch.no_grad():
        seq, _ = built.model.rec(built.x)
        if output == "sequence":
            expected = seq
        elif bidirectional:  # forward direction's last step, backward direction's first
            expected = torch.cat([seq[:, -1, :4], seq[:, 0, 4:]], dim=-1)
        else:
            expected = seq[:, -1]
        assert torch.equal(built.model(built.x), expected)


def test_embedding_input_is_int64_in_the_demo(tmp_path: Path) -> None:
    built = _roundtrip(
        (ROOT / "tests/specs/recurrent.yaml").read_text(encoding="utf-8"),
        tmp_path,
        "recurrent.yaml",
    )
    assert "x = torch.randint(0, 50, (2, 12))" in built.source


def test_plan_forward_picks_a_free_chain_name_when_the_input_is_kept() -> None:
    spec = spec_from_text("""version: 1
name: names
model:
  input: {shape: [4]}
  layers:
    - {type: linear, out_features: 4, name: h}
    - {type: relu, name: h_1}
    - {type: relu, name: last}
    - {type: add, inputs: [last, input], name: total}
""")
    steps, returned = plan_forward(spec.graph)
    assert [(s.args, s.out) for s in steps] == [
        (["x"], "h_2"),
        (["h_2"], "h_2"),
        (["h_2"], "h_2"),
        (["h_2", "x"], "h_2"),
    ]
    assert returned == ["h_2"]


def test_templates_ship_inside_the_package() -> None:
    from specc.backends.templating import templates_dir

    assert (ROOT / "specc/templates").resolve() == (ROOT / "templates").resolve()
    assert (templates_dir() / "model.py.jinja").is_file()


def test_plan_forward_reuses_x_for_a_plain_chain() -> None:
    spec = load_spec(ROOT / "tests/specs/lenet.yaml")
    steps, returned = plan_forward(spec.graph)
    assert {step.out for step in steps} == {"x"} and returned == ["x"]
