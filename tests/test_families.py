"""Every member of every closed family (loss, optimizer, scheduler) runs in ``specc train``
and in the emitted standalone ``train.py``, with the same losses.

One spec per loss; the optimizers and schedulers are dealt out over those specs so each
appears at least once. Adding a member to :mod:`specc.spec.sections` adds it here.
"""

from __future__ import annotations

import subprocess
import sys
from typing import get_args

import numpy as np
import pytest
import yaml
from test_train_source import _RUNNER, EPOCHS, TOLERANCE, _parse

from specc.backends.emit import emit
from specc.spec import sections
from specc.spec.validate import load_spec
from specc.train import train

REQUIRED = {"step_size": 1, "milestones": [1], "gamma": 0.5, "max_lr": 0.05}
# what the model ends with for each loss, and its number of outputs
HEADS = {"multiclass": 3, "binary": 1, "regression": 2}
FINAL = {"bce": ["sigmoid"], "nll": ["logsoftmax"]}


def _kind(cls) -> str:
    return get_args(cls.model_fields["type"].annotation)[0]


def _section(cls) -> dict:
    fields = cls.model_fields
    return {
        "type": _kind(cls),
        **{k: v for k, v in REQUIRED.items() if k in fields and fields[k].is_required()},
    }


def _data(task: str, rng: np.random.Generator) -> tuple[list, list]:
    x = rng.normal(size=(40, 4)).round(3)
    if task == "regression":
        return x.tolist(), (x[:, :2] * 2 - x[:, 2:]).round(3).tolist()
    classes = HEADS[task] if task == "multiclass" else 2
    return x.tolist(), (np.abs(x[:, 0] * 3).astype(int) % classes).tolist()


def _spec(index: int, loss) -> dict:
    task = loss.task
    x, y = _data(task, np.random.default_rng(index))
    optimizer = sections.OPTIMIZERS[index % len(sections.OPTIMIZERS)]
    # shifted by one, so one_cycle (which needs momentum) never meets adagrad
    scheduler = sections.SCHEDULERS[(index + 1) % len(sections.SCHEDULERS)]
    layers = [
        {"type": "linear", "out_features": 6},
        "tanh",
        {"type": "linear", "out_features": HEADS[task]},
        *FINAL.get(_kind(loss), []),
    ]
    return {
        "version": 1,
        "name": f"family_{index}",
        "seed": index,
        "model": {"input": {"shape": [4]}, "layers": layers},
        "loss": _section(loss),
        "optimizer": {**_section(optimizer), "lr": 0.01},
        "scheduler": _section(scheduler),
        "data": {
            "source": {"type": "inline", "x": x, "y": y},
            "split": {"val": 0.25},
            "batch_size": 8,
        },
        "train": {"epochs": EPOCHS, "device": "cpu"},
    }


@pytest.mark.slow
def test_every_family_member_agrees_between_specc_and_train_py(tmp_path, monkeypatch):
    emitted = []
    for index, loss in enumerate(sections.LOSSES):
        path = tmp_path / f"family_{index}.yaml"
        path.write_text(yaml.safe_dump(_spec(index, loss), sort_keys=False))
        spec = load_spec(path)
        emitted.append((spec, tmp_path / "emit" / spec.name))
        emit(spec, emitted[-1][1])
    covered = {(s.loss.type, s.optimizer.type, s.scheduler.type) for s, _ in emitted}
    for family in (sections.LOSSES, sections.OPTIMIZERS, sections.SCHEDULERS):
        assert {_kind(c) for c in family} <= {t for triple in covered for t in triple}
    scripts = [str(out / "train.py") for _, out in emitted]
    command = [sys.executable, "-I", "-c", _RUNNER, *scripts]
    monkeypatch.setattr("specc.train.plots.plot_curves", lambda *args, **kwargs: None)
    with subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        runs = [
            train(spec, out_dir=tmp_path / "runs" / spec.name, quiet=True) for spec, _ in emitted
        ]
        stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    numbers = _parse(stdout)
    for (spec, out), run in zip(emitted, runs, strict=True):
        ours, final = numbers[str(out / "train.py")], run.summary["final"]
        for key in ("train_loss", "val_loss"):
            assert ours[key] == pytest.approx(final[key], abs=TOLERANCE), (spec.name, key)
