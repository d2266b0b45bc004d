"""The run directory format: ``runs/<name>/<timestamp>/`` (or exactly ``--out DIR``).

Contents: ``spec.yaml`` (the resolved spec text), ``metrics.csv`` (one row per epoch),
``summary.json``, ``best.pt``, ``last.pt`` (weights-only checkpoints), ``curves.png``, a
classifier's ``confusion_matrix.png`` and ``errors.png``, ``model.onnx`` when exported,
``report.html`` once ``specc report`` wrote it, plus ``.lock`` while a run uses it.

This package owns those names and files: :mod:`specc.rundir.names` names them (one
constant each), :mod:`specc.rundir.folder` writes them and
:mod:`specc.rundir.load` reads them back. Training, export, predict, report and tune use it;
it uses none of them (nor torch at import time).
"""

from __future__ import annotations

from specc.rundir.folder import (
    MetricsLog,
    check_out_dir,
    create_run_dir,
    lock_run_dir,
    save_checkpoint,
    write_json,
    write_text,
)
from specc.rundir.load import (
    checkpoint_failure,
    load_checkpoint,
    load_run,
    load_run_spec,
    read_spec_text,
    require_state_dict,
    spec_from_text,
)
from specc.rundir.names import (
    BEST_CHECKPOINT,
    CONFUSION_FIGURE,
    CURVES_FIGURE,
    ERRORS_FIGURE,
    LAST_CHECKPOINT,
    LOCK,
    METRICS_FILE,
    ONNX_FILE,
    REPORT_FILE,
    RUN_FILES,
    SPEC_FILE,
    SUMMARY_FILE,
)

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
    "MetricsLog",
    "check_out_dir",
    "checkpoint_failure",
    "create_run_dir",
    "load_checkpoint",
    "load_run",
    "load_run_spec",
    "lock_run_dir",
    "read_spec_text",
    "require_state_dict",
    "save_checkpoint",
    "spec_from_text",
    "write_json",
    "write_text",
]
