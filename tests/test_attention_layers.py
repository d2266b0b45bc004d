"""Attention layers beyond shapes: padding is ignored, parameter counts equal torch's modules
(torchvision's ViT-B/16 encoder block), located errors, and the generated forward lines."""

from __future__ import annotations

import pytest
import torch
from compiler_helpers import spec_from_text
from torch import nn

from specc import build_model
from specc.ops import LAYER_TYPES, ShapeError
from specc.spec.validate import check_text

TEXT_MODEL = """version: 1
name: padded
model:
  input: {{shape: [12], dtype: int64}}
  layers:
    - {{type: embedding, num_embeddings: 30, embedding_dim: 16, padding_idx: 0, name: embed}}
    - {{type: {kind}, nhead: 4, dim_feedforward: 32, {extra}name: encoder{mask}}}
"""


def _text_model(kind: str, masked: bool, extra: str = ""):
    mask = ", padding_idx: 0, inputs: [embed, input]" if masked else ""
    spec = spec_from_text(TEXT_MODEL.format(kind=kind, extra=extra, mask=mask))
    torch.manual_seed(0)
    return build_model(spec).eval()


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("transformerencoderlayer", ""),
        ("transformerencoder", "num_layers: 2, norm: true, norm_first: true, "),
    ],
)
def test_outputs_at_real_positions_ignore_the_padding(kind, extra):
    """The same 7 tokens padded to 12, or not padded at all (the module takes any length):
    the outputs at the 7 real positions agree only when the mask is on."""
    tokens = torch.randint(1, 30, (3, 7), generator=torch.Generator().manual_seed(1))
    padded = torch.cat([tokens, torch.zeros(3, 5, dtype=torch.long)], dim=1)
    for masked in (True, False):
        model = _text_model(kind, masked, extra)
        with torch.no_grad():
            short, long = model(tokens), model(padded)[:, :7]
        if masked:
            torch.testing.assert_close(long, short, atol=1e-5, rtol=1e-5)
        else:  # the check can fail: without the mask the padding is attended to
            assert (long - short).abs().max() > 1e-3


def test_changing_what_padded_positions_hold_changes_nothing_at_real_positions():
    """Generated code of a masked multiheadattention: noise in the padded keys is invisible."""
    layer = LAYER_TYPES["multiheadattention"].model_validate(
        {"type": "multiheadattention", "num_heads": 2, "padding_idx": 0}
    )
    inferred = layer.infer([(6, 8), (6,)], ["float32", "int64"])
    ((code, _),) = layer.forward_source("self.attn", ["h", "x"], "h", inferred)
    assert code == "h, _ = self.attn(h, h, h, key_padding_mask=x == 0, need_weights=False)"
    torch.manual_seed(0)
    namespace = {"self": type("S", (), {"attn": eval(layer.init_source(inferred), {"nn": nn})})}
    ids = torch.tensor([[4, 2, 7, 0, 0, 0], [1, 1, 0, 0, 0, 0]])
    h = torch.randn(2, 6, 8)
    noisy = h.clone()
    noisy[ids == 0] = torch.randn(int((ids == 0).sum()), 8) * 10
    outs = []
    for value in (h, noisy):
        namespace.update(h=value, x=ids)
        with torch.no_grad():
            exec(code, {"__builtins__": {}}, namespace)
        outs.append(namespace["h"])
    real = ids != 0
    torch.testing.assert_close(outs[0][real], outs[1][real])
    assert (outs[0][~real] - outs[1][~real]).abs().max() > 1e-3  # the padded queries did change


