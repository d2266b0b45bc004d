"""Benchmark: ``specc validate specs/lenet.yaml`` against ``python -c "import torch"``.

Both run as fresh subprocesses, alternating, several times; the medians are compared in the
same run so machine load affects both alike. The target is a ratio <= 0.25.

Usage: ``python bench/bench_validate.py [--runs N] [--spec PATH]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.25


def timed(command: list[str]) -> float:
    """Wall-clock seconds of one run of ``command`` (which must succeed)."""
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    """Print the medians and the ratio; exit 1 when the ratio misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--spec", default="specs/lenet.yaml")
    args = parser.parse_args()
    validate = [sys.executable, "-m", "specc", "validate", args.spec]
    torch = [sys.executable, "-c", "import torch"]
    timed(validate), timed(torch)  # warm the file cache
    v_times, t_times = [], []
    for _ in range(args.runs):
        v_times.append(timed(validate))
        t_times.append(timed(torch))
    v, t = statistics.median(v_times), statistics.median(t_times)
    ratio = v / t
    print(f"specc validate {args.spec}: median {v:.3f} s over {args.runs} runs "
          f"(min {min(v_times):.3f} s)")
    print(f"python -c 'import torch':     median {t:.3f} s over {args.runs} runs "
          f"(min {min(t_times):.3f} s)")
    verdict = "meets" if ratio <= TARGET else "misses"
    print(f"ratio: {ratio:.2f}x ({verdict} the <= {TARGET}x target)")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
