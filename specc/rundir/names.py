"""The names of the files in a run folder, one constant each (writers and readers use these).

:data:`RUN_FILES` is every one of them: what ``--out`` may already hold
(:func:`specc.rundir.check_out_dir`).
"""

from __future__ import annotations

__all__ = [
    "BEST_CHECKPOINT",
    "CONFUSION_FIGURE",
    "CURVES_FIGURE",
    "ERRORS_FIGURE",
    "LAST_CHECKPOINT",
    "LOCK",
    "METRICS_FILE",
    "ONNX_FILE",
    "REPORT_FILE",
    "RUN_FILES",
    "SPEC_FILE",
    "SUMMARY_FILE",
]

SPEC_FILE = "spec.yaml"  # the resolved spec text
METRICS_FILE = "metrics.csv"  # one row per epoch
SUMMARY_FILE = "summary.json"
BEST_CHECKPOINT = "best.pt"
LAST_CHECKPOINT = "last.pt"  # what --resume continues from
CURVES_FIGURE = "curves.png"
CONFUSION_FIGURE = "confusion_matrix.png"  # classifiers
ERRORS_FIGURE = "errors.png"  # classifiers of image data
ONNX_FILE = "model.onnx"  # when exported
REPORT_FILE = "report.html"  # once `specc report` wrote it
LOCK = ".lock"  # while a process uses the folder

RUN_FILES = frozenset(
    {
        SPEC_FILE,
        METRICS_FILE,
        SUMMARY_FILE,
        BEST_CHECKPOINT,
        LAST_CHECKPOINT,
        CURVES_FIGURE,
        CONFUSION_FIGURE,
        ERRORS_FIGURE,
        ONNX_FILE,
        REPORT_FILE,
        LOCK,
    }
)
