"""``when:`` on the members of a ``sequential``: as in a block body, inside blocks only; an
absent member drops out of the chain, and the members present are keyed 0, 1, ..."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from specc.backends.module import build_model
from specc.cli import app
from specc.commands.common import run_app
from specc.spec.validate import check_text

HEAD = """version: 1
name: gated_seq
model:
  input: {shape: [3, 8, 8]}
  blocks:
    conv_bn:
      params: {c: null, expand: 1, norm: true}
      layers:
        - type: sequential
          name: conv
          layers:
"""
MEMBERS = """            - {type: conv2d, out_channels: $c * $expand, kernel_size: 1,
               when: $expand != 1}
            - {type: conv2d, out_channels: $c, kernel_size: 3, padding: 1}
            - {type: batchnorm2d, when: $norm}
            - relu
"""
USES = """  layers:
    - {type: block, block: conv_bn, name: a, args: {c: 4}}
    - {type: block, block: conv_bn, name: b, args: {c: 4, expand: 2, norm: false}}
    - flatten
    - {type: linear, out_features: 2}
"""


def test_when_inside_a_sequential_keeps_only_the_members_whose_condition_holds() -> None:
    spec, errors = check_text(HEAD + MEMBERS + USES, "gated.yaml")
    assert not errors
    model = build_model(spec).eval()
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items() if k.endswith("weight")}
    assert shapes == {
        "a.conv.0.weight": (4, 3, 3, 3),  # no 1x1 expansion: the 3x3 conv is member 0
        "a.conv.1.weight": (4,),  # the batch norm
        "b.conv.0.weight": (8, 4, 1, 1),  # expand 2: the 1x1 conv, then the 3x3
        "b.conv.1.weight": (4, 8, 3, 3),
        "linear_1.weight": (2, 256),
    }
    assert [n.name for n in spec.graph.nodes][:3] == ["a.conv.0", "a.conv.1", "a.conv.2"]
    assert sum(p.numel() for p in model.parameters()) == spec.graph.params
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        a = torch.relu(model.a.conv[1](model.a.conv[0](x)))
        b = torch.relu(model.b.conv[1](model.b.conv[0](a)))
        assert torch.allclose(model(x), model.linear_1(b.flatten(1)))


def _errors(text: str, tmp_path: Path, monkeypatch, capsys) -> tuple[int, str]:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["specc", "validate", str(path)])
    code = run_app(app)
    return code, capsys.readouterr().err


def test_a_bad_condition_inside_a_sequential_is_a_located_error(tmp_path, monkeypatch, capsys):
    bad = MEMBERS.replace("when: $norm}", "when: $c + 1}")
    code, err = _errors(HEAD + bad + USES, tmp_path, monkeypatch, capsys)
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[0].endswith(
        "spec.yaml:15:35: error[E301]: the condition '$c + 1' gives 5, not true or false"
    )


def test_when_in_a_top_level_sequential_is_refused_as_outside_a_block(
    tmp_path, monkeypatch, capsys
):
    text = (
        "version: 1\nname: t\nmodel:\n  input: {shape: [4]}\n  layers:\n"
        "    - {type: sequential, name: s, layers: [relu, {type: relu, when: true}]}\n"
    )
    code, err = _errors(text, tmp_path, monkeypatch, capsys)
    assert code == 2
    assert "spec.yaml:6:63: error[E306]: 'when' is allowed only on layers inside a block" in err


def test_a_sequential_whose_members_are_all_absent_is_a_located_error(
    tmp_path, monkeypatch, capsys
):
    members = "            - {type: relu, when: $expand != 1}\n"
    code, err = _errors(HEAD + members + USES, tmp_path, monkeypatch, capsys)
    assert code == 2
    assert "spec.yaml:11:11: error[E306]: every layer of sequential 'conv' is absent" in err
