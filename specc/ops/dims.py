"""Dimension arithmetic shared by the shape ops and reductions.

Every ``dim`` in a spec counts the batch dimension, as in torch: for a per-sample shape
``[C, H, W]`` the tensor is ``[B, C, H, W]``, ``dim: 1`` is C and ``dim: -1`` is W. The batch
dimension (0) can never be moved, removed or reduced.
"""

from __future__ import annotations

from collections.abc import Sequence

from specc.ops.base import ShapeError


def axis(dim: int, rank: int, what: str = "dim") -> int:
    """The per-sample axis (0-based, batch excluded) of ``dim`` on a tensor of ``rank`` dims.

    ``rank`` counts the batch. Raises ShapeError for a dim that does not exist or is the batch.
    """
    if not -rank <= dim < rank:
        raise ShapeError(
            f"{what} {dim} does not exist: the input has {rank} dimensions (counting the batch "
            f"dimension), so {what} is in [{-rank}, {rank - 1}]"
        )
    if dim % rank == 0:
        raise ShapeError(f"{what} {dim} is the batch dimension, which cannot be {_verb(what)}")
    return dim % rank - 1


def _verb(what: str) -> str:
    return "reduced" if what == "reduced dim" else "moved or removed"


def axes(dims: int | Sequence[int], rank: int, what: str = "dim") -> list[int]:
    """:func:`axis` of each dim in ``dims``; a dim named twice is an error."""
    listed = [dims] if isinstance(dims, int) else list(dims)
    if not listed:
        raise ShapeError(f"{what} needs at least one dimension")
    found = [axis(d, rank, what) for d in listed]
    if len(set(found)) != len(found):
        raise ShapeError(f"{what} {list(listed)} names the same dimension twice")
    return found
