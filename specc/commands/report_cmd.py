"""``specc report RUN_DIR``: write ``RUN_DIR/report.html`` (see :mod:`specc.report.html`)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

_RUN = typer.Argument(..., help="A run folder (as specc train writes).")
_OUT = typer.Option(None, "--out", help="Where to write the page (default RUN_DIR/report.html).")


def report(
    run_dir: Path = _RUN,
    out: Path | None = _OUT,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing."),
) -> None:
    """Write one self-contained HTML page: spec, layers, curves, confusion matrix, errors."""
    from specc.report.html import write_report

    path = write_report(run_dir, out)
    if not quiet:
        sys.stdout.write(f"report written to {path}\n")
