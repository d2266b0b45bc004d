"""Shared helpers of the export/predict tests: in-process CLI runs and small spec files."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def write_spec(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` as ``folder/name.yaml`` and return the path."""
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def cli_in_process(capsys, *args) -> tuple[int, str, str]:
    """Run ``specc ARGS`` in this process: ``(exit code, stdout, stderr)``."""
    from specc.cli import app
    from specc.commands.common import run_app

    saved = sys.argv
    sys.argv = ["specc", *map(str, args)]
    try:
        code = run_app(app)
    finally:
        sys.argv = saved
    out = capsys.readouterr()
    return code, out.out, out.err
