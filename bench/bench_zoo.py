"""Benchmark: the zoo's generated code and build time against torchvision's own.

1. Lines: non-blank, non-comment lines of the emitted ``model.py`` of each zoo spec against
   torchvision's model-definition source for the same model (target <= 1.3x). The
   torchvision counts are hard-coded (torchvision is not a dependency), counted the same way
   in the torchvision 0.29.1 wheel, over the model definitions only (no weight enums or
   builders): resnet.py lines 40-287 (``conv3x3`` ... ``class ResNet``), vgg.py 35-97
   (``class VGG``, ``make_layers``, ``cfgs``), squeezenet.py 18-99 (``Fire``,
   ``SqueezeNet``), densenet.py 31-220 (``_DenseLayer`` ... ``DenseNet``), mobilenetv2.py
   19-176 (``InvertedResidual``, ``MobileNetV2``), mobilenetv3.py 25-272
   (``InvertedResidualConfig`` ... ``_mobilenet_v3_conf``), efficientnet.py 48-87, 105-171,
   233-346 and 366-420 (the MBConv configs, ``MBConv``, ``EfficientNet``,
   ``_efficientnet_conf``; without the V2-only ``FusedMBConv``).
2. Build: ``specc.build_model`` (render, compile, construct) of resnet18 and vgg11_bn
   against constructing the same model written by hand in PyTorch (target <= 1.5x),
   alternating, medians of several runs in this one process.

Usage: ``python bench/bench_zoo.py [--runs N]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

TORCHVISION_LINES = {
    "resnet18": 198,
    "resnet50": 198,
    "vgg11_bn": 56,
    "squeezenet1_1": 70,
    "densenet121": 151,
    "mobilenet_v2": 124,
    "mobilenet_v3_small": 206,
    "efficientnet_b0": 225,
}
LINES_TARGET = 1.3
BUILD_TARGET = 1.5


def code_lines(text: str) -> int:
    """Non-blank lines that are not comments."""
    return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))


def _vgg11_bn():
    from torch import nn

    layers, channels = [], 3
    for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(channels, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]
            channels = v
    return nn.Sequential(
        nn.Sequential(*layers),
        nn.AdaptiveAvgPool2d(7),
        nn.Flatten(),
        nn.Sequential(
            nn.Linear(25088, 4096),
            nn.ReLU(),
            nn.Dropout(),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Dropout(),
            nn.Linear(4096, 1000),
        ),
    )


def _median_pair(make_a, make_b, runs: int) -> tuple[float, float]:
    a, b = [], []
    for _ in range(runs):
        for make, out in ((make_a, a), (make_b, b)):
            start = time.perf_counter()
            make()
            out.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def main() -> int:
    """Print both tables; exit 1 when a ratio misses its target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from test_zoo import _ResNet18

    from specc.backends.module import build_model
    from specc.backends.source import render_model_source
    from specc.spec.validate import load_spec

    ok = True
    print(f"{'model':<20}{'specc lines':>12}{'torchvision':>12}{'ratio':>8}")
    for name, theirs in TORCHVISION_LINES.items():
        ours = code_lines(render_model_source(load_spec(ROOT / "specs/zoo" / f"{name}.yaml")))
        ok &= ours / theirs <= LINES_TARGET
        print(f"{name:<20}{ours:>12}{theirs:>12}{ours / theirs:>8.2f}")
    print(f"\n{'model':<20}{'specc build s':>14}{'by hand s':>11}{'ratio':>8}")
    for name, by_hand in (("resnet18", _ResNet18), ("vgg11_bn", _vgg11_bn)):
        spec = load_spec(ROOT / "specs/zoo" / f"{name}.yaml")
        ours, theirs = _median_pair(lambda s=spec: build_model(s), by_hand, args.runs)
        ok &= ours / theirs <= BUILD_TARGET
        print(f"{name:<20}{ours:>14.3f}{theirs:>11.3f}{ours / theirs:>8.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
