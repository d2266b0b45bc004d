"""The shipped zoo (specs/zoo): exact torchvision parameter counts and state_dict keys, and
a hand-written torchvision-style ResNet whose weights load strict and give equal outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from specc.backends.module import build_model
from specc.backends.source import render_model_source
from specc.spec.validate import load_spec

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / "specs" / "zoo"
TORCHVISION = ROOT / "tests" / "data" / "torchvision"

# torchvision's published parameter counts (docs: "Classification" model table)
PUBLISHED = {
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "vgg11_bn": 132_868_840,
    "squeezenet1_1": 1_235_496,
    "densenet121": 7_978_856,
    "mobilenet_v2": 3_504_872,
    "mobilenet_v3_small": 2_542_856,
    "efficientnet_b0": 5_288_548,
    "vit_b_16": 86_567_656,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_zoo_parameter_counts_are_the_published_figures(name: str) -> None:
    assert load_spec(ZOO / f"{name}.yaml").graph.params == PUBLISHED[name]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_zoo_state_dict_equals_torchvision_keys_and_shapes(name: str) -> None:
    spec = load_spec(ZOO / f"{name}.yaml")
    with torch.device("meta"):  # shapes only: no memory, no initialisation time
        model = build_model(spec)
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    expected = json.loads((TORCHVISION / f"{name}.json").read_text(encoding="utf-8"))
    assert list(ours) == list(expected["keys"])
    assert ours == expected["keys"]
    assert sum(p.numel() for p in model.parameters()) == expected["params"]


def test_zoo_generated_code_has_one_class_per_block_variant() -> None:
    source = render_model_source(load_spec(ZOO / "resnet50.yaml"))
    # copies that differ in integers, in arguments left at torch's default (stride 1) and
    # in a conditional layer (downsample) share one class, as in torchvision's resnet.py
    assert source.count("class Bottleneck") == 1
    assert "class Bottleneck(nn.Module):" in source and "def __init__(self, planes" in source
    assert "stride=stride" in source and "if downsample:" in source
    assert "self.layer3 = nn.Sequential(" in source
    assert "layer3_1" not in source  # no flat, unrolled attributes


@pytest.mark.parametrize(
    ("name", "block_class", "blocks"),
    [
        ("resnet18", "Basic", 8),
        ("resnet50", "Bottleneck", 16),
        ("mobilenet_v2", "InvertedResidual", 16),
    ],
)
def test_zoo_block_copies_share_one_class(name: str, block_class: str, blocks: int) -> None:
    """One class per block; a copy whose conditional layer is absent holds None there (or
    a false flag for a layer without a module, such as mobilenet's residual add)."""
    spec = load_spec(ZOO / f"{name}.yaml")
    source = render_model_source(spec)
    assert source.count(f"class {block_class}") == 1
    model = build_model(spec)
    copies = [m for m in model.modules() if type(m).__name__ == block_class]
    assert len(copies) == blocks
    if name.startswith("resnet"):
        present = [c.downsample is not None for c in copies]
        assert present[0] is (name == "resnet50") and any(present) and not all(present)
    else:
        assert {c.add for c in copies} == {True, False}


def test_zoo_vit_encoder_layers_share_one_class() -> None:
    source = render_model_source(load_spec(ZOO / "vit_b_16.yaml"))
    # the 12 encoder layers are equal, so one EncoderBlock class, built 12 times by name
    assert source.count("class EncoderBlock(nn.Module):") == 1
    assert source.count("EncoderBlock()),") == 12 and '("encoder_layer_11", ' in source
    assert "self.class_token = nn.Parameter(torch.zeros(1, 1, 768))" in source


class _BasicBlock(nn.Module):
    """torchvision's BasicBlock, written out by hand."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + identity)


class _ResNet18(nn.Module):
    """torchvision's resnet18(), written out by hand: (B, 3, H, W) -> (B, 1000)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(_BasicBlock(64, 64), _BasicBlock(64, 64))
        self.layer2 = nn.Sequential(_BasicBlock(64, 128, 2), _BasicBlock(128, 128))
        self.layer3 = nn.Sequential(_BasicBlock(128, 256, 2), _BasicBlock(256, 256))
        self.layer4 = nn.Sequential(_BasicBlock(256, 512, 2), _BasicBlock(512, 512))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def test_hand_written_resnet18_weights_load_strict_and_give_equal_outputs() -> None:
    torch.manual_seed(0)
    reference = _ResNet18().eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        for module in reference.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
    ours = build_model(load_spec(ZOO / "resnet18.yaml")).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)  # fully convolutional up to the pooling: a small image
    with torch.no_grad():
        assert torch.equal(ours(x), reference(x))
