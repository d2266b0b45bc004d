"""The image_folder source side by side with a hand-written torchvision-style ImageFolder.

Run:  python bench/bench_images.py [--images 2000] [--epochs 3] [--rounds 3] [--small 100000]
      [--skip-rss]

Three measures, in one run:

1. Throughput: images per second through training epochs of one small CNN (3x64x64 input)
   on ``--images`` generated 256x192 JPEGs in 4 class folders, the same DataLoader workers
   (specc's default for image_folder), batch 64, the same resize (shorter side to 64, centre
   crop). The baseline is what a user would write by hand with Pillow: a ``Dataset`` whose
   ``__getitem__`` opens, converts, resizes, crops and normalizes one file, batched by
   ``DataLoader(shuffle=True, persistent_workers=True)``, and a plain Adam loop. specc runs
   ``specc.train`` (no validation split). Times are the median epoch after the first; the
   two sides alternate for ``--rounds`` rounds and the median ratio is reported.
   Target >= 1.0x, goal 1.3x (specc decodes JPEGs at reduced size: Pillow's draft mode).
2. Peak memory: the summed RSS of the trainer and its workers (polled from /proc every
   0.1 s; shared pages count once per process, so this overstates) over one epoch on 10,000
   and on ``--small`` 16x16 PNGs. Target < 1.5 GB, and flat in the image count.
3. Start-up: ``prepare_data`` on the ``--small`` files (listing, the header and end-marker
   check of every file, the split, the file digest). Target < 10 s. The files were just
   written, so they are in the page cache: this is the warm-cache time.

Generated images are cached under /tmp/specc_bench_images (made once; later runs reuse them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CACHE = Path("/tmp/specc_bench_images")
CLASSES = 4

SPEC = """\
version: 1
name: bench_images
seed: 0
model:
  input: {shape: [%(shape)s]}
  layers:
    - {type: conv2d, out_channels: 16, kernel_size: 3, stride: 2, padding: 1}
    - relu
    - {type: conv2d, out_channels: 32, kernel_size: 3, stride: 2, padding: 1}
    - relu
    - {type: adaptiveavgpool2d, output_size: 1}
    - flatten
    - {type: linear, out_features: %(classes)d}
loss: cross_entropy
optimizer: {type: adam, lr: 0.001}
data:
  source: {type: image_folder, path: %(path)s}
  transforms: [{type: normalize, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}]
  batch_size: 64
  num_workers: %(workers)d
train: {epochs: %(epochs)d, device: cpu}
"""


# --- generated images (cached) ---------------------------------------------------------------


def _write_one(job: tuple) -> None:
    from PIL import Image

    path, seed, size, kind = job
    rng = np.random.default_rng(seed)
    h, w = size
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * (1 + seed % 3)) % 256, (y * 2) % 256, (x + y + seed) % 256], -1)
    pixels = np.clip(base + rng.integers(-20, 20, (h, w, 3)), 0, 255).astype(np.uint8)
    if kind == "jpg":
        Image.fromarray(pixels).save(path, quality=90)
    else:
        Image.fromarray(pixels).save(path, compress_level=1)


def generate(name: str, count: int, size: tuple[int, int], kind: str) -> Path:
    """``count`` images in ``CLASSES`` folders under CACHE/name (skipped when complete)."""
    root = CACHE / name
    done = root / ".complete"
    if done.exists():
        return root
    jobs = []
    for k in range(CLASSES):
        (root / f"class_{k}").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        jobs.append((str(root / f"class_{i % CLASSES}" / f"{i:06d}.{kind}"), i, size, kind))
    began = time.perf_counter()
    with Pool(os.cpu_count() or 1) as pool:
        pool.map(_write_one, jobs, chunksize=500)
    done.write_text("ok")
    print(f"  generated {count} {kind} images in {root} ({time.perf_counter() - began:.0f} s)")
    return root


# --- 1. throughput ---------------------------------------------------------------------------


class HandWrittenImageFolder:
    """What a user writes with Pillow: torchvision's ImageFolder + Resize + CenterCrop."""

    def __init__(self, root: Path, size: int) -> None:
        classes = sorted(p.name for p in root.iterdir() if p.is_dir())
        self.samples = [
            (str(f), k) for k, c in enumerate(classes) for f in sorted((root / c).iterdir())
        ]
        self.size = size

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        import torch
        from PIL import Image

        path, label = self.samples[i]
        with Image.open(path) as image:
            image = image.convert("RGB")
            w, h = image.size
            scale = self.size / min(w, h)
            image = image.resize((round(w * scale), round(h * scale)), Image.BILINEAR)
            w, h = image.size
            left, top = (w - self.size) // 2, (h - self.size) // 2
            image = image.crop((left, top, left + self.size, top + self.size))
            x = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float() / 255
        return (x - 0.5) / 0.25, label


