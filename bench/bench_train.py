"""``specc train`` against a hand-written minimal loop, side by side in one process.

Both train the same model (``specc.build_model``), on the same tensors (``prepare_data``),
with the same batch size, optimizer and loss, shuffling by tensor indexing and validating
(loss and accuracy) after every epoch. Reported: seconds per epoch (median over rounds, the
runs of the two alternating so that machine load hits both alike) and the ratio
specc / hand-written (target <= 1.05).

    python bench/bench_train.py                     # Pima (diabetes) and LeNet (MNIST set)
    python bench/bench_train.py --epochs 3 --rounds 3 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

import specc
from specc.data import prepare_data
from specc.train import train
from specc.train.losses import build_loss

ROOT = Path(__file__).resolve().parent.parent
SPECS = {"diabetes (Pima)": "specs/diabetes.yaml", "lenet (MNIST 10k)": "specs/lenet.yaml"}


def hand_loop(spec, data, epochs: int) -> float:
    """Seconds per epoch of the plain loop a course would write (tensor indexing)."""
    torch.manual_seed(spec.seed)
    model = specc.build_model(spec)
    loss_fn = build_loss(spec.loss)
    opt = torch.optim.Adam(model.parameters(), lr=spec.optimizer.lr)
    x, y, xv, yv = data.train.x, data.train.y, data.val.x, data.val.y
    bs, n = spec.data.batch_size, x.shape[0]
    binary = data.task == "binary"
    began = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(n)
        total = 0.0
        for start in range(0, n, bs):
            idx = order[start : start + bs]
            xb, yb = x[idx], y[idx]
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            out = model(xv)
            val_loss = loss_fn(out, yv).item()
            pred = (out > 0).float() if binary else out.argmax(1)
            val_acc = (pred == yv).float().mean().item()
    del total, val_loss, val_acc
    return (time.perf_counter() - began) / epochs


def specc_loop(spec, epochs: int) -> float:
    """Seconds per epoch of ``specc train`` (its summary's train_seconds / epochs_run)."""
    with tempfile.TemporaryDirectory() as folder:
        result = train(
            spec,
            out_dir=Path(folder) / "run",
            quiet=True,
            overrides=[f"train.epochs={epochs}", "train.device=cpu", "export=null"],
        )
    return result.summary["train_seconds"] / result.summary["epochs_run"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{args.epochs} epochs x {args.rounds} rounds, median seconds per epoch"
    )
    print(f"{'spec':<20} {'hand-written':>12} {'specc train':>12} {'ratio':>7}")
    for label, relative in SPECS.items():
        spec = specc.load_spec(ROOT / relative)
        data = prepare_data(spec)
        hand, ours = [], []
        for _ in range(args.rounds):
            hand.append(hand_loop(spec, data, args.epochs))
            ours.append(specc_loop(spec, args.epochs))
        h, s = statistics.median(hand), statistics.median(ours)
        print(f"{label:<20} {h:>12.4f} {s:>12.4f} {s / h:>7.3f}")


if __name__ == "__main__":
    main()
