"""Unit tests of the trainer's parts that need no data pipeline: metrics against
scikit-learn, checkpoints, RNG capture, losses, optimizers, schedulers, trackers, device."""

from __future__ import annotations

import random
from typing import get_args

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from specc.errors import RunError
from specc.rundir import load_checkpoint, save_checkpoint
from specc.spec.sections import (
    SGD,
    BCELoss,
    BCEWithLogitsLoss,
    CosineAnnealing,
    CrossEntropyLoss,
    HuberLoss,
    MSELoss,
    OneCycle,
    ReduceLROnPlateau,
)
from specc.train import checkpoint as ckpt
from specc.train.device import resolve_device, resolve_precision
from specc.train.losses import build_loss
from specc.train.metrics import Predictor, compute_metrics, confusion_matrix
from specc.train.optim import build_optimizer, build_scheduler
from specc.train.plan import Tracker, infer_mode


@pytest.mark.parametrize("k, seed", [(2, 0), (3, 1), (5, 2), (7, 3)])
def test_classification_metrics_match_sklearn(k, seed):
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, k, (200,), generator=g)
    pred = torch.where(
        torch.rand(200, generator=g) < 0.6, target, torch.randint(0, k - 1, (200,), generator=g)
    )  # class k-1 rarely predicted
    scores, cm = compute_metrics(
        ("accuracy", "precision", "recall", "f1"), "multiclass", pred, target, k
    )
    t, p = target.numpy(), pred.numpy()
    assert scores["accuracy"] == pytest.approx(skm.accuracy_score(t, p), abs=1e-12)
    for name, fn in (
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ):
        assert scores[name] == pytest.approx(fn(t, p, average="macro", zero_division=0), abs=1e-12)
    np.testing.assert_array_equal(cm.numpy(), skm.confusion_matrix(t, p, labels=range(k)))


def test_macro_scores_skip_absent_labels_like_sklearn():
    target, pred = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1])
    scores, _ = compute_metrics(("precision", "f1"), "multiclass", pred, target, 4)
    assert scores["precision"] == pytest.approx(
        skm.precision_score([0, 0, 1, 1], [0, 1, 1, 1], average="macro")
    )
    assert scores["f1"] == pytest.approx(skm.f1_score([0, 0, 1, 1], [0, 1, 1, 1], average="macro"))


def test_binary_predictor_thresholds_logits_and_probabilities():
    out = torch.tensor([[-0.1], [0.2], [0.7]])
    assert Predictor("binary", BCEWithLogitsLoss.threshold).finish([out]).tolist() == [0, 1, 1]
    assert Predictor("binary", BCELoss.threshold).finish([out]).tolist() == [0, 0, 1]
    parts = [Predictor("multiclass", CrossEntropyLoss.threshold).reduce(torch.eye(3)[[2, 0]])]
    assert Predictor("multiclass", CrossEntropyLoss.threshold).finish(parts).tolist() == [2, 0]


def test_regression_metrics_match_sklearn():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(100, 3, generator=g)
    pred = target + 0.3 * torch.randn(100, 3, generator=g)
    scores, cm = compute_metrics(("mse", "mae", "r2"), "regression", pred, target, None)
    assert cm is None
    t, p = target.numpy(), pred.numpy()
    assert scores["mse"] == pytest.approx(skm.mean_squared_error(t, p), rel=1e-6)
    assert scores["mae"] == pytest.approx(skm.mean_absolute_error(t, p), rel=1e-6)
    assert scores["r2"] == pytest.approx(skm.r2_score(t, p), rel=1e-6)


def test_confusion_matrix_rows_are_true_classes():
    cm = confusion_matrix(torch.tensor([1, 1, 0]), torch.tensor([[0], [1], [0]]), 2)
    assert cm.tolist() == [[1, 1], [0, 1]]


