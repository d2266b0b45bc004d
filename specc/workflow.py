"""``specc train`` as a whole: train, then export when the spec asks for it.

The one place that joins :mod:`specc.train` and :mod:`specc.export` (neither imports the
other). ``specc train`` and each ``specc tune`` trial run :func:`train`; the library's
:func:`specc.train.train` alone trains without exporting.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specc.train.api import RunResult

if TYPE_CHECKING:
    from specc.spec.schema import Spec

__all__ = ["export_if_asked", "train"]


def train(spec: Spec | None = None, *, quiet: bool = False, **options: Any) -> RunResult:
    """:func:`specc.train.train` (same arguments), then ``run_dir/model.onnx``, verified
    against torch, when the spec has ``export.onnx``.

    The export runs on the main process before the trackers finish, so MLflow logs the
    ONNX file with the run's other artifacts.

    Raises:
        SpecErrors: as :func:`specc.train.train` (exit 2).
        RunError: a training failure, or an export that fails or disagrees (exit 1).
    """
    from specc.train import train as train_only

    return train_only(
        spec, quiet=quiet, after_training=partial(export_if_asked, quiet=quiet), **options
    )


def export_if_asked(spec: Spec, run_dir: Path, quiet: bool = False) -> None:
    """Write ``run_dir/model.onnx`` (verified) when ``spec`` has ``export.onnx``."""
    if spec.export is None or spec.export.onnx is None:
        return
    from specc.export import export_run

    export_run(run_dir, quiet=quiet)
