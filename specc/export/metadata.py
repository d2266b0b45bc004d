"""What an exported ONNX file says about itself, as ``metadata_props`` (no torch, no onnx).

Every value is a string; structured values are JSON. :func:`metadata_props` writes the
mapping at export time and :func:`read_metadata` parses it back from onnxruntime's
``custom_metadata_map`` at prediction time, so ``specc predict`` needs neither torch nor
the spec file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["OUTPUT_KINDS", "ModelInfo", "metadata_props", "read_metadata"]

#: every output kind a loss may declare, and ``values`` (regression, or no loss).
OUTPUT_KINDS = ("logits", "log_probabilities", "logit", "probability", "values")

PREFIX = "specc."


@dataclass
class ModelInfo:
    """Everything about an exported model that prediction needs besides the graph.

    Attributes:
        spec_name: the spec's ``name``.
        input_name: the ONNX input name; ``input_shape`` is one sample's shape (no batch).
        input_dtype: ``float32`` or ``int64``.
        output_names / output_shapes: per-sample shapes of the model outputs.
        task: ``binary`` | ``multiclass`` | ``regression``.
        output_kind: how to read the first output (:class:`specc.spec.sections.LossSection`).
        class_labels: label of each class index, when known.
        feature_names: the raw input columns of a CSV source, when known.
        preprocessing: the fitted preprocessing/transforms state (JSON data), when known.
        includes_preprocessing: numeric scaling is folded into the graph, so the model takes
            features after imputing/encoding but before scaling.
        dynamic_seq: the sequence length (first per-sample dimension) is dynamic.
        opset: the ONNX opset.
        specc_version: the exporting specc version.
    """

    spec_name: str
    input_name: str
    input_shape: list[int]
    input_dtype: str
    output_names: list[str]
    output_shapes: list[list[int]]
    task: str
    output_kind: str
    class_labels: list[str] | None = None
    feature_names: list[str] | None = None
    preprocessing: dict[str, Any] | None = None
    includes_preprocessing: bool = False
    dynamic_seq: bool = False
    opset: int = 18
    specc_version: str = ""


def metadata_props(info: ModelInfo) -> dict[str, str]:
    """The ``metadata_props`` of an exported model: ``specc.<field>`` -> JSON text."""
    return {PREFIX + key: json.dumps(value, sort_keys=True) for key, value in asdict(info).items()}


def read_metadata(props: dict[str, str]) -> ModelInfo:
    """Parse ``metadata_props`` written by :func:`metadata_props`.

    Raises:
        ValueError: when the mapping was not written by specc.
    """
    fields = {key[len(PREFIX) :]: value for key, value in props.items() if key.startswith(PREFIX)}
    if "spec_name" not in fields or "input_shape" not in fields:
        raise ValueError("the model has no specc metadata (was it exported by `specc export`?)")
    known = set(ModelInfo.__dataclass_fields__)
    try:
        data = {key: json.loads(value) for key, value in fields.items() if key in known}
        info = ModelInfo(**data)
    except (TypeError, ValueError, RecursionError) as exc:
        detail = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise ValueError(
            f"the model's specc metadata is incomplete or damaged ({detail})"
        ) from None
    bad = [name for name, ok in _checks(info).items() if not ok]
    if bad:
        raise ValueError(f"the model's specc metadata is damaged: unexpected {', '.join(bad)}")
    return info


def _ints(value: Any) -> bool:
    return isinstance(value, list) and all(type(v) is int and v >= 0 for v in value)


def _texts(value: Any, optional: bool = True) -> bool:
    return (optional and value is None) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    )


def _checks(info: ModelInfo) -> dict[str, bool]:
    """Each metadata field and whether its value has the type and range specc writes."""
    return {
        "spec_name": isinstance(info.spec_name, str),
        "input_name": isinstance(info.input_name, str),
        "input_shape": _ints(info.input_shape),
        "input_dtype": info.input_dtype in ("float32", "int64"),
        "output_names": _texts(info.output_names, optional=False),
        "output_shapes": isinstance(info.output_shapes, list)
        and len(info.output_shapes) > 0
        and all(_ints(s) for s in info.output_shapes),
        "task": info.task in ("binary", "multiclass", "regression"),
        "output_kind": info.output_kind in OUTPUT_KINDS,
        "class_labels": _texts(info.class_labels),
        "feature_names": _texts(info.feature_names),
        "preprocessing": info.preprocessing is None or isinstance(info.preprocessing, dict),
        "includes_preprocessing": isinstance(info.includes_preprocessing, bool),
        "dynamic_seq": isinstance(info.dynamic_seq, bool),
        "opset": type(info.opset) is int,
    }
