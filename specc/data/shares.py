"""Each process's share of a global batch: the one rule the data loader and DDP agree on."""

from __future__ import annotations

__all__ = ["share_bounds"]


def share_bounds(n: int, world: int, rank: int) -> tuple[int, int]:
    """``[lo, hi)`` of rank ``rank``'s contiguous share of ``n`` items (the first ``n % world``
    ranks get one more)."""
    q, extra = divmod(n, world)
    lo = rank * q + min(rank, extra)
    return lo, lo + q + (rank < extra)
