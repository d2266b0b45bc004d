"""``prepare_data``: source -> targets -> split -> preprocessing -> transforms -> tensors.

Every stateful step is fitted on the training split only; the fitted state and the transforms
are recorded as plain data in ``PreparedData.preprocessing`` (never pickle), which
:func:`specc.data.replay.apply_preprocessing` re-applies to raw rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from specc.data.batching import TensorSplit
from specc.data.checks import check_agreement, transform_problems
from specc.data.preprocess import finish, fit_preprocessing, to_json_value
from specc.data.problems import data_section, raise_all, raise_located
from specc.data.sources import RawData, load_source
from specc.data.split import split_indices
from specc.data.targets import Target, encode_target, infer_task
from specc.data.transforms import apply_transforms

if TYPE_CHECKING:
    from specc.data.image_split import ImageSplit
    from specc.spec.schema import Spec

    Split = TensorSplit | ImageSplit  # in-memory tensors, or image files decoded by workers

__all__ = ["PreparedData", "data_section", "prepare_data", "to_json_dict"]


@dataclass
class PreparedData:
    """Tensors and metadata ready for training (see the Data contract).

    Attributes:
        train, val, test: :class:`TensorSplit` s, or for the image_folder source lazy
            :class:`~specc.data.image_split.ImageSplit` s (val/test None when not split off).
        task: ``binary`` | ``multiclass`` | ``regression``.
        num_classes: number of classes (2 for binary), None for regression.
        class_labels: class names in index order, when known.
        feature_names: the raw input columns of tabular data, else None.
        preprocessing: fitted preprocessing and transforms, plain JSON-able data.
        data_hash: sha256 of the prepared tensors (all splits), or for image files of their
            paths, sizes and labels.
        notes: what the source reports for summary.json (image counts, skipped files).
    """

    train: Split
    val: Split | None
    test: Split | None
    task: str
    num_classes: int | None
    class_labels: list[str] | None
    feature_names: list[str] | None
    preprocessing: dict
    data_hash: str
    notes: dict | None = None


def prepare_data(spec: Spec, *, spec_dir: str | Path | None = None) -> PreparedData:
    """Load, split, preprocess and check the data of a validated spec.

    Args:
        spec: a validated :class:`~specc.spec.schema.Spec` with a ``data`` section.
        spec_dir: folder that data paths are relative to (default: the spec file's folder).

    Returns:
        :class:`PreparedData` whose x tensors are (N, *model.input.shape).

    Raises:
        SpecErrors: bad columns, labels, NaN left, model/data disagreement (exit 2).
        RunError: a data file that is missing or cannot be read (exit 1).
    """
    data = data_section(spec)
    spec_dir = Path(spec_dir) if spec_dir is not None else Path(spec.source_path).parent
    if data.source.lazy:  # image files, decoded while training
        from specc.data.image_source import prepare_images

        return prepare_images(spec, spec_dir)
    raw = load_source(spec, spec_dir)
    target, n_main = _targets(spec, raw)
    labels = None if target.task == "regression" else target.y.reshape(len(target.y), -1)[:, 0]
    index = split_indices(
        spec, n_main, None if labels is None else labels[:n_main], has_own_test=raw.test is not None
    )
    ys = {name: target.y[rows] for name, rows in index.items() if rows is not None}
    if raw.test is not None:
        ys["test"] = target.y[n_main:]
    xs, state = _features(spec, raw, index)
    x_arrays = _finish_x(spec, raw, xs, state, target)
    return _assemble(x_arrays, ys, target, state)


def _targets(spec: Spec, raw: RawData) -> tuple[Target, int]:
    n_main = len(raw.y)
    if raw.test is None:
        return encode_target(spec, raw, infer_task(spec, raw.y)), n_main
    both = RawData(
        raw.x, np.concatenate([raw.y, raw.test.y]), raw.origin, raw.target_key, raw.class_names
    )
    return encode_target(spec, both, infer_task(spec, both.y)), n_main


def _features(spec: Spec, raw: RawData, index: dict) -> tuple[dict[str, np.ndarray], dict]:
    """Split x and fit preprocessing; returns float arrays per split and the state so far."""
    state = {
        "version": 1,
        "kind": "tabular" if raw.tabular else "array",
        "scale": raw.scale,
        "features": None,
        "steps": [],
        "columns": None,
        "sample_shape": None if raw.tabular else list(raw.x.shape[1:]),
    }
    if isinstance(raw.x, pd.DataFrame):  # raw.tabular
        frames = {name: raw.x.iloc[rows] for name, rows in index.items() if rows is not None}
        state["features"] = [str(c) for c in raw.x.columns]
        state["steps"] = fit_preprocessing(spec, frames, raw)
        state["columns"] = [str(c) for c in frames["train"].columns]
        return finish(spec, frames, raw), state
    if data_section(spec).preprocess:
        raise_located(
            spec,
            ("data", "preprocess"),
            f"preprocess steps work on tables of "
            f"columns, but {raw.origin} gives samples of shape "
            f"{list(raw.x.shape[1:])}",
            hint="use data.transforms (normalize) for images",
            code="E507",
        )
    xs = {name: _scaled(raw.x[rows], raw.scale) for name, rows in index.items() if rows is not None}
    if raw.test is not None:
        xs["test"] = _scaled(raw.test.x, raw.scale)
    return xs, state


def _scaled(x: np.ndarray, scale: float) -> np.ndarray:
    x = x.astype(np.float32)
    return x * np.float32(scale) if scale != 1 else x


def _finish_x(spec: Spec, raw: RawData, xs: dict, state: dict, target: Target) -> dict:
    """Apply transforms, check agreement with the model, reshape to the input shape."""
    sample = list(xs["train"].shape[1:])
    raise_all(spec, transform_problems(spec, sample))
    state["transforms"] = [to_json_dict(t.model_dump()) for t in data_section(spec).transforms]
    xs = {name: apply_transforms(state["transforms"], x) for name, x in xs.items()}
    sample = list(xs["train"].shape[1:])
    raise_all(
        spec, check_agreement(spec, sample, target, described=_described(spec, raw, state, sample))
    )
    shape, dtype = list(spec.model.input.shape), spec.model.input.dtype
    state.update(input_shape=shape, input_dtype=dtype)
    out = {}
    for name, x in xs.items():
        if dtype == "int64" and not np.all(np.mod(x, 1) == 0):
            raise_located(
                spec,
                ("model", "input", "dtype"),
                f"model.input.dtype is int64 but {raw.origin} has non-integer values",
                code="E509",
            )
        out[name] = x.reshape(len(x), *shape).astype(np.int64 if dtype == "int64" else np.float32)
    return out


def to_json_dict(step: dict[str, object]) -> dict[str, object]:
    """A transform's arguments as JSON-able values (tuples become lists)."""
    return {key: to_json_value(value) for key, value in step.items()}


def _described(spec: Spec, raw: RawData, state: dict, sample: list[int]) -> str:
    if raw.tabular:
        data = data_section(spec)
        who = "the CSV" if data.source.type == "csv" else raw.origin
        fitted = zip(data.preprocess, state["steps"], strict=True)
        encoders = [done["type"] for step, done in fitted if step.encoder and done["columns"]]
        after = f" after {encoders[-1]}" if encoders else ""
        cols = state["columns"]
        listed = f" ({', '.join(cols)})" if len(cols) <= 12 else ""
        return f"{who} gives {sample[0]} features{after}{listed}"
    after = " after data.transforms" if state["transforms"] else ""
    return f"the samples of {raw.origin} are {sample}{after}"


def _assemble(xs: dict, ys: dict, target: Target, state: dict) -> PreparedData:
    import torch

    digest = hashlib.sha256()
    splits = {}
    for name in ("train", "val", "test"):
        if name in xs:
            x, y = np.ascontiguousarray(xs[name]), np.ascontiguousarray(ys[name])
            digest.update(name.encode())  # streamed: no joined copy of the bytes
            digest.update(x.data)
            digest.update(y.data)
            splits[name] = TensorSplit(torch.from_numpy(x), torch.from_numpy(y))
    state.update(task=target.task, num_classes=target.num_classes, class_labels=target.class_labels)
    return PreparedData(
        splits["train"],
        splits.get("val"),
        splits.get("test"),
        target.task,
        target.num_classes,
        target.class_labels,
        state["features"],
        state,
        digest.hexdigest(),
    )
