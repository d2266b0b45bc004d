"""Memory limits checked before the work: decompressed data and model weights.

A 14 MB gzip can inflate to 3 GB and a spec's parameter count can ask for 36 GB; both are
refused with their size before anything is allocated. The memory available is read from
``/proc/meminfo`` (``MemAvailable``) where there is one, else from ``sysconf``; no torch.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from specc.errors import RunError

if TYPE_CHECKING:
    from specc.spec.schema import Spec

__all__ = [
    "MAX_DATA_BYTES",
    "available_memory",
    "check_data_size",
    "check_model_memory",
    "data_limit",
    "gigabytes",
]

MAX_DATA_BYTES = 16 * 2**30  # decompressed data of one file, whatever the memory


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation, or None when it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def gigabytes(n: int) -> str:
    """``"3.2 GB"`` (``"512 MB"`` below a gigabyte)."""
    return f"{n / 1e9:,.1f} GB" if n >= 1e9 else f"{n / 1e6:,.0f} MB"


def data_limit() -> int:
    """The most bytes one data file may decompress to: :data:`MAX_DATA_BYTES`, or half the
    available memory when that is less."""
    free = available_memory()
    return MAX_DATA_BYTES if free is None else min(MAX_DATA_BYTES, free // 2)


def check_data_size(nbytes: int, what: str) -> None:
    """RunError when ``what`` would decompress to more than :func:`data_limit` bytes."""
    limit = data_limit()
    if nbytes > limit:
        raise RunError(
            f"{what} decompresses to more than {gigabytes(limit)} (at least "
            f"{gigabytes(nbytes)}); specc refuses it before reading it whole"
        )


def check_model_memory(spec: Spec, copies: int, what: str) -> None:
    """RunError when ``copies`` float32 copies of the model's weights exceed the memory.

    Args:
        spec: a validated spec (``spec.graph.params`` counts the weights).
        copies: 1 to build, 2 to export, 4 to train (weights, gradients, optimizer state).
        what: the work, for the message (``building``, ``training``).
    """
    params = spec.graph.params if spec.graph is not None else 0
    need = params * 4 * copies
    free = available_memory()
    if free is not None and need > free:
        raise RunError(
            f"{spec.source_path}: {what} '{spec.name}' needs about "
            f"{gigabytes(need)} for its {params:,} parameters, more than the "
            f"{gigabytes(free)} of memory available; refused before allocating"
        )
