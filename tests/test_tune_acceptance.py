"""The tuner's acceptance run: 20 trials on specs/diabetes.yaml (lr and the first layer's
width); best.yaml trains to a validation accuracy at least the shipped spec's."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import one_thread
from tune_helpers import trials_csv

from specc.spec.validate import load_spec
from specc.train import train
from specc.tune import TuneConfig, tune

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_diabetes_tune_beats_or_ties_the_shipped_spec(tmp_path) -> None:
    config = TuneConfig(
        str(ROOT / "specs" / "diabetes.yaml"),
        ["optimizer.lr=loguniform(1e-4,1e-1)", "model.layers.0.out_features=choice(16,32,64)"],
        20,
        str(tmp_path / "tune"),
    )
    with one_thread():
        result = tune(config, quiet=True)
        assert sum(r["state"] in ("COMPLETE", "PRUNED") for r in trials_csv(result.out_dir)) == 20
        tuned = train(load_spec(result.best_yaml), out_dir=tmp_path / "best", quiet=True)
        shipped = train(
            load_spec(ROOT / "specs" / "diabetes.yaml"), out_dir=tmp_path / "shipped", quiet=True
        )
    accuracy = {
        name: run.summary["best"]["val_accuracy"]
        for name, run in (("tuned", tuned), ("shipped", shipped))
    }
    print(f"val accuracy at the best epoch: {accuracy}")
    assert accuracy["tuned"] >= accuracy["shipped"]