def baseline_epochs(root: Path, spec, workers: int, epochs: int) -> list[float]:
    """Seconds per epoch of the hand-written Dataset + DataLoader + Adam loop."""
    import torch

    from specc import build_model

    torch.manual_seed(0)
    model = build_model(spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    loss_fn = torch.nn.CrossEntropyLoss()
    loader = torch.utils.data.DataLoader(
        HandWrittenImageFolder(root, 64),
        batch_size=64,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
    )
    times = []
    for _ in range(epochs):
        began = time.perf_counter()
        model.train()
        for x, y in loader:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - began)
    return times


def specc_epochs(spec, out: Path) -> list[float]:
    """Seconds per epoch of ``specc.train`` (its metrics.csv)."""
    import csv

    from specc.train import train

    train(spec, out_dir=out, quiet=True)
    with open(out / "metrics.csv") as handle:
        return [float(row["seconds"]) for row in csv.DictReader(handle)]


def throughput(count: int, epochs: int, rounds: int) -> None:
    from specc import load_spec
    from specc.data.loader import resolve_workers

    root = generate(f"jpeg{count}", count, (192, 256), "jpg")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        text = SPEC % {
            "shape": "3, 64, 64",
            "classes": CLASSES,
            "path": root,
            "epochs": epochs,
            "workers": 0,
        }
        workers = resolve_workers(load_spec_text(text.replace("  num_workers: 0\n", ""), path))
        path.write_text(text.replace("num_workers: 0", f"num_workers: {workers}"))
        spec = load_spec(path)
        print(
            f"1. throughput, {count} JPEGs 256x192 -> 3x64x64, {workers} workers, "
            f"median of epochs 2..{epochs}, {rounds} alternating rounds"
        )
        for r in range(rounds):  # alternating, so a change in the machine's load hits both
            ours = statistics.median(specc_epochs(spec, Path(tmp) / f"run{r}")[1:])
            theirs = statistics.median(baseline_epochs(root, spec, workers, epochs)[1:])
            ratios.append(theirs / ours)
            print(
                f"   round {r + 1}: hand-written {count / theirs:6.0f} images/s, specc "
                f"{count / ours:6.0f} images/s, ratio {theirs / ours:.2f}x"
            )
    print(
        f"   median ratio specc / hand-written: {statistics.median(ratios):.2f}x "
        "(target >= 1.0x, goal 1.3x)"
    )


def load_spec_text(text: str, path: Path):
    from specc import load_spec

    path.write_text(text)
    return load_spec(path)


# --- 2. memory and 3. start-up -------------------------------------------------------------


def _tree_rss(root_pid: int) -> int:
    """Summed RSS (bytes) of ``root_pid`` and its descendants, from /proc."""
    parents, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    tree, grew = {root_pid}, True
    while grew:
        more = {p for p, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(rss.get(p, 0) for p in tree)


def peak_rss(root: Path, tmp: Path, name: str) -> tuple[int, float]:
    """Peak summed RSS and seconds of ``specc train`` for one epoch over ``root``."""
    spec = tmp / f"{name}.yaml"
    text = SPEC % {
        "shape": "3, 16, 16",
        "classes": CLASSES,
        "path": root,
        "epochs": 1,
        "workers": 0,
    }
    spec.write_text(text.replace("  num_workers: 0\n", ""))  # the source's default workers
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "specc", "train", str(spec), "--out", str(tmp / name), "--quiet"],
        cwd=ROOT,
    )
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.1)
    if proc.returncode:
        raise SystemExit(f"specc train failed on {root}")
    return peak, time.perf_counter() - began


def startup(root: Path, tmp: Path) -> float:
    from specc.data import prepare_data

    spec = load_spec_text(
        SPEC % {"shape": "3, 16, 16", "classes": CLASSES, "path": root, "epochs": 1, "workers": 0},
        tmp / "startup.yaml",
    )
    began = time.perf_counter()
    prepare_data(spec)
    return time.perf_counter() - began


def memory_and_startup(small: int, skip_rss: bool) -> None:
    big = generate(f"png{small}", small, (16, 16), "png")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        seconds = startup(big, tmp)
        print(f"3. start-up: listing + checking {small} files: {seconds:.2f} s (target < 10 s)")
        if skip_rss:
            return
        ten = generate("png10000", 10_000, (16, 16), "png")
        low, low_s = peak_rss(ten, tmp, "ten")
        high, high_s = peak_rss(big, tmp, "big")
    print("2. peak RSS of trainer + workers, one epoch of 16x16 PNGs:")
    print(f"   10,000 images: {low / 2**20:7.0f} MiB ({low_s:.0f} s)")
    print(f"   {small:,} images: {high / 2**20:6.0f} MiB ({high_s:.0f} s)")
    print(f"   ratio: {high / low:.2f}x (target: < 1.5 GB and flat)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--skip-rss", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} (other work shares them)")
    throughput(args.images, max(2, args.epochs), args.rounds)
    memory_and_startup(args.small, args.skip_rss)


if __name__ == "__main__":
    main()
