"""The data pipeline: sources, leak-free preprocessing, seeded splits, fast batching.

Public API (the Data contract)::

    data = prepare_data(spec)                     # PreparedData: train/val/test tensors
    for x, y in iter_batches(data.train, 64, generator=g, augment=make_augment(spec, g)):
        ...
    x = apply_preprocessing(data.preprocessing, raw_rows)   # numpy/pandas only

Importing this package does not import torch; the functions that need it do.
"""

from __future__ import annotations

from specc.data.batching import TensorSplit, iter_batches
from specc.data.pipeline import PreparedData, prepare_data
from specc.data.replay import apply_preprocessing
from specc.data.transforms import make_augment

__all__ = [
    "PreparedData",
    "TensorSplit",
    "apply_preprocessing",
    "iter_batches",
    "make_augment",
    "prepare_data",
]
