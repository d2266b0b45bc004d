"""``export_onnx``: a spec's model -> a verified ONNX file with specc metadata.

Steps: (optionally) fold numeric scaling into the model, export with dynamic shapes,
attach ``metadata_props``, save, run the ONNX checker, then compare onnxruntime with the
torch module at batch sizes 1, 7 and 64. The returned :class:`ExportReport` carries the
largest absolute difference; the caller decides what tolerance fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specc.export.metadata import ModelInfo, metadata_props
from specc.export.verify import Parity
from specc.spec.sections import task_of

if TYPE_CHECKING:
    from torch import nn

    from specc.spec.schema import Spec

__all__ = ["ExportError", "ExportReport", "export_onnx", "export_run", "model_info"]

#: layers over a sequence of any length: a model with one is exported with a dynamic length
SEQUENCE_LAYERS = frozenset(
    {"rnn", "lstm", "gru", "multiheadattention", "transformerencoderlayer", "transformerencoder"}
)
INPUT_NAME = "input"


class ExportError(Exception):
    """Export or verification failed: one line for the user (exit status 1)."""


@dataclass
class ExportReport:
    """What :func:`export_onnx` produced.

    Attributes:
        path: the ONNX file.
        parity: onnxruntime vs torch differences per case.
        info: the metadata written into the file.
        seq_note: why a recurrent model's sequence length stayed fixed, if it did.
        size_bytes: file size.
    """

    path: Path
    parity: Parity
    info: ModelInfo
    seq_note: str | None
    size_bytes: int


def model_info(spec: Spec, checkpoint: dict[str, Any] | None = None) -> ModelInfo:
    """The metadata of ``spec``'s model, completed by a training checkpoint when given."""
    from specc import __version__

    ckpt = checkpoint or {}
    graph = spec.graph
    return ModelInfo(
        spec_name=spec.name,
        input_name=INPUT_NAME,
        input_shape=list(graph.input_shape),
        input_dtype=graph.input_dtype,
        output_names=list(graph.outputs),
        output_shapes=[list(s) for s in graph.output_shapes],
        task=ckpt.get("task") or task_of(spec.loss),
        output_kind=spec.loss.output_kind if spec.loss is not None else "values",
        class_labels=_labels(ckpt.get("class_labels")),
        feature_names=_labels(ckpt.get("feature_names")),
        preprocessing=ckpt.get("preprocessing") or None,
        opset=_opset(spec),
        specc_version=__version__,
    )


def _labels(values) -> list[str] | None:
    return None if values is None else [str(v) for v in values]


def _opset(spec) -> int:
    """``export.onnx.opset`` of the spec, else 18."""
    onnx_spec = spec.export.onnx if spec.export is not None else None
    return onnx_spec.opset if onnx_spec is not None else 18


def _token_bound(graph) -> int:
    """Exclusive bound of valid token ids for an int64 input (its embeddings' smallest size)."""
    sizes = [
        node.layer.num_embeddings
        for node in graph.nodes
        if node.kind == "embedding" and "input" in node.inputs
    ]
    return min(sizes) if sizes else 2


def export_onnx(
    model: nn.Module,
    spec: Spec,
    path: Path | str,
    *,
    checkpoint: dict[str, Any] | None = None,
    opset: int | None = None,
    include_preprocessing: bool | None = None,
    check: bool = True,
    atol: float = 1e-4,
) -> ExportReport:
    """Export ``model`` (built from ``spec``) to ``path`` and verify it.

    Args:
        model: ``specc.build_model(spec)``, trained or not; forward takes
            ``(B, *spec.model.input.shape)``.
        spec: the validated spec.
        path: the ``.onnx`` file to write (its folder is created).
        checkpoint: a training checkpoint dict (``preprocessing``, ``class_labels``,
            ``feature_names``, ``task``), for the metadata; weights are not loaded from it.
        opset: ONNX opset; default ``export.onnx.opset`` of the spec, else 18.
        include_preprocessing: fold numeric scaling into the graph; default
            ``export.onnx.include_preprocessing``.
        check: run the ONNX checker and the onnxruntime parity check.
        atol: when a dynamic sequence length is right at the example's length but off by more
            than this at the other one, export again with a fixed length (and say so).

    Raises:
        ExportError: the model cannot be exported (naming the layer when known), the
            checker rejects it, or onnxruntime cannot run it.
    """
    path = Path(path)
    info = model_info(spec, checkpoint)
    if opset is not None:
        info.opset = opset
    module, transform = _wrap(model, spec, info, include_preprocessing)
    want_seq = any(node.kind in SEQUENCE_LAYERS for node in spec.graph.nodes)
    result, seq_note = _export_verified(
        module, spec, info, path, want_seq, transform, check=check, atol=atol
    )
    if result.error:
        raise ExportError(f"onnxruntime cannot run the exported model at {result.error}")
    return ExportReport(path, result, info, seq_note, path.stat().st_size)


