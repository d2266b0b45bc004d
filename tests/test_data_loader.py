"""The DataLoader path (``data.num_workers > 0``): the same batches, augmentation and weights as
the in-memory path, per-rank shares of each global batch, and an exact resume. (2-process
DataLoader runs are in test_train_distributed.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from train_helpers import assert_same_weights, one_thread, weights

from specc.data import TensorSplit, iter_batches
from specc.data.loader import augment_share, loaded_batches, make_loader
from specc.spec.validate import load_spec
from specc.train import train
from specc.train.distributed import Distributed

# Digits as images with both augmentations and dropout (dropout draws from torch's global
# RNG, which a DataLoader must not touch); 1437 training rows in batches of 100 (last: 37).
SPEC = """\
version: 1
name: loader_digits
seed: 5
model:
  input: {shape: [1, 8, 8]}
  layers:
    - {type: conv2d, out_channels: 4, kernel_size: 3}
    - relu
    - flatten
    - {type: dropout, p: 0.2}
    - {type: linear, out_features: 10}
loss: cross_entropy
optimizer: {type: adam, lr: 0.01}
data:
  source: {type: sklearn, name: digits}
  transforms:
    - {type: random_crop, size: 8, padding: 1}
    - {type: random_horizontal_flip, p: 0.5}
  split: {val: 0.2, seed: 1}
  batch_size: 100
  num_workers: 2
train:
  epochs: 3
  device: cpu
"""


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def _split(n: int = 23) -> TensorSplit:
    x = torch.arange(n * 4, dtype=torch.float32).reshape(n, 1, 2, 2)
    return TensorSplit(x, torch.arange(n) % 3)


def _augment(generator):
    """A per-sample random augmentation (flip of the last dim with p=0.5, plus noise)."""

    def augment(x):
        flip = torch.rand(x.shape[0], generator=generator) < 0.5
        noise = torch.rand(x.shape[0], 1, 1, 1, generator=generator)
        return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x) + noise

    return augment


@pytest.mark.parametrize("workers", [0, 2])
def test_loader_batches_equal_in_memory_batches_for_two_epochs(workers):
    split = _split()
    gen_a, gen_b = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    aug_a, aug_b = (
        _augment(torch.Generator().manual_seed(1)),
        _augment(torch.Generator().manual_seed(1)),
    )
    loader = make_loader(split, 5, num_workers=workers, generator=gen_b)
    rng = torch.get_rng_state()
    for _ in range(2):
        expected = list(iter_batches(split, 5, generator=gen_a, augment=aug_a))
        got = [(b.x, b.y) for b in loaded_batches(loader, torch.device("cpu"), aug_b)]
        assert len(got) == len(expected) == 5
        for (xa, ya), (xb, yb) in zip(expected, got, strict=True):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert torch.equal(gen_a.get_state(), gen_b.get_state())  # one draw per epoch, as in memory
    assert torch.equal(rng, torch.get_rng_state())  # the global RNG (dropout's) is untouched


class _Recorder:
    """Stands in for the ShardedLoss: records what ``begin`` is told."""

    def __init__(self, seen: list) -> None:
        self.seen = seen

    def begin(self, y, lo, hi) -> None:
        self.seen.append((y, lo, hi))


def test_ranks_load_their_contiguous_share_of_each_global_batch():
    split, world = _split(), 3
    whole = list(iter_batches(split, 7, generator=torch.Generator().manual_seed(2)))
    ranks = [
        list(
            loaded_batches(
                make_loader(
                    split,
                    7,
                    num_workers=0,
                    world=world,
                    rank=r,
                    generator=torch.Generator().manual_seed(2),
                ),
                torch.device("cpu"),
            )
        )
        for r in range(world)
    ]
    for index, (x, y) in enumerate(whole):
        shares = [r[index] for r in ranks]
        assert torch.equal(torch.cat([s.x for s in shares]), x)
        assert torch.equal(torch.cat([s.y for s in shares]), y)
        assert all(torch.equal(s.batch_y, y) for s in shares)
        # what the in-memory path's shard() would give each rank (and its loss)
        dist, seen = Distributed(world, 0), []
        dist.loss = _Recorder(seen)
        list(dist.take_shares(shares))
        assert [(lo, hi) for _, lo, hi in seen] == [(s.lo, s.hi) for s in shares]
        assert all(torch.equal(a[0], y) for a in seen)


def test_a_share_is_augmented_as_part_of_its_global_batch():
    x = torch.randn(9, 1, 3, 3)
    expected = _augment(torch.Generator().manual_seed(4))(x)
    for lo, hi in ((0, 5), (5, 9), (9, 9)):  # each rank makes every draw of the batch
        augment = _augment(torch.Generator().manual_seed(4))
        assert torch.equal(augment_share(augment, x[lo:hi], 9, lo), expected[lo:hi])


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path, dict, dict]:
    """The spec trained with 2 workers and with ``num_workers: 0``."""
    folder = tmp_path_factory.mktemp("loader")
    (folder / "spec.yaml").write_text(SPEC)
    with one_thread():
        loaded = train(load_spec(folder / "spec.yaml"), out_dir=folder / "two", quiet=True)
        memory = train(
            load_spec(folder / "spec.yaml"),
            out_dir=folder / "zero",
            quiet=True,
            overrides=["data.num_workers=0"],
        )
    return folder, folder / "two", loaded.summary, memory.summary


def test_two_workers_train_the_same_weights_as_in_memory(runs):
    folder, _, loaded, memory = runs
    assert_same_weights(weights(folder / "two"), weights(folder / "zero"))
    assert loaded["final"]["train_loss"] == memory["final"]["train_loss"]
    assert loaded["epochs_run"] == 3


def test_resume_with_workers_is_exact(runs):
    """Stop after epoch 1 (its last.pt), then resume to epoch 3: the sampler's permutations
    come from the checkpointed shuffle generator, so the weights are the uninterrupted run's."""
    folder, whole, _, _ = runs
    train(
        load_spec(folder / "spec.yaml"),
        out_dir=folder / "cut",
        quiet=True,
        overrides=["train.epochs=1"],
    )
    resumed = train(resume=folder / "cut", overrides=["train.epochs=3"], quiet=True)
    assert resumed.summary["epochs_run"] == 3
    assert_same_weights(weights(folder / "cut"), weights(whole))


