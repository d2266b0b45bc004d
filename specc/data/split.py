"""Seeded train/validation/test splits with scikit-learn's ``train_test_split``.

``split.test`` and ``split.val`` are fractions of the whole dataset. The test rows are taken
first, then validation rows from the rest, so the same seed always gives the same three sets.
A dataset with its own test files (MNIST ``train-*`` and ``t10k-*``) uses them as the test set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from specc.data.problems import data_section, raise_located

if TYPE_CHECKING:
    from specc.spec.schema import Spec

__all__ = ["split_indices"]

SPLIT = ("data", "split")


def split_indices(
    spec: Spec, n: int, labels: np.ndarray | None, *, has_own_test: bool
) -> dict[str, np.ndarray | None]:
    """Row indices of each split.

    Args:
        spec: the validated spec (``data.split`` and ``seed``).
        n: the number of samples.
        labels: class indices (N,) used to stratify, or None for a regression target.
        has_own_test: the source brought its own test set (``split.test`` is then an error).

    Returns:
        ``{"train": idx, "val": idx | None, "test": idx | None}``, int64 arrays.
    """
    split = data_section(spec).split
    seed = spec.seed if split.seed is None else split.seed
    if split.stratify and labels is None:
        raise_located(
            spec,
            (*SPLIT, "stratify"),
            "stratify needs a class target, but the task is regression",
            code="E506",
        )
    if split.test and has_own_test:
        raise_located(
            spec,
            (*SPLIT, "test"),
            "the source has its own test files; remove split.test",
            code="E506",
        )
    rest, test = _take(spec, np.arange(n), labels, split.test, seed, "test")
    val_fraction = split.val / (1 - (split.test or 0)) if split.val else None
    if val_fraction is not None and val_fraction >= 1:
        raise_located(spec, SPLIT, "split.val + split.test leaves no training rows", code="E506")
    train, val = _take(spec, rest, labels, val_fraction, seed, "val")
    result = {"train": train, "val": val, "test": test}
    for name, rows in result.items():
        if rows is not None and len(rows) == 0:
            raise_located(
                spec, SPLIT, f"the {name} split is empty ({n} samples in all)", code="E506"
            )
    return result


def _take(
    spec, rows: np.ndarray, labels: np.ndarray | None, fraction: float | None, seed: int, name: str
) -> tuple[np.ndarray, np.ndarray | None]:
    if not fraction:
        return rows, None
    from sklearn.model_selection import train_test_split

    stratify = labels[rows] if (labels is not None and data_section(spec).split.stratify) else None
    try:
        keep, taken = train_test_split(
            rows, test_size=fraction, random_state=seed, shuffle=True, stratify=stratify
        )
    except ValueError as exc:
        raise_located(
            spec,
            (*SPLIT, name),
            f"cannot split off {fraction:.3g} of {len(rows)} samples for {name}: {exc}",
            code="E506",
        )
    return np.asarray(keep, dtype=np.int64), np.asarray(taken, dtype=np.int64)
