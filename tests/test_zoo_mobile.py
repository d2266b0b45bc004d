"""The mobile zoo specs (mobilenet_v2, mobilenet_v3_small, efficientnet_b0) against the same
models written out by hand in torchvision's layout: the hand-written weights load into the
spec's model with strict=True and both give equal outputs. torchvision itself is not a
dependency; these classes follow its source (models/mobilenetv2.py, mobilenetv3.py,
efficientnet.py) module for module."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch
from torch import nn

from specc.backends.module import build_model
from specc.spec.validate import load_spec

ZOO = Path(__file__).resolve().parents[1] / "specs" / "zoo"


def _conv_bn(
    inp: int,
    out: int,
    k: int = 1,
    stride: int = 1,
    groups: int = 1,
    act: type[nn.Module] | None = nn.ReLU6,
    bn=nn.BatchNorm2d,
) -> nn.Sequential:
    """torchvision's Conv2dNormActivation: (B, inp, H, W) -> (B, out, H/stride, W/stride)."""
    layers = [nn.Conv2d(inp, out, k, stride, (k - 1) // 2, groups=groups, bias=False), bn(out)]
    return nn.Sequential(*layers, *([act()] if act else []))


class _SqueezeExcitation(nn.Module):
    """x * scale(fc2(act(fc1(avgpool(x))))): (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, ch: int, squeeze: int, act: type[nn.Module], scale: type[nn.Module]):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(ch, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, ch, 1)
        self.activation = act()
        self.scale_activation = scale()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
        return self.scale_activation(scale) * x


class _Residual(nn.Module):
    """`body(x) + x` when stride 1 keeps the channels, else `body(x)`; body is `self.<attr>`."""

    def __init__(self, attr: str, body: list[nn.Module], use_res: bool):
        super().__init__()
        setattr(self, attr, nn.Sequential(*body))
        self.attr, self.use_res = attr, use_res

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = getattr(self, self.attr)(x)
        return out + x if self.use_res else out


def _mobilenet_v2() -> nn.Module:
    """torchvision's mobilenet_v2(): (B, 3, H, W) -> (B, 1000)."""
    features: list[nn.Module] = [_conv_bn(3, 32, 3, 2)]
    inp = 32
    for t, c, n, s in [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ]:
        for i in range(n):
            stride, hidden = (s if i == 0 else 1), inp * t
            body = [_conv_bn(inp, hidden)] if t != 1 else []
            body += [
                _conv_bn(hidden, hidden, 3, stride, hidden),
                nn.Conv2d(hidden, c, 1, bias=False),
                nn.BatchNorm2d(c),
            ]
            features.append(_Residual("conv", body, stride == 1 and inp == c))
            inp = c
    features.append(_conv_bn(320, 1280))
    return _classifier(features, nn.Dropout(0.2), nn.Linear(1280, 1000))


def _mobilenet_v3_small() -> nn.Module:
    """torchvision's mobilenet_v3_small(): (B, 3, H, W) -> (B, 1000)."""
    bn = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
    features: list[nn.Module] = [_conv_bn(3, 16, 3, 2, act=nn.Hardswish, bn=bn)]
    for inp, k, exp, out, se, hs, stride in [
        (16, 3, 16, 16, True, False, 2),
        (16, 3, 72, 24, False, False, 2),
        (24, 3, 88, 24, False, False, 1),
        (24, 5, 96, 40, True, True, 2),
        (40, 5, 240, 40, True, True, 1),
        (40, 5, 240, 40, True, True, 1),
        (40, 5, 120, 48, True, True, 1),
        (48, 5, 144, 48, True, True, 1),
        (48, 5, 288, 96, True, True, 2),
        (96, 5, 576, 96, True, True, 1),
        (96, 5, 576, 96, True, True, 1),
    ]:
        act = nn.Hardswish if hs else nn.ReLU
        body = [_conv_bn(inp, exp, act=act, bn=bn)] if exp != inp else []
        body.append(_conv_bn(exp, exp, k, stride, exp, act=act, bn=bn))
        squeeze = max(8, (exp // 4 + 4) // 8 * 8)  # _make_divisible(exp // 4, 8)
        body += [_SqueezeExcitation(exp, squeeze, nn.ReLU, nn.Hardsigmoid)] if se else []
        body.append(_conv_bn(exp, out, act=None, bn=bn))
        features.append(_Residual("block", body, stride == 1 and inp == out))
    features.append(_conv_bn(96, 576, act=nn.Hardswish, bn=bn))
    return _classifier(
        features, nn.Linear(576, 1024), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(1024, 1000)
    )


def _efficientnet_b0() -> nn.Module:
    """torchvision's efficientnet_b0() in eval (stochastic depth is the identity there)."""
    features: list[nn.Module] = [_conv_bn(3, 32, 3, 2, act=nn.SiLU)]
    for t, k, s, inp, out, n in [
        (1, 3, 1, 32, 16, 1),
        (6, 3, 2, 16, 24, 2),
        (6, 5, 2, 24, 40, 2),
        (6, 3, 2, 40, 80, 3),
        (6, 5, 1, 80, 112, 3),
        (6, 5, 2, 112, 192, 4),
        (6, 3, 1, 192, 320, 1),
    ]:
        stage = []
        for i in range(n):
            stride, cin, exp = (s, inp, inp * t) if i == 0 else (1, out, out * t)
            body = [_conv_bn(cin, exp, act=nn.SiLU)] if t != 1 else []
            body += [
                _conv_bn(exp, exp, k, stride, exp, act=nn.SiLU),
                _SqueezeExcitation(exp, max(1, cin // 4), nn.SiLU, nn.Sigmoid),
                _conv_bn(exp, out, act=None),
            ]
            stage.append(_Residual("block", body, stride == 1 and cin == out))
        features.append(nn.Sequential(*stage))
    features.append(_conv_bn(320, 1280, act=nn.SiLU))
    return _classifier(features, nn.Dropout(0.2), nn.Linear(1280, 1000))


def _classifier(features: list[nn.Module], *head: nn.Module) -> nn.Module:
    """features -> global average pool -> flatten -> classifier, torchvision's names."""
    model = nn.Sequential()
    model.features = nn.Sequential(*features)
    model.avgpool = nn.AdaptiveAvgPool2d(1)
    model.flatten = nn.Flatten()
    model.classifier = nn.Sequential(*head)
    return model


@pytest.mark.parametrize(
    "name, make",
    [
        ("mobilenet_v2", _mobilenet_v2),
        ("mobilenet_v3_small", _mobilenet_v3_small),
        ("efficientnet_b0", _efficientnet_b0),
    ],
)
def test_hand_written_mobile_models_load_strict_and_give_equal_outputs(name, make) -> None:
    torch.manual_seed(0)
    reference = make().eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        for module in reference.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
    ours = build_model(load_spec(ZOO / f"{name}.yaml")).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)  # fully convolutional up to the pooling: a small image
    with torch.no_grad():
        expected = reference(x)
        assert torch.equal(ours(x), expected)
    # the residual adds matter: without them the outputs differ
    for module in reference.modules():
        if isinstance(module, _Residual):
            module.use_res = False
    with torch.no_grad():
        assert not torch.allclose(reference(x), expected)
