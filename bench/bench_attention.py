"""Forward time of a specc-built transformer encoder vs the same model written by hand.

Run:  python bench/bench_attention.py [--repeats N] [--threads T]

The spec is a ViT-style encoder (pre-norm, GELU) over ``[seq, d_model]`` samples: by default
6 layers of d_model 384, 6 heads, feed-forward 1536, sequence 197, batch 8 (ViT-S/16's shape).
The hand-written model is ``nn.TransformerEncoder`` built directly, with the specc model's
weights loaded. Both run in eval mode under ``torch.no_grad()``, interleaved in one process with
the same thread count, alternating which goes first; the printed ratio is the median of
specc/hand per repeat (target <= 1.05x: the generated code adds nothing). On a shared machine,
two identical hand-written copies can differ by 15%: read the ratio only from an idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from specc import build_model  # noqa: E402
from specc.spec.validate import check_text  # noqa: E402

SPEC = """version: 1
name: encoder
model:
  input: {{shape: [{seq}, {d}]}}
  layers:
    - {{type: transformerencoder, num_layers: {layers}, nhead: {heads}, dim_feedforward: {ff},
       dropout: 0.0, activation: gelu, norm_first: true, layer_norm_eps: 0.000001, name: encoder}}
    - {{type: layernorm, eps: 0.000001, name: ln}}
"""


class HandWritten(nn.Module):
    """The same encoder written directly in PyTorch."""

    def __init__(self, d: int, heads: int, ff: int, layers: int) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            d,
            heads,
            dim_feedforward=ff,
            dropout=0.0,
            activation="gelu",
            layer_norm_eps=1e-6,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
        self.ln = nn.LayerNorm(d, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(self.encoder(x))


def _time(model: nn.Module, x: torch.Tensor, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        model(x)
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--layers", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shape = {"seq": 197, "d": 384, "heads": 6, "ff": 1536, "layers": args.layers}
    spec, errors = check_text(SPEC.format(**shape), "bench.yaml")
    assert spec is not None, errors
    specc_model = build_model(spec).eval()
    hand = HandWritten(shape["d"], shape["heads"], shape["ff"], shape["layers"]).eval()
    hand.load_state_dict(specc_model.state_dict())
    x = torch.randn(8, shape["seq"], shape["d"])
    ratios, times = [], {"specc": [], "hand": []}
    with torch.no_grad():
        torch.testing.assert_close(specc_model(x), hand(x))
        for k in range(args.repeats):  # alternate which runs first
            if k % 2:
                t_hand, t_specc = _time(hand, x, args.calls), _time(specc_model, x, args.calls)
            else:
                t_specc, t_hand = _time(specc_model, x, args.calls), _time(hand, x, args.calls)
            times["specc"].append(t_specc)
            times["hand"].append(t_hand)
            ratios.append(t_specc / t_hand)
    print(f"encoder {shape}, batch 8, {args.threads} thread(s), {spec.graph.params:,} parameters")
    for name, values in times.items():
        print(f"  {name:5}: median {statistics.median(values) * 1e3:.1f} ms per forward")
    medians = statistics.median(times["specc"]) / statistics.median(times["hand"])
    print(
        f"  specc / hand: {statistics.median(ratios):.3f}x median of {args.repeats} per-repeat "
        f"ratios, {medians:.3f}x ratio of the medians (target <= 1.05x)"
    )


if __name__ == "__main__":
    main()
