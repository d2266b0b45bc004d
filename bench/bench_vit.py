"""Forward time of ViT-B/16 built by specc (specs/zoo/vit_b_16.yaml) vs written by hand.

Run:  python bench/bench_vit.py [--repeats N] [--calls N] [--threads T] [--batch B]

The hand-written model is a plain ``nn.Module`` in this file, named as torchvision names
ViT-B/16, so the specc model's ``state_dict`` loads into it with ``strict=True`` and both give
the same outputs (checked before timing). Both run in eval mode under ``torch.no_grad()`` on a
batch of 8 (default), interleaved in one process with the same thread count, alternating which
goes first; the printed ratio is the median of specc/hand per repeat (target <= 1.05x). On a
shared machine read the ratio only from an idle one.
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

from specc import build_model, load_spec  # noqa: E402


class EncoderBlock(nn.Module):
    """Pre-norm self-attention and MLP with residuals: (B, S, 768) -> (B, S, 768)."""

    def __init__(self, d: int = 768, heads: int = 12, mlp: int = 3072) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(d, eps=1e-6)
        self.mlp = nn.Sequential(
            nn.Linear(d, mlp), nn.GELU(), nn.Dropout(0.0), nn.Linear(mlp, d), nn.Dropout(0.0)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln_1(x)
        h, _ = self.self_attention(h, h, h, need_weights=False)
        x = x + h
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    """Position embedding, 12 encoder blocks, a final norm: (B, 197, 768) -> (B, 197, 768)."""

    def __init__(self, layers: int = 12, seq: int = 197, d: int = 768) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, seq, d).normal_(std=0.02))
        self.layers = nn.Sequential()
        for i in range(layers):
            self.layers.add_module(f"encoder_layer_{i}", EncoderBlock(d))
        self.ln = nn.LayerNorm(d, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(self.layers(x + self.pos_embedding))


class ViTB16(nn.Module):
    """ViT-B/16 written by hand: (B, 3, 224, 224) -> (B, 1000)."""

    def __init__(self, d: int = 768, classes: int = 1000) -> None:
        super().__init__()
        self.conv_proj = nn.Conv2d(3, d, kernel_size=16, stride=16)
        self.class_token = nn.Parameter(torch.zeros(1, 1, d))
        self.encoder = Encoder(d=d)
        self.heads = nn.Sequential()
        self.heads.add_module("head", nn.Linear(d, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_proj(x).flatten(2).permute(0, 2, 1)  # (B, 196, 768)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.heads(self.encoder(x)[:, 0])


def _time(model: nn.Module, x: torch.Tensor, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        model(x)
    return (time.perf_counter() - start) / calls


def _interleaved(
    specc_model: nn.Module, hand: nn.Module, x: torch.Tensor, repeats: int, calls: int
) -> tuple[list[float], dict[str, list[float]]]:
    """Per-repeat specc/hand ratios and both models' times, alternating which runs first."""
    ratios, times = [], {"specc": [], "hand": []}
    for k in range(repeats):
        if k % 2:
            t_hand, t_specc = _time(hand, x, calls), _time(specc_model, x, calls)
        else:
            t_specc, t_hand = _time(specc_model, x, calls), _time(hand, x, calls)
        times["specc"].append(t_specc)
        times["hand"].append(t_hand)
        ratios.append(t_specc / t_hand)
    return ratios, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = load_spec(ROOT / "specs" / "zoo" / "vit_b_16.yaml")
    specc_model = build_model(spec).eval()
    hand = ViTB16().eval()
    hand.load_state_dict(specc_model.state_dict(), strict=True)
    x = torch.randn(args.batch, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(specc_model(x), hand(x))
        ratios, times = _interleaved(specc_model, hand, x, args.repeats, args.calls)
    print(
        f"vit_b_16, batch {args.batch}, {args.threads} thread(s), {spec.graph.params:,} parameters"
    )
    for name, values in times.items():
        print(f"  {name:5}: median {statistics.median(values) * 1e3:.1f} ms per forward")
    pairs = zip(times["specc"], times["hand"], strict=True)
    print("  per repeat, specc/hand s: " + ", ".join(f"{a:.3f}/{b:.3f}" for a, b in pairs))
    medians = statistics.median(times["specc"]) / statistics.median(times["hand"])
    print(
        f"  specc / hand: {statistics.median(ratios):.3f}x median of {args.repeats} per-repeat "
        f"ratios, {medians:.3f}x ratio of the medians (target <= 1.05x)"
    )


if __name__ == "__main__":
    main()
