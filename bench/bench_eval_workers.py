"""Evaluation passes over an image split: persistent DataLoader workers vs workers per pass.

Run:  python bench/bench_eval_workers.py [--images 256] [--epochs 10] [--workers 2]
      [--chunk 64] [--rounds 5]

What it measures: the validation pass that a run makes every epoch over a lazy image_folder
split (``ImageSplit.chunks``: decode in DataLoader workers, / 255, the stateless steps), for
``--epochs`` passes in a row, two ways in the same process:

- persistent (specc now): one evaluation DataLoader kept by the split, its workers started on
  the first pass and reused (``persistent_workers=True``);
- per pass (the baseline, specc before): a fresh DataLoader for every pass, whose workers
  start at the pass's beginning and exit at its end (what the earlier ``chunks`` did).

Both decode the same generated 32x32 PNGs (``--images`` files in 2 class folders, made in a
temporary folder) in chunks of ``--chunk`` with ``--workers`` workers. The two sides alternate
for ``--rounds`` rounds; the script prints the median time of ``--epochs`` passes for each,
the median time of one pass after the first, and the ratio per pass / persistent.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from specc import load_spec  # noqa: E402
from specc.data import prepare_data  # noqa: E402
from specc.data.image_split import ImageSplit, finisher  # noqa: E402
from specc.data.loader import Share  # noqa: E402

SPEC = """\
version: 1
name: bench_eval_workers
model:
  input: {shape: [1, 32, 32]}
  layers: [flatten, {type: linear, out_features: 2}]
loss: cross_entropy
data:
  source: {type: image_folder, path: pics}
  transforms: [{type: normalize, mean: [0.5], std: [0.25]}]
  split: {val: 0.5, seed: 0}
"""


def write_folder(root: Path, images: int) -> Path:
    """``images`` grey 32x32 PNGs in two class folders, and a spec that reads them."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, name in enumerate(("a", "b")):
        (root / "pics" / name).mkdir(parents=True)
        for i in range(images // 2):
            pixels = rng.integers(0, 128, (32, 32), dtype=np.uint8) + 100 * label
            Image.fromarray(pixels.astype(np.uint8)).save(root / "pics" / name / f"{i}.png")
    (root / "spec.yaml").write_text(SPEC)
    return root / "spec.yaml"


def persistent_passes(split: ImageSplit, chunk: int, epochs: int) -> list[float]:
    """Seconds of each pass through the split's own (kept) evaluation loader."""
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for x, _y in split.chunks(chunk, torch.device("cpu")):
            x.sum()
        times.append(time.perf_counter() - start)
    split.close()
    return times


def per_pass_passes(split: ImageSplit, chunk: int, epochs: int) -> list[float]:
    """Seconds of each pass through a new, non-persistent DataLoader (the baseline)."""
    n, rows = len(split), torch.arange(len(split))
    shares = [Share(rows[s : s + chunk], 0, min(chunk, n - s)) for s in range(0, n, chunk)]
    finish = finisher(split.steps)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        loader = torch.utils.data.DataLoader(
            split.dataset(),
            batch_sampler=shares,  # whole shares, as specc's loaders take them
            num_workers=min(split.workers, len(shares)),
            collate_fn=lambda batch: batch,
            generator=torch.Generator(),
        )
        for item in loader:
            finish(item.x).sum()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        spec = load_spec(write_folder(Path(tmp), args.images))
        val = prepare_data(spec).val
        assert isinstance(val, ImageSplit)
        val.workers = args.workers
        totals: dict[str, list[float]] = {"persistent": [], "per pass": []}
        later: dict[str, list[float]] = {"persistent": [], "per pass": []}
        for _ in range(args.rounds):
            for name, passes in (("per pass", per_pass_passes), ("persistent", persistent_passes)):
                times = passes(val, args.chunk, args.epochs)
                totals[name].append(sum(times))
                later[name].extend(times[1:])
    print(
        f"{len(val)} validation images in chunks of {args.chunk}, {args.workers} workers, "
        f"{args.epochs} passes, median of {args.rounds} rounds"
    )
    for name in ("per pass", "persistent"):
        print(
            f"  {name:>10}: {statistics.median(totals[name]):.3f} s for {args.epochs} passes, "
            f"{1000 * statistics.median(later[name]):.1f} ms a pass after the first"
        )
    ratio = statistics.median(totals["per pass"]) / statistics.median(totals["persistent"])
    print(f"  ratio per pass / persistent: {ratio:.2f}x")


if __name__ == "__main__":
    main()
