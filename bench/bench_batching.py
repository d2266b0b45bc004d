"""One epoch of batches: specc's tensor-indexing batcher vs the course's Dataset + DataLoader.

Run:  python bench/bench_batching.py [--epochs N]

Both sides shuffle and yield every training sample once per epoch in batches of 32 from the
same prepared tensors (Pima: 614 training rows after an 80/20 split; MNIST: 8,000 training
images from the shipped t10k files). The course's way is a ``Dataset`` whose ``__getitem__``
returns one sample, batched by ``DataLoader(batch_size=32, shuffle=True)``; specc's is
``iter_batches`` (one seeded permutation gather per epoch, then contiguous slices).
Targets: >= 10x faster on Pima, >= 4x on MNIST. Times are the median of the epochs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from specc import load_spec  # noqa: E402
from specc.data import iter_batches, prepare_data  # noqa: E402

SPECS = {
    "Pima (csv.gz, 8 features)": """\
model: {input: {shape: [8]}, layers: [{type: linear, out_features: 1}]}
loss: bce_with_logits
data:
  source: {type: csv, path: DATA/diabetes.csv.gz, target: Outcome}
  preprocess: [{type: standard_scaler}]
  split: {val: 0.2, stratify: true}
""",
    "MNIST t10k (1x28x28)": """\
model: {input: {shape: [1, 28, 28]}, layers: [flatten, {type: linear, out_features: 10}]}
loss: cross_entropy
data:
  source: {type: mnist, path: DATA/mnist}
  transforms: [{type: normalize, mean: [0.1307], std: [0.3081]}]
  split: {val: 0.2, stratify: true}
""",
}


class CourseDataset(Dataset):
    """The course's Dataset: one sample per ``__getitem__``, batched by DataLoader's collate."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


def epoch_time(make_batches) -> float:
    """Seconds to draw every batch of one epoch."""
    start = time.perf_counter()
    for _batch in make_batches():
        pass
    return time.perf_counter() - start


def measure(train, epochs: int) -> tuple[float, float]:
    """Median epoch seconds of (DataLoader, iter_batches)."""
    loader = DataLoader(CourseDataset(train.x, train.y), batch_size=32, shuffle=True)
    gen = torch.Generator().manual_seed(0)
    course = [epoch_time(lambda: iter(loader)) for _ in range(epochs)]
    ours = [epoch_time(lambda: iter_batches(train, 32, generator=gen)) for _ in range(epochs)]
    return statistics.median(course), statistics.median(ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 32, "
        f"median of {args.epochs} epochs"
    )
    print(f"{'dataset':28} {'train N':>8} {'DataLoader':>12} {'iter_batches':>13} {'speed-up':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, body in SPECS.items():
            path = Path(tmp) / "bench.yaml"
            path.write_text(
                "version: 1\nname: bench\nseed: 0\n"
                + body.replace("DATA", str(ROOT / "specs" / "data"))
            )
            train = prepare_data(load_spec(path)).train
            course, ours = measure(train, args.epochs)
            print(
                f"{name:28} {len(train):>8} {course * 1e3:>10.2f}ms {ours * 1e3:>11.3f}ms "
                f"{course / ours:>8.1f}x"
            )


if __name__ == "__main__":
    main()