def test_checkpoint_is_atomic_and_weights_only(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint({"epoch": 1, "w": torch.ones(3)}, path)

    def broken_save(obj, handle):
        handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        save_checkpoint({"epoch": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    state = torch.load(path, weights_only=True)
    assert state["epoch"] == 1 and torch.equal(state["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left


def test_checkpoint_writer_keeps_copies_between_writes(tmp_path):
    weight = torch.zeros(2)

    def state(epoch):
        weight.fill_(epoch)
        return lambda: {"epoch": epoch, "model": {"w": weight}}

    writer = ckpt.CheckpointWriter(tmp_path, interval=3600)
    writer.epoch(state(1), improved=True)  # the first epoch is always written
    writer.epoch(state(2), improved=True)
    writer.epoch(state(3), improved=False)
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 1 and writer.last_epoch == 1
    weight.fill_(float("nan"))  # later training must not leak into the kept copies
    writer.flush()
    best, last = (load_checkpoint(tmp_path / n) for n in ("best.pt", "last.pt"))
    assert (best["epoch"], best["model"]["w"].tolist()) == (2, [2.0, 2.0])
    assert (last["epoch"], last["model"]["w"].tolist()) == (3, [3.0, 3.0])
    assert writer.last_epoch == 3
    writer.epoch(state(4), improved=False, final=True)
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 4


def test_rng_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    gen = torch.Generator().manual_seed(5)
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    random.random(), np.random.rand(), torch.rand(1), np.random.randn()
    save_checkpoint({"rng": ckpt.capture_rng({"shuffle": gen})}, tmp_path / "c.pt")
    expected = (
        random.random(),
        np.random.rand(),
        np.random.randn(),
        torch.rand(2),
        torch.randperm(10, generator=gen),
    )
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    other = torch.Generator().manual_seed(0)
    ckpt.restore_rng(load_checkpoint(tmp_path / "c.pt")["rng"], {"shuffle": other})
    got = (
        random.random(),
        np.random.rand(),
        np.random.randn(),
        torch.rand(2),
        torch.randperm(10, generator=other),
    )
    assert got[:3] == expected[:3]
    assert torch.equal(got[3], expected[3]) and torch.equal(got[4], expected[4])


def test_losses_build_from_their_section_classes():
    ce = build_loss(
        CrossEntropyLoss(type="cross_entropy", label_smoothing=0.1, weight=[1.0, 2.0, 3.0])
    )
    logits, target = torch.randn(6, 3), torch.tensor([0, 1, 2, 2, 1, 0])
    expected = torch.nn.functional.cross_entropy(
        logits, target, weight=torch.tensor([1.0, 2.0, 3.0]), label_smoothing=0.1
    )
    assert torch.allclose(ce(logits, target), expected)
    huber = build_loss(HuberLoss(type="huber", delta=0.5))
    assert huber.delta == 0.5


def _every_member(classes):
    """One valid instance of each family member, required arguments filled in."""
    required = {"step_size": 2, "milestones": [1, 2], "gamma": 0.5, "max_lr": 0.1}
    for cls in classes:
        kind = get_args(cls.model_fields["type"].annotation)[0]
        args = {
            k: v
            for k, v in required.items()
            if k in cls.model_fields and cls.model_fields[k].is_required()
        }
        yield cls(type=kind, **args)


def test_every_family_member_builds_its_torch_class():
    from specc.spec import sections

    model = torch.nn.Linear(2, 1)
    for loss in _every_member(sections.LOSSES):
        assert type(build_loss(loss)).__name__ == loss.torch_class
        assert loss.task in ("multiclass", "binary", "regression")
    optimizers = list(_every_member(sections.OPTIMIZERS))
    for section in optimizers:
        assert type(build_optimizer(section, model.parameters())).__name__ == section.torch_class
    for section in _every_member(sections.SCHEDULERS):
        optimizer = build_optimizer(optimizers[0], model.parameters())
        stepper = build_scheduler(section, optimizer, epochs=3, batches_per_epoch=2)
        assert type(stepper.scheduler).__name__ == section.torch_class
        assert stepper.per_batch == (section.steps == "batch")
    opt = build_optimizer(
        SGD(type="sgd", lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4), model.parameters()
    )
    assert opt.param_groups[0]["nesterov"] and opt.param_groups[0]["weight_decay"] == 1e-4


def _opt(lr=0.1):
    return torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=lr)


def test_one_cycle_steps_per_batch_over_all_epochs():
    opt = _opt()
    stepper = build_scheduler(
        OneCycle(type="one_cycle", max_lr=1.0), opt, epochs=3, batches_per_epoch=4
    )
    assert stepper.per_batch and stepper.scheduler.total_steps == 12
    used = []
    for _ in range(12):  # the lr each of the 12 optimizer steps uses
        used.append(opt.param_groups[0]["lr"])
        opt.step()
        stepper.batch()
    stepper.epoch({"val_loss": 1.0})  # ignored for per-batch schedulers
    assert used[0] == pytest.approx(1.0 / 25) and 0.95 < max(used) <= 1.0
    assert used[-1] == pytest.approx(1.0 / 25 / 1e4, rel=1e-3)


def test_cosine_annealing_defaults_to_the_epoch_count():
    opt = _opt()
    stepper = build_scheduler(
        CosineAnnealing(type="cosine_annealing"), opt, epochs=4, batches_per_epoch=10
    )
    for _ in range(4):
        opt.step()
        stepper.epoch({})
    assert stepper.scheduler.T_max == 4
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_plateau_steps_on_its_monitor_and_round_trips_weights_only(tmp_path):
    opt = _opt()
    section = ReduceLROnPlateau(type="reduce_lr_on_plateau", patience=1, factor=0.5)
    stepper = build_scheduler(section, opt, 10, 3, monitor="train_loss")
    for value in (1.0, 1.0, 1.0):
        stepper.epoch({"train_loss": value, "val_loss": 0.0})
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
    save_checkpoint({"s": stepper.state_dict()}, tmp_path / "s.pt")
    assert load_checkpoint(tmp_path / "s.pt")["s"]["num_bad_epochs"] == 0
    one_cycle = build_scheduler(OneCycle(type="one_cycle", max_lr=1.0), _opt(), 2, 2)
    save_checkpoint({"s": one_cycle.state_dict()}, tmp_path / "o.pt")
    assert load_checkpoint(tmp_path / "o.pt")["s"]["total_steps"] == 4


def test_tracker_modes_min_delta_and_patience():
    assert infer_mode("val_loss") == "min" and infer_mode("val_mae") == "min"
    assert infer_mode("val_accuracy") == "max" and infer_mode("val_r2") == "max"
    stop = Tracker("val_loss", "min", min_delta=0.1, patience=2)
    flags = [
        stop.update({"epoch": e, "val_loss": v})
        for e, v in enumerate([1.0, 0.95, 0.85, 0.84, 0.80], start=1)
    ]
    assert flags == [True, False, True, False, False]
    assert stop.should_stop and stop.best_epoch == 3
    best = Tracker("val_accuracy", "max")
    assert [best.update({"epoch": 1, "val_accuracy": a}) for a in (0.5, 0.7, 0.7)] == [
        True,
        True,
        False,
    ]


def test_device_and_precision_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(RunError, match="not available"):
            resolve_device("cuda:1")
    with pytest.raises(RunError, match="fp16 needs a GPU"):
        resolve_precision("fp16", torch.device("cpu"))
    bf16 = resolve_precision("bf16", torch.device("cpu"))
    assert bf16.dtype is torch.bfloat16 and not bf16.use_scaler
    with bf16.autocast():
        assert torch.nn.Linear(2, 2)(torch.ones(1, 2)).dtype is torch.bfloat16
    assert resolve_precision("fp32", torch.device("cpu")).scaler() is None


def _step(model, grad_clip=None, per_sample_weight=True, lr=1.0):
    from specc.train.device import Precision
    from specc.train.loop import TrainParts
    from specc.train.optim import Stepper

    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return TrainParts(
        model,
        torch.nn.MSELoss(),
        optimizer,
        Stepper(None),
        Predictor("regression", MSELoss.threshold),
        Precision("fp32", "cpu"),
        grad_clip=grad_clip,
        per_sample_weight=per_sample_weight,
    )


def test_train_epoch_clips_gradients_and_averages_the_loss_per_sample():
    from specc.train.loop import train_epoch

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    x, y = torch.randn(10, 3) * 100, torch.randn(10, 1)
    batches = [(x[:4], y[:4]), (x[4:], y[4:])]
    result = train_epoch(_step(model, grad_clip=0.01), batches, torch.device("cpu"))
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert (after - before).norm() <= 2 * 0.01 + 1e-6  # two steps of lr 1 x clipped norm
    assert result.count == 10 and len(result.preds) == 2
    # each batch mean weighted by its size: with lr 0, exactly the mean over all 10 samples
    frozen = train_epoch(_step(model, lr=0.0), batches, torch.device("cpu"))
    with torch.no_grad():
        expected = torch.nn.functional.mse_loss(model(x), y).item()
    assert frozen.loss() == pytest.approx(expected, rel=1e-5)


def test_evaluate_runs_in_inference_mode_and_matches_the_full_batch_loss():
    from specc.data import TensorSplit
    from specc.train.loop import evaluate

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.5), torch.nn.Linear(4, 1))
    split = TensorSplit(torch.randn(2500, 3), torch.randn(2500, 1))
    result = evaluate(_step(model), split, batch_size=16, device=torch.device("cpu"))
    model.eval()
    with torch.no_grad():
        expected = torch.nn.functional.mse_loss(model(split.x), split.y).item()
    assert result.loss() == pytest.approx(expected, rel=1e-5)  # eval mode: dropout off
    assert not model.training and result.preds[0].is_inference()
