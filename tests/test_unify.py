"""Block copies share one generated class: torch's defaults, literals and optional layers."""

from __future__ import annotations

import torch

from specc.backends.defaults import drop_defaults, fill_defaults
from specc.backends.module import build_model
from specc.backends.source import render_model_source
from specc.backends.unify import skeleton, unify
from specc.spec.validate import check_text


def test_fill_defaults_writes_torch_defaults_in_signature_order() -> None:
    filled = fill_defaults("self.c = nn.Conv2d(4, 8, padding=1, kernel_size=3)")
    assert filled == (
        "self.c = nn.Conv2d(4, 8, kernel_size=3, stride=1, padding=1, dilation=1, "
        "groups=1, bias=True)"
    )
    assert drop_defaults(filled) == "self.c = nn.Conv2d(4, 8, kernel_size=3, padding=1)"
    # a default given as a parameter name, or a value other than the default, stays
    kept = "self.c = nn.Conv2d(4, 8, kernel_size=3, stride=stride, bias=False)"
    assert drop_defaults(fill_defaults(kept)) == kept
    assert drop_defaults("self.f = nn.Flatten(end_dim=-1)") == "self.f = nn.Flatten()"
    assert fill_defaults("h = h + x") == "h = h + x"


def test_copies_differing_in_a_default_have_one_skeleton_once_filled() -> None:
    one = "self.c = nn.Conv2d(4, 4, kernel_size=3)"
    two = "self.c = nn.Conv2d(4, 4, kernel_size=3, stride=2)"
    assert skeleton([one]) != skeleton([two])
    assert skeleton([fill_defaults(one)]) == skeleton([fill_defaults(two)])


def test_unify_names_booleans_and_skips_absent_statements() -> None:
    instances = [
        ["self.a = nn.Linear(4, 2, bias=True)", "self.d = nn.Linear(4, 7)"],
        ["self.a = nn.Linear(8, 2, bias=False)", None],
    ]
    envs = [{"width": 4, "flag": True}, {"width": 8, "flag": False}]
    unified = unify(instances, envs, lambda tokens, i: "fresh")
    assert unified.statements == [
        "self.a = nn.Linear(width, 2, bias=flag)",
        "self.d = nn.Linear(4, 7)",  # in one instance only: a literal
    ]
    assert unified.params == ["width", "flag"]
    assert unified.values == [[4, True], [8, False]]


SPEC = """
version: 1
name: gated
model:
  input: {shape: [4]}
  blocks:
    unit:
      params: {n: null, skip: false}
      layers:
        - {type: linear, name: fc, out_features: $n}
        - {type: linear, name: proj, inputs: input, out_features: $n, when: not $skip}
        - {type: add, name: add, inputs: [fc, proj]}
        - {type: relu, name: act, when: $n > 4}
        - {type: add, name: res, inputs: [act, input], when: $skip}
  layers:
    - {type: block, block: unit, name: a, args: {n: 4, skip: true}}
    - {type: block, block: unit, name: b, args: {n: 6}}
    - {type: block, block: unit, name: c, args: {n: 6, skip: true}}
"""


def test_copies_with_and_without_conditional_layers_share_one_class() -> None:
    spec, errors = check_text(SPEC, "gated.yaml")
    assert not errors
    source = render_model_source(spec)
    assert source.count("class Unit(") == 1
    assert "self.proj = None" in source and "if proj:" in source
    assert "if act:" in source and "self.act = nn.ReLU()" in source
    assert "self.res = res" in source and "if self.res:" in source  # no module: a flag
    model = build_model(spec).eval()
    assert model.a.proj is None and model.b.proj is not None and model.c.proj is None
    assert model.a.act is None and model.c.act is not None
    assert (model.a.res, model.b.res, model.c.res) == (True, False, True)
    assert sum(p.numel() for p in model.parameters()) == spec.graph.params
    x = torch.randn(3, 4)
    with torch.no_grad():
        a = model.a.fc(x) + x + x  # proj absent: add reads the input; no act: res reads add
        b = torch.relu(model.b.fc(a) + model.b.proj(a))
        c = torch.relu(model.c.fc(b) + b) + b
        assert torch.allclose(model(x), c)
