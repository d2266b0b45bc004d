"""Targets: infer the task from the loss (or the data) and encode labels for it.

- ``cross_entropy`` / ``nll`` -> ``multiclass``: int64 class indices, shape (N,). Integer
  labels are used as indices (``num_classes`` = largest label + 1); string labels are numbered
  in sorted order (or in ``data.source.labels`` order) and kept as ``class_labels``.
- ``bce`` / ``bce_with_logits`` -> ``binary``: float32 0/1, shape (N, 1). Numeric labels must
  be 0 and 1; two string labels are numbered in sorted order.
- ``mse`` / ``l1`` / ``smooth_l1`` / ``huber`` -> ``regression``: float32, shape (N, k).
- No loss: text, booleans, or integers with at most :data:`MAX_GUESSED_CLASSES` distinct
  values are classes (``binary`` when there are two and the output layer has one unit, else
  ``multiclass``); anything else is regression.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from specc.data.problems import raise_located
from specc.spec.sections import task_of

if TYPE_CHECKING:
    from specc.data.sources import RawData
    from specc.spec.schema import Spec

__all__ = ["MAX_GUESSED_CLASSES", "Target", "encode_target", "infer_task"]

MAX_GUESSED_CLASSES = 20


@dataclass
class Target:
    """Encoded targets for the whole dataset (before splitting).

    Attributes:
        y: int64 (N,) for multiclass, float32 (N, 1) for binary, float32 (N, k) regression.
        task: ``binary`` | ``multiclass`` | ``regression``.
        num_classes: the number of classes (2 for binary), None for regression.
        class_labels: class names in index order, when known.
    """

    y: np.ndarray
    task: str
    num_classes: int | None
    class_labels: list[str] | None


def _is_text(y: np.ndarray) -> bool:
    return y.dtype == object or y.dtype.kind in "USb"


def _text_labels(y: np.ndarray) -> bool:
    """True for labels that are words, not numbers written as text."""
    return _is_text(y) and not all(_is_number(v) for v in y)


def infer_task(spec: Spec, y: np.ndarray) -> str:
    """The task implied by the loss, or by the target values when there is no loss."""
    if spec.loss is not None:
        return task_of(spec.loss)
    if not _is_text(y):
        values = y[~pd.isna(y)] if y.dtype.kind == "f" else y
        integral = values.size == 0 or bool(np.all(np.mod(values, 1) == 0))
        if y.ndim > 1 or not integral or len(np.unique(values)) > MAX_GUESSED_CLASSES:
            return "regression"
    units = spec.graph.output_shapes[0] if spec.graph is not None else [0]
    return "binary" if len(set(y.tolist())) == 2 and list(units) == [1] else "multiclass"


def encode_target(spec: Spec, raw: RawData, task: str) -> Target:
    """Encode ``raw.y`` (a :class:`~specc.data.sources.RawData`) for ``task``."""
    y = raw.y
    missing = int(pd.isna(pd.DataFrame(y)).to_numpy().sum())
    if missing:
        raise_located(
            spec,
            raw.target_key,
            f"the target in {raw.origin} has {missing} missing values",
            hint="drop those rows from the file",
            code="E505",
        )
    if task == "regression":
        return _regression(spec, raw)
    labels, names = _class_indices(spec, raw)
    if task == "binary":
        return _binary(spec, raw, labels, names, from_text=_text_labels(raw.y))
    count = max(int(labels.max()) + 1 if labels.size else 0, len(names or ()))
    return Target(labels, "multiclass", count, names if names is None else list(names))


def _loss_name(spec, default: str) -> str:
    return spec.loss.type if spec.loss is not None else default


def _regression(spec, raw) -> Target:
    if _is_text(raw.y):
        try:
            y = raw.y.astype(np.float64)
        except (TypeError, ValueError):
            first = next(v for v in raw.y.ravel() if not _is_number(v))
            raise_located(
                spec,
                raw.target_key,
                f"{_loss_name(spec, 'regression')} needs a "
                f"numeric target but {raw.origin} has '{first}'",
                hint="use cross_entropy for class labels",
                code="E505",
            )
    else:
        y = raw.y
    y = y.reshape(len(y), -1).astype(np.float32)
    return Target(y, "regression", None, None)


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _class_indices(spec, raw) -> tuple[np.ndarray, list[str] | None]:
    y = raw.y
    if y.ndim != 1:
        raise_located(
            spec,
            raw.target_key,
            f"a class target must be one label per sample, "
            f"but {raw.origin} gives shape {list(y.shape[1:])} per sample",
            code="E505",
        )
    if _text_labels(y):
        return _string_classes(spec, raw)
    values = y.astype(np.float64)
    bad = values[(np.mod(values, 1) != 0) | (values < 0)]
    if bad.size:
        raise_located(
            spec,
            raw.target_key,
            f"{_loss_name(spec, 'classification')} needs "
            f"class indices 0, 1, 2, ... but the target in {raw.origin} has "
            f"{bad[0]:g}",
            hint="use a regression loss (mse) for real-valued targets",
            code="E505",
        )
    return values.astype(np.int64), raw.class_names


def _string_classes(spec, raw) -> tuple[np.ndarray, list[str]]:
    text = np.asarray([str(v) for v in raw.y], dtype=object)
    names = list(raw.class_names) if raw.class_names else sorted(set(text.tolist()))
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(text.tolist()) - set(index))
    if unknown:
        raise_located(
            spec,
            ("data", "source", "labels"),
            f"the target in {raw.origin} has "
            f"label '{unknown[0]}', which is not in data.source.labels",
            code="E505",
        )
    return np.asarray([index[v] for v in text], dtype=np.int64), names


def _binary(spec, raw, labels: np.ndarray, names: list[str] | None, *, from_text: bool) -> Target:
    loss = _loss_name(spec, "a binary target")
    present = sorted(set(labels.tolist()))
    problem = None
    if not from_text and not set(present) <= {0, 1}:
        shown = ", ".join(str(v) for v in present[:5])
        problem = f"a 0/1 target but the target in {raw.origin} has values {shown}"
    elif names is not None and len(names) > 2:
        problem = f"a binary target but the target in {raw.origin} has {len(names)} classes"
    if problem:
        raise_located(
            spec,
            ("loss",) if spec.loss else raw.target_key,
            f"{loss} needs {problem}",
            hint="use cross_entropy for more than two classes",
            code="E505",
        )
    y = labels.astype(np.float32).reshape(-1, 1)
    return Target(y, "binary", 2, names)