# --- persistent workers: each loader starts its workers once per run ---------------------------

IMAGE_SPEC = """\
version: 1
name: persistent_workers
seed: 3
model:
  input: {shape: [1, 8, 8]}
  layers: [flatten, {type: linear, out_features: 2}]
loss: cross_entropy
optimizer: {type: sgd, lr: 0.1}
data:
  source: {type: image_folder, path: pics}
  split: {val: 0.25, stratify: true}
  batch_size: 4
  num_workers: 2
train: {epochs: 3, device: cpu}
"""


def _write_image_folder(root: Path, per_class: int = 8) -> None:
    """Two class folders of small grey PNGs (class 1 brighter)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, name in enumerate(("dark", "light")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 100, (8, 8), dtype=np.uint8) + 120 * label
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i}.png")


def _children() -> set[int]:
    """The PIDs of this process's live child processes (DataLoader workers among them)."""
    import multiprocessing

    return {p.pid for p in multiprocessing.active_children() if p.pid is not None}


def test_an_image_split_keeps_its_evaluation_workers_from_pass_to_pass(tmp_path):
    _write_image_folder(tmp_path / "pics")
    (tmp_path / "spec.yaml").write_text(IMAGE_SPEC)
    from specc.data import prepare_data

    val = prepare_data(load_spec(tmp_path / "spec.yaml")).val
    assert val is not None and len(val) == 4
    val.workers = 2
    before = _children()
    passes, workers = [], []
    for _ in range(3):
        passes.append([(x.clone(), y.clone()) for x, y in val.chunks(2, torch.device("cpu"))])
        workers.append(_children() - before)
    assert len(workers[0]) == 2  # two chunks of 2 files: 2 workers, alive after the pass
    assert workers[1] == workers[0] and workers[2] == workers[0]  # the same processes
    for again in passes[1:]:  # and the same batches, in order
        for (xa, ya), (xb, yb) in zip(passes[0], again, strict=True):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
    val.close()
    assert not (_children() & workers[0])  # closed: the workers have exited


class _ChildWatch:
    """An epoch callback: the child processes alive at the end of each epoch (after its
    validation pass), less those alive before the run."""

    def __init__(self) -> None:
        self.before: set[int] = set()
        self.per_epoch: list[set[int]] = []

    def attach(self, run_dir) -> None:
        self.before = _children()

    def epoch(self, row) -> None:
        self.per_epoch.append(_children() - self.before)


def test_a_three_epoch_image_run_starts_one_set_of_workers(tmp_path):
    """2 training workers and 1 validation worker (one chunk), started once: every epoch
    ends with the same 3 processes, and none is left when the run returns."""
    _write_image_folder(tmp_path / "pics")
    (tmp_path / "spec.yaml").write_text(IMAGE_SPEC)
    watch = _ChildWatch()
    result = train(
        load_spec(tmp_path / "spec.yaml"), out_dir=tmp_path / "run", quiet=True, callbacks=[watch]
    )
    assert result.summary["epochs_run"] == 3
    first, *later = watch.per_epoch
    assert len(first) == 3
    assert later == [first, first]
    assert not (_children() & first)
