"""specs/zoo/text_transformer.yaml: the hand-computed parameter count, and a forward pass whose
first-token output ignores padding (equal to the model run on the unpadded prefix alone)."""

from __future__ import annotations

from pathlib import Path

import torch

import specc

SPEC = Path(__file__).resolve().parent.parent / "specs" / "zoo" / "text_transformer.yaml"


def test_text_transformer_parameter_count_is_the_hand_computed_one():
    d, ff, vocab, seq = 64, 128, 1000, 32
    embedding = vocab * d  # 1000*64                       = 64,000
    positions = seq * d  # 32*64                         =  2,048
    attention = (3 * d * d + 3 * d) + (d * d + d)  # in_proj 12,480 + out_proj 4,160 = 16,640
    feedforward = (d * ff + ff) + (ff * d + d)  # linear1 8,320 + linear2 8,256  = 16,576
    norms = 2 * (2 * d)  # norm1 + norm2, weight and bias =    256
    layer = attention + feedforward + norms  #                               = 33,472
    head = d * 2 + 2  # 64*2 + 2                      =    130
    assert (attention, feedforward, layer) == (16_640, 16_576, 33_472)
    spec = specc.load_spec(SPEC)
    assert spec.graph.params == embedding + positions + 2 * layer + head == 133_122
    assert spec.graph.output_shapes == [(2,)]


def _prefix_logits(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """The model's own modules run on an unpadded [n] sequence of ids, without a mask -> [2]."""
    h = model.embed(ids[None]) + model.pos_embedding[:, : ids.numel()]
    return model.logits(model.encoder(h)[:, 0])[0]


def test_text_transformer_first_token_ignores_padding():
    spec = specc.load_spec(SPEC)
    torch.manual_seed(spec.seed)
    model = specc.build_model(spec).eval()
    gen = torch.Generator().manual_seed(0)
    ids = torch.zeros(3, 32, dtype=torch.int64)
    lengths = [5, 17, 32]  # real tokens (ids >= 1), then padding
    for row, n in enumerate(lengths):
        ids[row, :n] = torch.randint(1, 1000, (n,), generator=gen)
    with torch.no_grad():
        out = model(ids)
        expected = torch.stack([_prefix_logits(model, ids[r, :n]) for r, n in enumerate(lengths)])
    assert out.shape == (3, 2) and torch.isfinite(out).all()
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    # the check can fail: without the mask the padded positions change the first token's output
    with torch.no_grad():
        h = model.embed(ids[:1]) + model.pos_embedding
        unmasked = model.logits(model.encoder(h)[:, 0])
    assert not torch.allclose(unmasked, out[:1], rtol=1e-4, atol=1e-5)
