"""Distributed training (torchrun + DDP, gloo on CPU, 2 processes): a 2-process run trains like
a 1-process run, the ranks end bit-identical, a failing rank stops the run, --resume works.

The sharded-loss arithmetic is checked in one process (no process group needed); the runs
launch real torchrun jobs, each a few seconds of process start-up.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from fault_entry import FAIL_HOOK_ENV, FAULT_ENTRY
from torch import nn
from train_helpers import assert_same_weights, one_thread, summary, weights

from specc.errors import RunError
from specc.spec.validate import load_spec
from specc.train import train
from specc.train.checkpoint import INTERVAL_ENV
from specc.train.distributed import (
    Distributed,
    ShardedLoss,
    _node_args,
    launch,
    share_bounds,
    state_digest,
    sync_batchnorm,
)

# batch_size 17 over 90 training rows: every global batch splits unevenly (9 + 8), and the
# last one (5 rows) 3 + 2. Class weights exercise the weighted-mean denominators.
SPEC = """\
version: 1
name: ddp_iris
seed: 3
model:
  input: {shape: [4]}
  layers:
    - {type: linear, out_features: 16}
    - relu
    - {type: linear, out_features: 3}
loss: {type: cross_entropy, weight: [1.0, 2.0, 0.5], label_smoothing: 0.05}
optimizer: {type: adam, lr: 0.01}
scheduler: {type: one_cycle, max_lr: 0.02}
data:
  source: {type: sklearn, name: iris}
  preprocess: [{type: standard_scaler}]
  split: {val: 0.2, test: 0.2, stratify: true}
  batch_size: 17
train:
  epochs: 4
  device: cpu
  metrics: [accuracy, f1]
