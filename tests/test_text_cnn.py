"""specs/zoo/text_cnn.yaml (hand-computed parameter count, a forward pass equal to hand-written
PyTorch; its ONNX parity is in test_zoo's slow set), the conv1d-on-embedding rule, ONNX parity
of the modern_ops fixture (every activation, shape, broadcasting and ``parameter`` layer type),
and the learned ``parameter`` layer's storage and init."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from compiler_helpers import ROOT, spec_from_text

import specc
from specc.export import export_onnx
from specc.spec.validate import check_text

ZOO = ROOT / "specs" / "zoo"
TEXT_CNN = ZOO / "text_cnn.yaml"
MODERN_OPS = ROOT / "tests" / "specs" / "modern_ops.yaml"


def test_text_cnn_parameter_count_is_the_hand_computed_one():
    spec = specc.load_spec(TEXT_CNN)
    embedding = 1000 * 128  # num_embeddings * embedding_dim
    conv = 128 * 100 * 3 + 100  # in_channels (the embedding dim) * out_channels * kernel + bias
    linear = 100 * 2 + 2
    assert conv == 38_500  # the embedding dim as channels (not 15,100: positions as channels)
    assert spec.graph.params == embedding + conv + linear == 166_702
    model = specc.build_model(spec)
    assert sum(p.numel() for p in model.parameters()) == 166_702


def test_text_cnn_builds_and_classifies_token_ids():
    spec = specc.load_spec(TEXT_CNN)
    torch.manual_seed(0)
    model = specc.build_model(spec).eval()
    ids = torch.randint(0, 1000, (4, 50))
    with torch.no_grad():
        out = model(ids)
    assert out.shape == (4, 2) and torch.isfinite(out).all()
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv1d))
    assert tuple(conv.weight.shape) == (100, 128, 3)  # 128 embedding features as channels
    # a hand-written PyTorch forward with the same modules gives the same scores
    emb, lin = model.embedding_1, model.logits
    with torch.no_grad():
        by_hand = lin(torch.relu(conv(emb(ids).transpose(1, 2))).mean(dim=-1))
    torch.testing.assert_close(out, by_hand)


NATURAL = """version: 1
name: t
model:
  input: {{shape: [50], dtype: int64}}
  layers:
    - {{type: embedding, num_embeddings: 1000, embedding_dim: 128}}
{between}    - {{type: conv1d, out_channels: 100, kernel_size: 3}}
"""


@pytest.mark.parametrize("between", ["", "    - relu\n    - {type: dropout, p: 0.1}\n"])
def test_conv1d_straight_on_an_embedding_is_a_located_error(between):
    text = NATURAL.format(between=between)
    spec, errors = check_text(text, "t.yaml")
    assert spec is None and len(errors) == 1
    error = errors[0]
    assert (error.line, error.code) == (text.count("\n"), "E404")  # the conv1d line
    assert "take the 50 positions as channels" in error.message
    assert "{type: permute, dims: [0, 2, 1]}" in error.message


def test_conv1d_after_an_identity_or_a_permute_is_accepted():
    meant = spec_from_text(NATURAL.format(between="    - identity\n"))
    assert meant.graph.params == 1000 * 128 + 50 * 100 * 3 + 100  # positions as channels
    permuted = spec_from_text(NATURAL.format(between="    - {type: permute, dims: [0, 2, 1]}\n"))
    assert permuted.graph.params == 1000 * 128 + 128 * 100 * 3 + 100


def test_modern_ops_export_with_onnx_parity(tmp_path: Path):
    """About 8 s: the one ONNX check of these ops (broadcasting, shape ops, parameter...)."""
    spec = specc.load_spec(MODERN_OPS)
    torch.manual_seed(spec.seed)
    model = specc.build_model(spec)
    report = export_onnx(model, spec, tmp_path / f"{spec.name}.onnx")
    assert report.parity.max_abs_diff <= 1e-4, report.parity.describe()
    assert len(report.parity.cases) >= 3


PARAMETER = """version: 1
name: t
model:
  input: {{shape: [4, 16]}}
  layers:
    - {{type: parameter, shape: [1, 16], name: class_token{init}}}
    - {{type: concat, inputs: [class_token, input], dim: 1}}     # [5, 16]
"""


def test_parameter_is_stored_as_torchvision_does_and_learned():
    spec = spec_from_text(PARAMETER.format(init=""))
    assert spec.graph.params == 16
    model = specc.build_model(spec)
    state = model.state_dict()
    assert list(state) == ["class_token"] and tuple(state["class_token"].shape) == (1, 1, 16)
    assert torch.equal(state["class_token"], torch.zeros(1, 1, 16))  # init: zeros
    x = torch.randn(3, 4, 16)
    out = model(x)
    assert out.shape == (3, 5, 16)
    torch.testing.assert_close(out[:, 1:], x)
    out[:, 0].sum().backward()
    torch.testing.assert_close(model.class_token.grad, torch.full((1, 1, 16), 3.0))  # 3 samples


@pytest.mark.parametrize(("init", "bound"), [("normal", None), ("trunc_normal", 2.0)])
def test_parameter_random_inits_use_std(init, bound):
    spec = spec_from_text(
        PARAMETER.format(init=f", init: {init}, std: 0.5")
        .replace("[1, 16]", "[64, 64]")
        .replace("[4, 16]", "[4, 64]")
    )
    torch.manual_seed(0)
    weight = specc.build_model(spec).class_token.detach()
    assert weight.shape == (1, 64, 64)
    assert 0.4 < weight.std().item() < 0.6  # 4,096 draws with std 0.5
    if bound is not None:
        assert weight.abs().max().item() <= bound


def test_parameter_std_without_a_random_init_is_a_located_error():
    text = PARAMETER.format(init=", std: 0.1")
    spec, errors = check_text(text, "t.yaml")
    assert spec is None and errors[0].line == 6
    assert "std applies to init 'normal' or 'trunc_normal'" in errors[0].message
