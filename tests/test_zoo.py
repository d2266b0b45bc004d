"""specs/zoo: every spec builds and runs a forward pass and exports to ONNX with onnxruntime
parity; each holds its parameter count. The new layer types' fixtures (tests/specs/attention.yaml,
sampling.yaml) pass ONNX parity too."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import specc
from specc.export import export_onnx

ROOT = Path(__file__).resolve().parent.parent
ZOO = sorted((ROOT / "specs" / "zoo").glob("*.yaml"))
FIXTURES = [ROOT / "tests" / "specs" / f"{name}.yaml" for name in ("attention", "sampling")]


def _sample(spec, batch: int = 2) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    if spec.graph.input_dtype == "int64":
        return torch.randint(1, 20, (batch, *spec.graph.input_shape), generator=gen)
    return torch.randn(batch, *spec.graph.input_shape, generator=gen)


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.stem)
def test_zoo_spec_builds_and_runs_forward(path: Path):
    spec = specc.load_spec(path)
    torch.manual_seed(spec.seed)
    model = specc.build_model(spec).eval()
    with torch.no_grad():
        out = model(_sample(spec))
    assert tuple(out.shape) == (2, *spec.graph.output_shapes[0])
    assert torch.isfinite(out).all()
    assert sum(p.numel() for p in model.parameters()) == spec.graph.params


def _double_conv(c_in: int, c: int) -> int:
    """Two bias-free 3x3 convolutions, each followed by a batch norm's scale and shift."""
    return 9 * c_in * c + 2 * c + 9 * c * c + 2 * c


def test_unet_parameter_count_is_the_hand_computed_one():
    # down1  1->16:  9*1*16 + 32 + 9*16*16 + 32            =  2,512
    # down2 16->32:  9*16*32 + 64 + 9*32*32 + 64           = 13,952
    # bottom 32->64: 9*32*64 + 128 + 9*64*64 + 128         = 55,552
    # up2: convtranspose 64->32, 2x2: 64*32*4 + 32          =  8,224
    # dec2 (32 up + 32 skip = 64)->32                       = 27,776
    # up1: convtranspose 32->16, 2x2: 32*16*4 + 16          =  2,064
    # dec1 (16 up + 16 skip = 32)->16                       =  6,976
    # logits: 1x1 conv 16->2: 16*2 + 2                      =     34
    parts = [_double_conv(1, 16), _double_conv(16, 32), _double_conv(32, 64), 64 * 32 * 4 + 32,
             _double_conv(64, 32), 32 * 16 * 4 + 16, _double_conv(32, 16), 16 * 2 + 2]
    assert parts == [2_512, 13_952, 55_552, 8_224, 27_776, 2_064, 6_976, 34]
    spec = specc.load_spec(ROOT / "specs" / "zoo" / "unet.yaml")
    assert spec.graph.params == sum(parts) == 117_090
    assert spec.graph.output_shapes == [(2, 64, 64)]
    kinds = [node.kind for node in spec.graph.nodes]
    assert kinds.count("convtranspose2d") == 2 and kinds.count("concat") == 2


@pytest.mark.parametrize("path", ZOO + FIXTURES, ids=lambda p: p.stem)
def test_exports_with_onnxruntime_parity(path: Path, tmp_path: Path):
    spec = specc.load_spec(path)
    torch.manual_seed(spec.seed)
    model = specc.build_model(spec)
    report = export_onnx(model, spec, tmp_path / f"{spec.name}.onnx")
    assert report.parity.max_abs_diff <= 1e-4, report.parity.describe()
    assert len(report.parity.cases) >= 3


TAGGER = """version: 1
name: tagger
model:
  input: {shape: [12], dtype: int64}
  layers:
    - {type: embedding, num_embeddings: 30, embedding_dim: 16, padding_idx: 0, name: embed}
    - {type: transformerencoder, num_layers: 2, nhead: 4, dim_feedforward: 32, padding_idx: 0,
       inputs: [embed, input]}
    - {type: multiheadattention, num_heads: 2}
    - {type: linear, out_features: 3}
"""


def test_attention_model_exports_with_a_dynamic_sequence_length(tmp_path: Path):
    """Per-token outputs: the length stays symbolic and parity holds at 12 and at 6."""
    path = tmp_path / "tagger.yaml"
    path.write_text(TAGGER, encoding="utf-8")
    spec = specc.load_spec(path)
    torch.manual_seed(0)
    report = export_onnx(specc.build_model(spec), spec, tmp_path / "tagger.onnx")
    assert report.info.dynamic_seq and report.seq_note is None
    assert {case[1] for case in report.parity.cases} == {12, 6}
    assert report.parity.max_abs_diff <= 1e-4, report.parity.describe()