"""
WORKER_ENV = {"OMP_NUM_THREADS": "1", INTERVAL_ENV: "0"}


# --- the arithmetic, in one process ------------------------------------------------------


def test_share_bounds_cover_every_item_once():
    for n in range(0, 12):
        for world in (1, 2, 3, 5):
            bounds = [share_bounds(n, world, r) for r in range(world)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
            sizes = [hi - lo for lo, hi in bounds]
            assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def _grads(model, loss) -> list[torch.Tensor]:
    model.zero_grad()
    loss.backward()
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("world", [2, 3, 7])
@pytest.mark.parametrize(
    "loss_fn",
    [
        nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0, 0.25]), label_smoothing=0.1),
        nn.CrossEntropyLoss(reduction="sum"),
        nn.NLLLoss(weight=torch.tensor([0.5, 1.0, 2.0])),
    ],
    ids=["weighted_ce", "sum", "weighted_nll"],
)
def test_sharded_loss_averages_to_the_one_process_gradient(world, loss_fn):
    """DDP averages the ranks' gradients: the mean of the sharded losses' gradients must be the
    gradient of the whole batch's loss, and the loss sums must add up to the 1-process one."""
    torch.manual_seed(0)
    model = (
        nn.Sequential(nn.Linear(4, 3), nn.LogSoftmax(1))
        if isinstance(loss_fn, nn.NLLLoss)
        else nn.Linear(4, 3)
    )
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 1, 2, 0])  # 5 rows: world 7 has empty shares
    mean = loss_fn.reduction == "mean"
    expected = _grads(model, loss_fn(model(x), y))
    sharded = ShardedLoss(loss_fn, mean, world, torch.device("cpu"))
    summed = [torch.zeros_like(g) for g in expected]
    for rank in range(world):
        lo, hi = share_bounds(5, world, rank)
        sharded.begin(y, lo, hi)
        for total, grad in zip(
            summed, _grads(model, sharded(model(x[lo:hi]), y[lo:hi])), strict=True
        ):
            total += grad / world
    for got, want in zip(summed, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    whole = float(loss_fn(model(x), y).detach()) * (5 if mean else 1)
    assert float(sharded.take_total()) == pytest.approx(whole, rel=1e-5)
    assert float(sharded.total) == 0.0


def test_one_process_is_untouched():
    dist = Distributed()
    batches = [(torch.zeros(2, 1), torch.zeros(2))]
    assert dist.shard(batches) is batches
    assert dist.check_in_sync(nn.Linear(1, 1)) is None
    assert not dist.enabled and dist.is_main


def test_batchnorm_becomes_syncbatchnorm_on_cuda_only():
    """Conversion keeps the very parameters the optimizer holds; torch's SyncBatchNorm runs on
    CUDA only, so CPU keeps BatchNorm and says so."""
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    weight = model[1].weight
    same, notice = sync_batchnorm(model, torch.device("cpu"))
    assert isinstance(same[1], nn.BatchNorm1d) and "no CPU SyncBatchNorm" in notice
    converted, notice = sync_batchnorm(model, torch.device("cuda", 0))
    assert isinstance(converted[1], nn.SyncBatchNorm) and notice is None
    assert converted[1].weight is weight
    assert sync_batchnorm(nn.Linear(2, 2), torch.device("cuda"))[1] is None


def test_state_digest_sees_every_bit():
    state = nn.BatchNorm1d(3).state_dict()
    before = state_digest(state)
    state["running_var"][1] = torch.nextafter(torch.tensor(1.0), torch.tensor(2.0))
    assert state_digest(state) != before


def test_errors_name_the_rank():
    dist = Distributed(world=2, rank=1)
    lost = dist.rank_error(RuntimeError("[/src/gloo/pair.cc:553] Connection closed by peer\nmore"))
    assert isinstance(lost, RunError)
    assert str(lost) == "rank 1: lost the other ranks (Connection closed by peer)"
    assert str(dist.rank_error(RunError("bad data"))) == "rank 1: bad data"
    other = ValueError("a bug")
    assert dist.rank_error(other) is other and Distributed().rank_error(other) is other


def test_launcher_arguments():
    assert _node_args(None, None, None, None, None) == ["--standalone"]
    assert _node_args("2", 1, "node0:29400", None, None) == [
        "--nnodes",
        "2",
        "--node-rank",
        "1",
        "--rdzv-endpoint",
        "node0:29400",
    ]
    with pytest.raises(RunError, match="--rdzv-endpoint"):
        _node_args("2", 0, None, None, None)


def test_launcher_options_need_nproc(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "specc", "train", str(tmp_path / "x.yaml"), "--nnodes", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "go with --nproc" in done.stderr


# --- real torchrun jobs ------------------------------------------------------------------


def _run(args, tmp_path, extra_env=None, timeout=150):
    env = {**os.environ, **WORKER_ENV, **(extra_env or {})}
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done, time.monotonic() - began


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 1-process run (in this process) and a 2-process run (``specc train --nproc 2``)."""
    folder = tmp_path_factory.mktemp("ddp")
    (folder / "spec.yaml").write_text(SPEC)
    with one_thread():
        single = train(load_spec(folder / "spec.yaml"), out_dir=folder / "one", quiet=True)
    done, _ = _run(["specc", "train", "spec.yaml", "--out", "two", "--nproc", "2"], folder)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder, single.summary, done


@pytest.mark.slow
def test_two_processes_end_bit_identical(runs):
    folder, _, _ = runs
    info = summary(folder / "two")["distributed"]
    assert info["world_size"] == 2 and info["backend"] == "gloo"
    digests = info["weights_sha256"]
    assert len(digests) == 2 and digests[0] == digests[1]
    assert digests[0] == state_digest(weights(folder / "two"))  # rank 0's saved weights


@pytest.mark.slow  # about 9 s idle: the module's two runs, one of them a 2-process torchrun job
def test_two_processes_train_like_one(runs):
    folder, single, done = runs
    double = summary(folder / "two")
    assert "distributed" not in single
    assert double["epochs_run"] == single["epochs_run"] == 4
    for key in ("train_loss", "val_loss", "val_accuracy", "train_f1"):
        assert double["final"][key] == pytest.approx(single["final"][key], abs=1e-4), key
    assert double["test"]["test_accuracy"] == pytest.approx(
        single["test"]["test_accuracy"], abs=1e-6
    )
    one, two = weights(folder / "one"), weights(folder / "two")
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=1e-4, atol=1e-5)
    # rank 0 alone prints and writes: one closing line, one run folder
    assert done.stdout.count("run saved to two") == 1
    assert done.stdout.count("epoch 4/4") == 1
    assert sorted(p.name for p in folder.iterdir()) == ["one", "spec.yaml", "two"]


@pytest.mark.slow
def test_failing_rank_stops_the_run_then_resume(runs, monkeypatch):
    """torchrun on tests/fault_entry.py (specc with a fault): rank 1 fails at epoch 3;
    torchrun stops rank 0 (blocked in a collective) and the run ends, nonzero, in bounded
    time. --resume on 2 processes then finishes it with exactly the weights of the
    uninterrupted 2-process run."""
    folder, _, _ = runs
    done, seconds = _run(
        [
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            str(FAULT_ENTRY),  # `specc` with the failing-rank fault installed
            "train",
            "spec.yaml",
            "--out",
            "broken",
            "--quiet",
        ],
        folder,
        {FAIL_HOOK_ENV: "1:3"},
        timeout=120,
    )
    assert done.returncode != 0
    assert f"error: rank 1: failure injected by {FAIL_HOOK_ENV} at epoch 3" in done.stderr
    assert "[rank0]: Traceback" not in done.stderr  # rank 0: killed by torchrun, or one line
    assert seconds < 100
    epoch = torch.load(folder / "broken" / "last.pt", weights_only=True)["epoch"]
    assert epoch in (1, 2)
    for key, value in WORKER_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(folder)
    launch(2, ["--resume", "broken", "--quiet"])  # what `specc train --resume --nproc 2` calls
    assert_same_weights(weights(folder / "broken"), weights(folder / "two"))
    assert summary(folder / "broken")["epochs_run"] == 4


# A rank's `specc train`, reporting at interpreter exit (atexit runs before finalization) the
# gloo threads still alive: a gloo worker alive then can drop the last reference to a
# collective's tensors while the interpreter finalizes, which aborts the rank (SIGABRT,
# "terminate called without an active exception").
EXIT_PROBE = """\
import atexit, os, sys
from pathlib import Path

def report():
    tasks = Path("/proc/self/task")
    names = [(t / "comm").read_text().strip() for t in tasks.iterdir()]
    gloo = sorted(n for n in names if "gloo" in n)
    Path(f"threads-{os.environ['RANK']}.txt").write_text(" ".join(gloo))

atexit.register(report)
sys.path.insert(0, sys.argv.pop(1))
from specc.cli import main
sys.argv[0] = "specc"
main()
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_no_gloo_thread_outlives_a_rank(runs):
    """Every rank frees its process group before the interpreter exits: DDP must let go of
    it before destroy_process_group, and torch._dynamo (which DDP imports) must not capture
    it (Distributed.setup imports it first)."""
    folder, _, _ = runs
    (folder / "exit_probe.py").write_text(EXIT_PROBE)
    args = ["train", "spec.yaml", "--out", "probed", "--quiet", "--set", "train.epochs=1"]
    done, _ = _run(
        [
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            "exit_probe.py",
            str(Path(__file__).resolve().parents[1]),  # this checkout's specc
            *args,
        ],
        folder,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert summary(folder / "probed")["epochs_run"] == 1
    for rank in (0, 1):
        assert (folder / f"threads-{rank}.txt").read_text() == "", f"rank {rank}"


@pytest.mark.slow
def test_two_processes_with_dataloader_workers_match_the_in_memory_shards(runs):
    """``data.num_workers: 1``: each rank's DataLoader loads its share of each global batch of
    the same permutation, so the 2-process run ends bit-identical to the in-memory 2-process
    run (and so within 1e-4 of one process)."""
    folder, single, _ = runs
    done, _ = _run(
        [
            "specc",
            "train",
            "spec.yaml",
            "--out",
            "loaded",
            "--nproc",
            "2",
            "--quiet",
            "--set",
            "data.num_workers=1",
        ],
        folder,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert_same_weights(weights(folder / "loaded"), weights(folder / "two"))
    assert summary(folder / "loaded")["final"]["val_loss"] == pytest.approx(
        single["final"]["val_loss"], abs=1e-4
    )