class EncoderBlock(nn.Module):
    """torchvision's ViT ``EncoderBlock`` (vision_transformer.py), written out by hand."""

    def __init__(self, num_heads: int, hidden_dim: int, mlp_dim: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden_dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(hidden_dim, eps=1e-6)
        self.mlp = nn.Sequential(
            nn.Linear(hidden_dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, hidden_dim)
        )


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_vit_b_16_encoder_layer_count_equals_torchvisions_encoder_block():
    layer = LAYER_TYPES["transformerencoderlayer"].model_validate(
        {
            "type": "transformerencoderlayer",
            "nhead": 12,
            "dim_feedforward": 3072,
            "activation": "gelu",
            "norm_first": True,
            "layer_norm_eps": 1e-6,
        }
    )
    inferred = layer.infer([(197, 768)], ["float32"])
    # attention: 3*768*768 + 3*768 (in_proj) + 768*768 + 768 (out_proj) = 2,362,368
    # mlp: 768*3072 + 3072 + 3072*768 + 768 = 4,722,432; two norms: 2*2*768 = 3,072
    assert inferred.params == 2_362_368 + 4_722_432 + 3_072 == 7_087_872
    assert inferred.params == _params(EncoderBlock(12, 768, 3072))
    encoder = LAYER_TYPES["transformerencoder"].model_validate(
        {
            "type": "transformerencoder",
            "num_layers": 12,
            "nhead": 12,
            "dim_feedforward": 3072,
            "norm": True,
        }
    )
    assert encoder.infer([(197, 768)], ["float32"]).params == 12 * 7_087_872 + 2 * 768


def test_separate_key_and_value_sizes_count_as_torch():
    layer = LAYER_TYPES["multiheadattention"].model_validate(
        {"type": "multiheadattention", "num_heads": 2, "bias": False}
    )
    inferred = layer.infer([(5, 8), (3, 6), (3, 4)], ["float32"] * 3)
    torch_module = nn.MultiheadAttention(8, 2, bias=False, kdim=6, vdim=4, batch_first=True)
    assert inferred.params == 8 * (8 + 6 + 4) + 8 * 8 == _params(torch_module)
    assert layer.init_source(inferred) == (
        "nn.MultiheadAttention(8, 2, bias=False, kdim=6, vdim=4, batch_first=True)"
    )


SPEC = """version: 1
name: bad
model:
  input: {{shape: {shape}, dtype: {dtype}}}
  layers:
    - {layer}
"""

BAD = [
    (
        "[10, 30]",
        "float32",
        "{type: multiheadattention, num_heads: 4}",
        "embed_dim 30 must be divisible by the number of heads (4)",
    ),
    (
        "[10, 30]",
        "float32",
        "{type: transformerencoder, num_layers: 2, nhead: 7}",
        "d_model 30 must be divisible by the number of heads (7)",
    ),
    (
        "[10, 32]",
        "float32",
        "{type: transformerencoderlayer, nhead: 4, padding_idx: 0}",
        "padding_idx needs the token ids as the last input",
    ),
    (
        "[10, 32]",
        "float32",
        "{type: transformerencoderlayer, nhead: 4, padding_idx: 0, inputs: [input, input]}",
        "the last input must be [seq] int64 token ids",
    ),
    (
        "[10, 32]",
        "float32",
        "{type: transformerencoderlayer, nhead: 4, activation: tanh}",
        "activation",
    ),
    (
        "[3, 8, 8]",
        "float32",
        "{type: pixelshuffle, upscale_factor: 2}",
        "channels divisible by 2*2 = 4, got 3",
    ),
    (
        "[3, 8, 8]",
        "float32",
        "{type: convtranspose2d, out_channels: 4, kernel_size: 3, stride: 2, output_padding: 2}",
        "output_padding 2 must be smaller than stride (2) or dilation (1)",
    ),
    (
        "[3, 8, 8]",
        "float32",
        "{type: convtranspose2d, out_channels: 4, kernel_size: 1, padding: 4}",
        "padding 4 removes more than the transposed convolution produces",
    ),
    (
        "[3, 8]",
        "float32",
        "{type: upsample, scale_factor: 2, mode: bilinear}",
        "mode 'bilinear' needs a [channels, height, width] input",
    ),
    (
        "[3, 8, 8]",
        "float32",
        "{type: upsample, scale_factor: 2, size: 16}",
        "exactly one of size or scale_factor",
    ),
    (
        "[3, 8, 8]",
        "float32",
        "{type: upsample, scale_factor: 2, align_corners: true}",
        "align_corners only applies to mode 'bilinear'",
    ),
    ("[3, 8, 8]", "float32", "{type: upsample, scale_factor: 0.1}", "leaves no output"),
    (
        "[3, 2, 2]",
        "float32",
        "{type: maxpool2d, kernel_size: 3, stride: 2, dilation: 2, ceil_mode: true}",
        "kernel_size 3 (dilated to 5) is larger than the input (2)",
    ),
]


@pytest.mark.parametrize(("shape", "dtype", "layer", "message"), BAD)
def test_impossible_configurations_are_located_errors(shape, dtype, layer, message):
    spec, errors = check_text(SPEC.format(shape=shape, dtype=dtype, layer=layer), "bad.yaml")
    assert spec is None
    assert any(message in e.message for e in errors), [e.message for e in errors]
    assert all(e.line == 6 and e.col >= 7 for e in errors), [(e.line, e.col) for e in errors]


def test_pixelshuffle_twelve_channels_is_fine_for_factor_two():
    layer = LAYER_TYPES["pixelshuffle"].model_validate(
        {"type": "pixelshuffle", "upscale_factor": 2}
    )
    assert layer.infer([(12, 8, 8)], ["float32"]).shape == (3, 16, 16)
    with pytest.raises(ShapeError):
        layer.infer([(12, 8)], ["float32"])


def test_a_written_model_width_must_match_the_input():
    spec, errors = check_text(
        SPEC.format(
            shape="[10, 32]",
            dtype="float32",
            layer="{type: transformerencoderlayer, nhead: 4, d_model: 64}",
        ),
        "bad.yaml",
    )
    assert spec is None
    assert (
        "d_model is 64 but the input gives 32 (the size of the last dimension of the input)"
        in errors[0].message
    )
