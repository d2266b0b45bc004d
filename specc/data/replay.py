"""Re-apply fitted preprocessing to raw rows with numpy and pandas only (no sklearn, no torch).

This is what ``specc predict`` and exported pipelines use: the state recorded by
:func:`specc.data.preprocess.fit_preprocessing` and :mod:`specc.data.transforms` is plain
data, and each function here reproduces the matching scikit-learn ``transform`` exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from specc.data.transforms import apply_transforms

__all__ = ["apply_preprocessing", "apply_steps", "splice"]


def apply_preprocessing(state: dict, rows: pd.DataFrame | np.ndarray) -> np.ndarray:
    """Turn raw rows into model input.

    Args:
        state: ``PreparedData.preprocessing`` (plain data).
        rows: for tabular data a DataFrame holding the raw feature columns (extra columns are
            ignored) or an array (N, F) in ``state["features"]`` order; for array data an
            array of raw values holding whole samples, e.g. (N, 28, 28), (N, 784) or a single
            (28, 28) image for MNIST (uint8 pixels 0..255).

    Returns:
        float32 (or int64, for int64 model inputs) array (N, *model.input.shape).
    """
    if state["kind"] == "tabular":
        x = _tabular(state, rows)
    else:
        x = np.asarray(rows, dtype=np.float64) * state["scale"]
        size = math.prod(state["sample_shape"])
        if x.size % size:
            raise ValueError(
                f"rows of {x.size} values are not samples of shape {state['sample_shape']}"
            )
        x = x.reshape(x.size // size, *state["sample_shape"])
    x = apply_transforms(state["transforms"], x)
    x = x.reshape(len(x), *state["input_shape"])
    return x.astype(np.int64 if state["input_dtype"] == "int64" else np.float32)


def _tabular(state: dict, rows) -> np.ndarray:
    features = state["features"]
    if isinstance(rows, pd.DataFrame):
        missing = [c for c in features if c not in rows.columns]
        if missing:
            raise ValueError(f"the rows lack the feature columns {missing}")
        frame = rows[features].copy()
    else:
        frame = pd.DataFrame(
            np.asarray(rows, dtype=object).reshape(-1, len(features)), columns=features
        ).infer_objects()
    frame = apply_steps(state["steps"], frame)
    return frame[state["columns"]].to_numpy(dtype=np.float64)


def apply_steps(steps: list[dict], frame: pd.DataFrame) -> pd.DataFrame:
    """Apply fitted steps to a DataFrame of raw feature columns; returns the new frame."""
    for step in steps:
        if step["columns"]:
            values = _APPLY[step["type"]](step, frame)
            values.columns, values.index = step["outputs"], frame.index
            frame = splice(frame, step["columns"], values)
    return frame


def splice(frame: pd.DataFrame, columns: list[str], new: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``columns`` replaced, at the first one's place, by the columns of ``new``."""
    parts, inserted = [], False
    for col in frame.columns:
        if col not in columns:
            parts.append(frame[[col]])
        elif not inserted:
            parts.append(new)
            inserted = True
    return pd.concat(parts, axis=1)


def _numbers(step: dict, frame: pd.DataFrame) -> np.ndarray:
    return frame[step["columns"]].to_numpy(dtype=np.float64, copy=True)


def _impute(step: dict, frame: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for col, fill in zip(step["columns"], step["statistics"], strict=True):
        series = frame[col]
        if is_numeric_dtype(series) and isinstance(fill, int | float):
            out[col] = series.astype(np.float64).fillna(fill)
        else:
            values = series.astype(object)
            out[col] = values.where(pd.notna(values), fill).infer_objects()
    return pd.DataFrame(out)


def _key(value):
    """A comparable key for a category: numbers by value, text as text, missing as one key."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ("missing",)
    if isinstance(value, bool | int | float | np.number):
        return ("number", float(value))
    return ("text", str(value))


def _codes(values: pd.Series, categories: list) -> np.ndarray:
    """Category index of each value; -1 for unseen; (N,)."""
    index = {_key(c): k for k, c in enumerate(categories)}
    return np.asarray([index.get(_key(v), -1) for v in values.astype(object)], dtype=np.int64)


def _one_hot(step: dict, frame: pd.DataFrame) -> pd.DataFrame:
    blocks = []
    drops = step["drop"] or [None] * len(step["columns"])
    for col, cats, drop in zip(step["columns"], step["categories"], drops, strict=True):
        codes = _codes(frame[col], cats)
        if step["handle_unknown"] == "error" and (codes < 0).any():
            bad = frame[col].astype(object)[codes < 0].iloc[0]
            raise ValueError(f"column '{col}' has category {bad!r} unseen in training")
        block = (codes[:, None] == np.arange(len(cats))[None, :]).astype(np.float64)
        blocks.append(block if drop is None else np.delete(block, drop, axis=1))
    return pd.DataFrame(np.concatenate(blocks, axis=1))


def _ordinal(step: dict, frame: pd.DataFrame) -> pd.DataFrame:
    out = []
    for col, cats in zip(step["columns"], step["categories"], strict=True):
        codes = _codes(frame[col], cats).astype(np.float64)
        if any(_key(c) == ("missing",) for c in cats):  # sklearn: NaN seen in training stays NaN
            codes[pd.isna(frame[col].astype(object)).to_numpy()] = np.nan
        out.append(codes)
    return pd.DataFrame(np.stack(out, axis=1))


def _standard(step: dict, frame: pd.DataFrame) -> pd.DataFrame:
    x = _numbers(step, frame)
    if step["mean"] is not None:
        x -= np.asarray(step["mean"], dtype=np.float64)
    if step["scale"] is not None:
        x /= np.asarray(step["scale"], dtype=np.float64)
    return pd.DataFrame(x)


def _min_max(step: dict, frame: pd.DataFrame) -> pd.DataFrame:
    x = _numbers(step, frame)
    x *= np.asarray(step["scale"], dtype=np.float64)
    x += np.asarray(step["min"], dtype=np.float64)
    return pd.DataFrame(x)


_APPLY = {
    "simple_imputer": _impute,
    "one_hot_encoder": _one_hot,
    "ordinal_encoder": _ordinal,
    "standard_scaler": _standard,
    "min_max_scaler": _min_max,
}