def _export_verified(
    module,
    spec,
    info: ModelInfo,
    path: Path,
    want_seq: bool,
    transform,
    *,
    check: bool,
    atol: float,
) -> tuple[Parity, str | None]:
    """Export, save and verify ``module``: ``(parity, seq_note)``.

    A dynamic sequence length that is right only at the example's length is retried without
    the ONNX optimizer (it can fold the example's length into a Reshape), then fixed.
    """
    high = _token_bound(spec.graph)
    attempts = [(want_seq, True), (want_seq, False), (False, True)] if want_seq else [(False, True)]
    note = None
    for k, (seq, optimize) in enumerate(attempts):
        exported = _export(module, info, spec, seq, high, optimize)
        _save(exported.proto, info, path)
        result = _verify(path, module, info, high, transform) if check else Parity()
        if k == len(attempts) - 1 or not (
            exported.dynamic_seq and result.broken_at_other_seq(atol)
        ):
            break
        note = note or (
            f"the sequence length is fixed at {info.input_shape[0]}: with a dynamic "
            f"length onnxruntime was wrong at another length "
            f"({result.error or result.describe()})"
        )
    return result, exported.seq_note or (note if not exported.dynamic_seq else None)


def _wrap(model, spec, info: ModelInfo, include_preprocessing: bool | None):
    """``(module to export, raw-input transform for parity)``; folds preprocessing if asked."""
    if include_preprocessing is None:
        onnx_spec = spec.export.onnx if spec.export is not None else None
        include_preprocessing = bool(onnx_spec and onnx_spec.include_preprocessing)
    if not include_preprocessing:
        return model.eval(), None
    from specc.export.fold import fold_preprocessing

    info.includes_preprocessing = True
    return fold_preprocessing(model.eval(), info.preprocessing, info.input_shape)


def _export(module, info: ModelInfo, spec, want_seq: bool, high: int, optimize: bool = True):
    """:func:`export_module` with the spec's names; sets ``info.dynamic_seq``."""
    from specc.export.onnx_export import ExportFailure, export_module

    try:
        exported = export_module(
            module,
            tuple(info.input_shape),
            info.input_dtype,
            opset=info.opset,
            input_name=INPUT_NAME,
            output_names=info.output_names,
            dynamic_seq=want_seq,
            high=high,
            optimize=optimize,
        )
    except ExportFailure as exc:
        raise ExportError(_failure_message(exc, spec)) from exc
    info.dynamic_seq = exported.dynamic_seq
    return exported


def _failure_message(exc, spec) -> str:
    if exc.layer is None:
        return f"cannot export the model to ONNX: {exc}"
    try:
        node = spec.graph.node(exc.layer)
    except KeyError:
        return f"cannot export layer '{exc.layer}' to ONNX: {exc}"
    where = f"{spec.source_path}:{node.line}: " if node.line else ""
    return f"{where}cannot export {node.kind} layer '{node.name}' to ONNX: {exc}"


def _save(proto, info: ModelInfo, path: Path) -> None:
    import onnx

    del proto.metadata_props[:]
    for key, value in metadata_props(info).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "specc"
    proto.producer_version = info.specc_version
    from specc.paths import temp_beside

    path.parent.mkdir(parents=True, exist_ok=True)
    with temp_beside(path) as tmp:  # atomic; a symlink at path is replaced, not followed
        onnx.save(proto, str(tmp))


def _verify(path: Path, module, info: ModelInfo, high: int, transform) -> Parity:
    from specc.export.verify import check, parity

    try:
        check(path)
    except Exception as exc:
        raise ExportError(f"the ONNX checker rejected {path}: {exc}") from exc
    return parity(
        path,
        module,
        tuple(info.input_shape),
        info.input_dtype,
        dynamic_seq=info.dynamic_seq,
        high=high,
        transform=transform,
    )


def export_run(
    run_dir: Path | str, path: Path | str | None = None, *, atol: float = 1e-4, quiet: bool = False
) -> ExportReport:
    """Export a training run's best model to ``path`` (default ``run_dir/model.onnx``).

    This is the hook ``specc train`` calls when the spec has ``export.onnx``.

    Raises:
        RunError: the run cannot be read, the export fails, or onnxruntime differs from torch
            by more than ``atol`` (exit status 1).
    """
    import sys

    from specc.errors import RunError
    from specc.export.target import resolve_target

    run_dir = Path(run_dir)
    target = resolve_target(run_dir)
    path = Path(path) if path is not None else target.default_output
    try:
        report = export_onnx(
            target.model, target.spec, path, checkpoint=target.checkpoint, atol=atol
        )
    except ExportError as exc:
        raise RunError(f"ONNX export of {run_dir}: {exc}") from None
    diff = report.parity.max_abs_diff
    if diff > atol:
        raise RunError(
            f"ONNX export of {run_dir}: onnxruntime differs from torch by "
            f"{diff:.3g} > atol {atol:g}"
        )
    if not quiet:
        sys.stdout.write(f"exported {path} (onnxruntime vs torch: max abs diff {diff:.2g})\n")
    return report
