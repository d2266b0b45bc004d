"""ONNX export verified by onnxruntime (:func:`export_onnx`), and the metadata it writes.

Importing this package imports neither torch nor onnx; the functions that need them do::

    report = export_onnx(model, spec, "model.onnx", checkpoint=ckpt)
    report.parity.max_abs_diff      # onnxruntime vs torch, batch sizes 1, 7 and 64
"""

from __future__ import annotations

from specc.export.api import ExportError, ExportReport, export_onnx, export_run, model_info
from specc.export.metadata import ModelInfo, read_metadata

__all__ = [
    "ExportError",
    "ExportReport",
    "ModelInfo",
    "export_onnx",
    "export_run",
    "model_info",
    "read_metadata",
]
