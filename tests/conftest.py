"""Suite-wide setup: share the cores between pytest-xdist workers instead of oversubscribing.

With ``-n auto`` every worker (and every process a test starts) would otherwise run torch's
intra-op pool with one thread per core, so two workers on two cores spin against each other:
the fast set then spends about twice the CPU time. Set before any test module imports torch
(xdist sets its worker variables before it loads this file); an explicit OMP_NUM_THREADS wins.
"""

from __future__ import annotations

import os


def _threads_per_worker() -> int | None:
    """The cores divided among the xdist workers, or None outside xdist."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not workers:
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // int(workers))


if (_threads := _threads_per_worker()) is not None:
    os.environ.setdefault("OMP_NUM_THREADS", str(_threads))
