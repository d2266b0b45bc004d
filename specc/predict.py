"""``specc predict``: run an exported ONNX model on raw inputs with onnxruntime alone.

No torch at run time: inputs are read with pandas/numpy (and Pillow for images), the fitted
preprocessing saved in the model's metadata is re-applied by
:func:`specc.data.replay.apply_preprocessing` (numpy/pandas), the session is onnxruntime's,
and the outputs become one CSV row per input.

Inputs (:func:`read_inputs`):

- ``.csv``: the raw feature columns by name (extra columns ignored; a missing one is an
  error); the saved imputing, encoding and scaling are applied.
- ``.npy`` / ``.npz`` (key ``x``, or its only array): raw samples as the data source gives them
  (for MNIST, pixels 0..255 of shape (N, 28, 28)); without saved preprocessing, model input.
- PNG / JPEG / BMP / WebP files, or a folder of them (searched recursively; one row per file,
  named in a first ``file`` column): decoded with Pillow as validation decoded them
  (:mod:`specc.data.images`: for an ``image_folder`` model its saved resize + centre crop;
  otherwise converted to grey or RGB and resized to the training sample shape), then
  preprocessed as in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from specc.export.metadata import ModelInfo, read_metadata

if TYPE_CHECKING:
    import onnxruntime as ort

__all__ = ["PredictError", "Predictions", "image_files", "predict", "read_inputs", "to_predictions"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
CHUNK = 4096


class PredictError(Exception):
    """Bad model or input: one line for the user. ``exit_code`` 2 for bad input, else 1."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Predictions:
    """One row per input. ``header`` names the columns; ``rows`` hold the values."""

    header: list[str]
    rows: list[list]

    def to_csv(self) -> str:
        """CSV text with a header line."""
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows([_inert(v) for v in row] for row in self.rows)
        return buffer.getvalue()


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(value):
    """A text cell a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``+1``,
    ``@SUM``) gets a leading ``'``, the OWASP advice for CSV injection; numbers stay."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def open_model(path: Path) -> tuple[ort.InferenceSession, ModelInfo]:
    """``(onnxruntime session, ModelInfo)``; PredictError when unreadable or not from specc."""
    import onnxruntime as ort

    if not Path(path).is_file():
        raise PredictError(f"no model file at {path}")
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise PredictError(f"cannot load {path} with onnxruntime: {_line(exc)}") from None
    try:
        info = read_metadata(session.get_modelmeta().custom_metadata_map)
    except ValueError as exc:
        raise PredictError(f"{path}: {exc}") from None
    return session, info


def _line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] if text else type(exc).__name__


def predict(model_path: Path, input_path: Path, *, top_k: int = 1) -> Predictions:
    """Predictions of the model at ``model_path`` for the inputs in ``input_path``.

    Image inputs (a file, or a folder searched recursively) give one row per file, named in a
    first ``file`` column (relative to the folder), decoded in chunks of :data:`CHUNK`.
    """
    session, info = open_model(model_path)
    input_path = Path(input_path)
    if input_path.is_dir() or input_path.suffix.lower() in IMAGE_SUFFIXES:
        return _predict_images(session, info, input_path, top_k)
    x = read_inputs(input_path, info)
    return to_predictions(_run(session, info, x), info, top_k=top_k)


def _run(session, info: ModelInfo, x: np.ndarray) -> np.ndarray:
    """The first output of the model for x (N, ...), CHUNK rows at a time."""
    outputs = []
    for start in range(0, len(x), CHUNK):
        try:
            outputs.append(session.run(None, {info.input_name: x[start : start + CHUNK]})[0])
        except Exception as exc:
            raise PredictError(f"onnxruntime failed on the inputs: {_line(exc)}", 2) from None
    return np.concatenate(outputs) if outputs else np.zeros((0, *info.output_shapes[0]))


def _predict_images(session, info: ModelInfo, path: Path, top_k: int) -> Predictions:
    files = image_files(path)  # at least one
    header: list[str] = []
    rows: list[list] = []
    for start in range(0, len(files), CHUNK):
        chunk = files[start : start + CHUNK]
        x = _check_shape(_preprocess(info, _read_images(chunk, info)), info)
        part = to_predictions(_run(session, info, x), info, top_k=top_k)
        names = [str(f.relative_to(path)) if path.is_dir() else f.name for f in chunk]
        header = ["file", *part.header]
        rows += [[name, *row] for name, row in zip(names, part.rows, strict=True)]
    return Predictions(header, rows)


# --- inputs -----------------------------------------------------------------------------------


def read_inputs(path: Path, info: ModelInfo) -> np.ndarray:
    """Model-ready inputs ``(N, *info.input_shape)`` of the dtype the model takes."""
    if not path.exists():
        raise PredictError(f"no input file at {path}")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix in IMAGE_SUFFIXES:
        x = _preprocess(info, _read_images(image_files(path), info))
    elif suffix == ".csv":
        x = _from_table(_read_csv(path), info)
    elif suffix in (".npy", ".npz"):
        x = _preprocess(info, _read_array(path))
    else:
        raise PredictError(
            f"{path}: unknown input type '{suffix}'; use .csv, .npy, .npz or PNG/JPEG images", 2
        )
    if x.ndim == 0 or len(x) == 0:
        raise PredictError(f"{path} holds no samples to predict", 2)
    return _check_shape(x, info)


def _read_csv(path: Path):
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except Exception as exc:
        raise PredictError(f"cannot read {path} as CSV: {_line(exc)}") from None
    if len(frame) == 0:
        raise PredictError(f"{path} has a header but no rows to predict", 2)
    frame.columns = [str(c) for c in frame.columns]
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_float_dtype(values.dtype) and np.isinf(values.to_numpy()).any():
            row = int(np.flatnonzero(np.isinf(values.to_numpy()))[0]) + 2
            raise PredictError(
                f"{path}: column '{column}' has an infinite value (first at "
                f"line {row}); specc predicts only finite numbers",
                2,
            )
    return frame


def _read_array(path: Path) -> np.ndarray:
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise PredictError(f"cannot read {path}: {_line(exc)}") from None
    if isinstance(data, np.ndarray):
        return data
    with data:
        keys = list(data.keys())
        if "x" in keys or len(keys) == 1:
            return data["x" if "x" in keys else keys[0]]
    raise PredictError(f"{path} holds arrays {keys}; name the inputs 'x'", 2)


def _state(info: ModelInfo) -> dict | None:
    return info.preprocessing if info.preprocessing and not info.includes_preprocessing else None


def _from_table(frame, info: ModelInfo) -> np.ndarray:
    """Raw feature columns -> model input; the saved preprocessing is applied."""
    state = info.preprocessing or {}
    features = state.get("features") or info.feature_names
    if features:
        missing = [name for name in features if name not in frame.columns]
        if missing:
            raise PredictError(
                f"the input lacks the feature column(s) {missing}; the model takes {features}", 2
            )
        frame = frame[features]
    if _state(info) is not None and state.get("kind") == "tabular":
        return _apply(state, frame)
    try:
        values = frame.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        text = [c for c in frame.columns if frame[c].dtype == object]
        raise PredictError(f"the input has non-numeric column(s) {text}", 2) from None
    return _preprocess(info, values)


def _apply(state: dict, rows) -> np.ndarray:
    from specc.data.replay import apply_preprocessing

    try:
        return apply_preprocessing(state, rows)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise PredictError(f"cannot preprocess the input: {_line(exc)}", 2) from None


def _preprocess(info: ModelInfo, raw: np.ndarray) -> np.ndarray:
    """Raw samples -> model input (the saved preprocessing when there is one)."""
    state = _state(info)
    if raw.dtype == object or not np.issubdtype(raw.dtype, np.number):
        raise PredictError(f"the input holds {raw.dtype} values, not numbers", 2)
    if state is None:
        return raw
    features = state.get("features") or []
    if state.get("kind") == "tabular" and (raw.ndim > 2 or raw.shape[-1:] != (len(features),)):
        raise PredictError(  # replay would read the values row-major as rows of that width
            f"cannot preprocess the input: the array has shape {list(raw.shape)}, but the "
            f"model takes rows of "
            f"{len(features)} features ({', '.join(map(str, features))})",
            2,
        )
    if state.get("kind") != "tabular":
        sample = tuple(state.get("sample_shape") or ())
        if tuple(raw.shape[1:]) != sample and raw.size == len(raw) * int(np.prod(sample)):
            raw = raw.reshape(len(raw), *sample)
        if tuple(raw.shape[1:]) != sample:
            raise PredictError(
                f"each input sample has shape {list(raw.shape[1:])}, but the "
                f"model was trained on raw samples of shape {list(sample)}",
                2,
            )
    return _apply(state, raw)


def _check_shape(x: np.ndarray, info: ModelInfo) -> np.ndarray:
    want = list(info.input_shape)
    got = list(x.shape[1:])
    fits = got == want or (info.dynamic_seq and len(got) == len(want) and got[1:] == want[1:])
    if not fits:
        width = "width" if len(want) == 1 else "shape"
        raise PredictError(
            f"each input has {width} {got if len(got) > 1 else got[:1]}, but "
            f"the model takes {want}",
            2,
        )
    if info.input_dtype == "int64":
        if not np.all(np.mod(x, 1) == 0):
            raise PredictError(
                "the model takes integer token ids, but the input has fractional values", 2
            )
        return x.astype(np.int64)
    if (
        np.issubdtype(x.dtype, np.floating)
        and np.isnan(x).any()
        and not info.includes_preprocessing
    ):
        raise PredictError("the input has missing values that no preprocessing step fills", 2)
    if np.issubdtype(x.dtype, np.floating) and np.isinf(x).any():
        raise PredictError("the input has infinite values; specc predicts only finite numbers", 2)
    return np.ascontiguousarray(x, dtype=np.float32)


def image_files(path: Path) -> list[Path]:
    """The image files at ``path``: the file itself, or every image under the folder (sorted
    by relative path)."""
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise PredictError(f"{path} holds no images ({', '.join(IMAGE_SUFFIXES)})", 2)
    return files


def _read_images(files: list[Path], info: ModelInfo) -> np.ndarray:
    """Images -> uint8 array (N, *sample_shape) of raw pixels.

    A model trained on an ``image_folder`` source decodes them as validation did (its saved
    :class:`~specc.data.images.Recipe`: resize + centre crop, or the spec's resize); other
    models' images are converted to grey or RGB and resized to the training sample shape.
    """
    try:
        import PIL  # noqa: F401 - Pillow decodes the images
    except ImportError:
        raise PredictError("reading images needs Pillow (pip install pillow)") from None
    from specc.data.images import Recipe, decode

    state = info.preprocessing or {}
    shape = list(state.get("sample_shape") or info.input_shape)
    if len(shape) not in (2, 3):
        raise PredictError(f"this model takes samples of shape {shape}, not images", 2)
    channels = shape[0] if len(shape) == 3 else 1
    mode = "L" if channels == 1 else "RGB"
    recipe = (
        Recipe.from_state(state["image"])
        if state.get("image")
        else Recipe(mode, (shape[-2], shape[-1]), "exact")
    )
    x = np.zeros((len(files), *recipe.shape), dtype=np.uint8)
    for j, file in enumerate(files):
        try:
            x[j] = decode(str(file), recipe)
        except Exception as exc:
            raise PredictError(f"cannot read image {file}: {_line(exc)}") from None
    return x.reshape(len(x), *shape)


# --- outputs ----------------------------------------------------------------------------------


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def probabilities(out: np.ndarray, kind: str) -> np.ndarray:
    """Class probabilities (N, C) from the first model output (N, k)."""
    out = out.reshape(len(out), -1).astype(np.float64)
    if kind in ("logits", "log_probabilities"):
        return _softmax(out)  # and softmax(log p) = p / sum(p)
    p = 1.0 / (1.0 + np.exp(-out)) if kind == "logit" else np.clip(out, 0.0, 1.0)
    if p.shape[1] != 1:
        raise PredictError("a binary model needs one output column")
    return np.concatenate([1.0 - p, p], axis=1)


def to_predictions(out: np.ndarray, info: ModelInfo, *, top_k: int = 1) -> Predictions:
    """CSV rows from the first output: class/label/probability (top-k) or regression values."""
    if info.output_kind == "values":
        flat = out.reshape(len(out), -1)
        names = ["value"] if flat.shape[1] == 1 else [f"value_{j}" for j in range(flat.shape[1])]
        return Predictions(names, [[float(v) for v in row] for row in flat])
    probs = probabilities(out, info.output_kind)
    labels = info.class_labels or [str(j) for j in range(probs.shape[1])]
    k = max(1, min(top_k, probs.shape[1]))
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    suffixes = [""] if k == 1 else [f"_{j + 1}" for j in range(k)]
    header = [f"{name}{s}" for s in suffixes for name in ("class", "label", "probability")]
    rows = [
        [v for j in row for v in (int(j), labels[j], float(p[j]))]
        for row, p in zip(order, probs, strict=True)
    ]
    return Predictions(header, rows)
