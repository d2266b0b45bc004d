"""Tabular preprocessing with scikit-learn's own transformers, fitted on the training split.

Each step of ``data.preprocess`` is fitted on the training rows only and then applied to every
split with ``transform``; its fitted state is recorded as plain JSON-able data (see
:mod:`specc.data.replay`, which re-applies it with numpy and pandas alone).

Default ``columns`` when a step does not list them:

- ``simple_imputer``, ``standard_scaler``, ``min_max_scaler``: every feature that is numeric
  in the source and still present (one-hot and ordinal outputs are not rescaled);
- ``one_hot_encoder``, ``ordinal_encoder``: every column that is not numeric at that point.

``ordinal_encoder`` codes categories unseen in training as -1; ``one_hot_encoder`` with
``handle_unknown: ignore`` (the default) gives them all zeros.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from specc.data.problems import data_section, listing, raise_located
from specc.data.replay import splice
from specc.errors import did_you_mean

if TYPE_CHECKING:
    from specc.data.sources import RawData
    from specc.spec.schema import Spec
    from specc.spec.sections import PreprocessStep

__all__ = ["finish", "fit_preprocessing", "make_estimator", "to_json_value"]

PRE = ("data", "preprocess")


def to_json_value(value: object) -> object:
    """numpy scalars/arrays -> Python values (lists for arrays and tuples); NaN -> None (JSON
    has no NaN); anything else as it is."""
    if isinstance(value, np.ndarray):
        return [to_json_value(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def make_estimator(step: PreprocessStep) -> Any:
    """The unfitted scikit-learn transformer of ``step`` (its ``sklearn_class``)."""
    module, name = step.sklearn_class.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)(**step.estimator_kwargs())


def fit_preprocessing(spec: Spec, frames: dict[str, pd.DataFrame], raw: RawData) -> list[dict]:
    """Fit every ``data.preprocess`` step on ``frames["train"]`` and transform all frames.

    Args:
        spec: the validated spec.
        frames: split name -> DataFrame of raw feature columns; replaced in place by the
            transformed frames (one-hot columns replace their source column, in place).
        raw: the :class:`~specc.data.sources.RawData` (for messages).

    Returns:
        The fitted state of each step: ``{"type", "columns", "outputs", ...}``, JSON-able.
    """
    numeric = {c for c in frames["train"].columns if is_numeric_dtype(frames["train"][c])}
    steps = []
    for i, step in enumerate(data_section(spec).preprocess):
        columns = _columns(spec, i, step, frames["train"], numeric)
        steps.append(
            _run_step(spec, i, step, frames, columns, raw)
            if columns
            else {"type": step.type, "columns": [], "outputs": []}
        )
    return steps


def _columns(spec, i: int, step, frame: pd.DataFrame, numeric: set[str]) -> list[str]:
    present = [str(c) for c in frame.columns]
    if step.columns is None:
        if step.encoder:
            return [c for c in present if not is_numeric_dtype(frame[c])]
        return [c for c in present if c in numeric]
    for j, name in enumerate(step.columns):
        if name not in present:
            raise_located(
                spec,
                (*PRE, i, "columns", j),
                f"{step.type}: column '{name}' is "
                f"not among the features at this step{did_you_mean(name, present)}",
                hint=f"columns here: {listing(present, 15)}",
                code="E502",
            )
    return list(step.columns)


def _run_step(spec, i: int, step, frames: dict[str, pd.DataFrame], columns: list[str], raw) -> dict:
    needs_numbers = step.needs_numbers
    as_numbers = needs_numbers or all(is_numeric_dtype(frames["train"][c]) for c in columns)
    if needs_numbers:
        for frame in frames.values():
            for col in columns:
                _require_numeric(spec, (*PRE, i), frame[col], raw, f"{step.type} needs numbers")
    est = make_estimator(step)
    try:
        est.fit(_matrix(frames["train"], columns, as_numbers))
    except (ValueError, TypeError) as exc:
        raise_located(
            spec, (*PRE, i), f"{step.type} on {columns} of {raw.origin}: {exc}", code="E507"
        )
    outputs = step.output_names(est, columns)
    for name, frame in frames.items():
        try:
            with warnings.catch_warnings():  # "unknown categories encoded as zeros" is intended
                warnings.simplefilter("ignore", UserWarning)
                values = est.transform(_matrix(frame, columns, as_numbers))
        except ValueError as exc:
            raise_located(
                spec,
                (*PRE, i),
                f"{step.type} on the {name} split of {raw.origin}: {exc}",
                hint="handle_unknown: ignore accepts categories unseen in training",
                code="E507",
            )
        frames[name] = _replace(frame, columns, outputs, values, as_numbers)
    state = {key: to_json_value(value) for key, value in step.fitted_state(est).items()}
    return {"type": step.type, "columns": columns, "outputs": outputs, **state}


def _matrix(frame: pd.DataFrame, columns: list[str], as_numbers: bool) -> np.ndarray:
    if as_numbers:
        return frame[columns].to_numpy(dtype=np.float64)
    values = frame[columns].astype(object)
    return values.where(pd.notna(values), np.nan).to_numpy(dtype=object)


def _replace(
    frame: pd.DataFrame,
    columns: list[str],
    outputs: list[str],
    values: np.ndarray,
    as_numbers: bool,
) -> pd.DataFrame:
    """``frame`` with ``columns`` replaced (at the first one's place) by ``outputs``."""
    new = pd.DataFrame(values, columns=outputs, index=frame.index)
    return splice(frame, columns, new if as_numbers else new.infer_objects())


def _require_numeric(spec, key: tuple, column: pd.Series, raw, why: str) -> None:
    if is_numeric_dtype(column):
        return
    numbers = pd.to_numeric(column, errors="coerce")
    bad = column[numbers.isna() & column.notna()]
    if bad.empty:
        return
    row = bad.index[0]
    at = f" (line {row + raw.row_offset})" if raw.row_offset else f" (row {row})"
    if numbers.notna().sum() >= bad.size:
        message = (
            f"column '{column.name}' of {raw.origin} should hold numbers but has text "
            f"'{bad.iloc[0]}'{at}"
        )
        hint = "fix or remove that row of the file"
    else:
        message = f"column '{column.name}' of {raw.origin} is text ('{bad.iloc[0]}'{at})"
        hint = (
            "encode it with one_hot_encoder or ordinal_encoder in data.preprocess, or "
            "leave it out of data.source.features"
        )
    raise_located(spec, key, f"{message}; {why}", hint=hint, code="E507")


def finish(spec: Spec, frames: dict[str, pd.DataFrame], raw: RawData) -> dict[str, np.ndarray]:
    """Every preprocessed frame as a float64 matrix (N, F); text or NaN left is an error."""
    source = data_section(spec).source
    features = getattr(source, "features", None) or []
    out = {}
    for name, frame in frames.items():
        for col in frame.columns:
            key = (
                ("data", "source", "features", features.index(col))
                if col in features
                else ("data", "source")
            )
            _require_numeric(spec, key, frame[col], raw, "the model needs numbers")
        matrix = frame.to_numpy(dtype=np.float64)
        _check_nan(spec, name, frame, matrix, raw)
        out[name] = matrix
    return out


def _check_nan(spec, split: str, frame: pd.DataFrame, matrix: np.ndarray, raw) -> None:
    counts = np.isnan(matrix).sum(axis=0)
    if not counts.any():
        return
    j = int(np.flatnonzero(counts)[0])
    col = str(frame.columns[j])
    where = ("data", "preprocess") if data_section(spec).preprocess else ("data", "source")
    raise_located(
        spec,
        where,
        f"column '{col}' of {raw.origin} has {int(counts[j])} missing "
        f"values (NaN) left after preprocessing in the {split} split",
        hint=f"add {{type: simple_imputer, columns: [{col}]}} to data.preprocess",
        code="E507",
    )
