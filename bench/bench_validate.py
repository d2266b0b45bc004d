"""Benchmark: ``specc validate specs/lenet.yaml`` against ``python -c "import torch"``.

Both run as fresh subprocesses, alternating, several times; the medians are compared in the
same run so machine load affects both alike. The target is a wall-clock ratio <= 0.25; the
CPU-time ratio (user + system) is printed too, as it is steadier on a busy machine.

Usage: ``python bench/bench_validate.py [--runs N] [--spec PATH]``
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.25


def timed(command: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    """Print the medians and the ratio; exit 1 when the ratio misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--spec", default="specs/lenet.yaml")
    args = parser.parse_args()
    validate = [sys.executable, "-m", "specc", "validate", args.spec]
    torch = [sys.executable, "-c", "import torch"]
    timed(validate), timed(torch)  # warm the file cache
    v_runs, t_runs = [], []
    for _ in range(args.runs):
        v_runs.append(timed(validate))
        t_runs.append(timed(torch))
    v, t = (statistics.median(w for w, _ in runs) for runs in (v_runs, t_runs))
    v_cpu, t_cpu = (statistics.median(c for _, c in runs) for runs in (v_runs, t_runs))
    ratio = v / t
    print(
        f"specc validate {args.spec}: median {v:.3f} s wall, {v_cpu:.3f} s CPU "
        f"over {args.runs} runs"
    )
    print(
        f"python -c 'import torch':     median {t:.3f} s wall, {t_cpu:.3f} s CPU "
        f"over {args.runs} runs"
    )
    verdict = "meets" if ratio <= TARGET else "misses"
    print(f"ratio: {ratio:.2f}x wall ({verdict} the <= {TARGET}x target), {v_cpu / t_cpu:.2f}x CPU")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
