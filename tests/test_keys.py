"""Checkpoints with the previous version's flat keys load through the key map, whole or not."""

from __future__ import annotations

import shutil
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


OLD_RUN = """
version: 1
name: flat_keys
seed: 0
model:
  input: {shape: [4]}
  blocks:
    unit:
      params: {width: null}
      layers:
        - {type: linear, name: fc, out_features: $width}
        - {type: relu, name: out}
  layers:
    - {type: block, block: unit, name: res, repeat: 2, args: {width: 8}}
    - {type: linear, name: head, out_features: 3}
loss: cross_entropy
optimizer: {type: sgd, lr: 0.1}
data: {source: {type: sklearn, name: iris}, split: {val: 0.2}, batch_size: 32}
train: {epochs: 1, device: cpu}
"""


def test_resume_accepts_a_last_pt_with_the_previous_versions_flat_keys(tmp_path: Path) -> None:
    """A run whose ``last.pt`` holds flat keys (``res_1_fc.weight``) resumes through the key
    map and ends with the weights of the same run resumed from dotted keys."""
    from specc.train import train

    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(OLD_RUN, encoding="utf-8")
    first = train(load_spec(spec_path), out_dir=tmp_path / "dotted", quiet=True).run_dir
    old = tmp_path / "flat"
    shutil.copytree(first, old)
    state = torch.load(old / "last.pt", weights_only=True)
    state["model"] = {
        (_flat(k) if k.startswith("res.") else k): v for k, v in state["model"].items()
    }
    assert "res_2_fc.weight" in state["model"] and "res.1.fc.weight" not in state["model"]
    torch.save(state, old / "last.pt")
    results = [train(resume=run, overrides=["train.epochs=2"], quiet=True) for run in (first, old)]
    assert [r.summary["epochs_run"] for r in results] == [2, 2]
    dotted, flat = (torch.load(r.run_dir / "last.pt", weights_only=True) for r in results)
    assert set(flat["model"]) == set(dotted["model"]) and "res.1.fc.weight" in flat["model"]
    for key, value in dotted["model"].items():
        assert torch.equal(flat["model"][key], value), key
