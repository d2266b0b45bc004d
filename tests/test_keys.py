"""Checkpoints with the previous version's flat keys load through the key map, whole or not."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from specc.backends.keys import legacy_names, upgrade_keys
from specc.backends.module import build_model
from specc.spec.validate import load_spec

ROOT = Path(__file__).resolve().parents[1]


def _flat(key: str) -> str:
    """What the previous version called a key: ``res.0.conv1.weight -> res_1_conv1.weight``."""
    use, copy, layer, rest = key.split(".", 3)
    return f"{use}_{int(copy) + 1}_{layer}.{rest}"


def test_flat_checkpoint_keys_map_to_dotted_keys_and_load_strict() -> None:
    spec = load_spec(ROOT / "specs/resnet.yaml")
    model = build_model(spec)
    state = model.state_dict()
    old = {(_flat(k) if k.startswith("res.") else k): v.clone() for k, v in state.items()}
    assert "res_2_conv2.weight" in old and legacy_names(spec.graph)["res_2_conv2"] == "res.1.conv2"
    fresh = build_model(spec)
    fresh.load_state_dict(upgrade_keys(spec.graph, old, set(state)), strict=True)
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, state[key])


def test_a_checkpoint_that_only_partly_fits_is_left_for_strict_loading_to_refuse() -> None:
    spec = load_spec(ROOT / "specs/resnet.yaml")
    model = build_model(spec)
    old = {_flat(k) if k.startswith("res.") else k: v for k, v in model.state_dict().items()}
    del old["stem.weight"]
    kept = upgrade_keys(spec.graph, old, set(model.state_dict()))
    assert kept is old  # not renamed: nothing is half-loaded
    with pytest.raises(RuntimeError, match="Missing key"):
        build_model(spec).load_state_dict(kept, strict=True)
