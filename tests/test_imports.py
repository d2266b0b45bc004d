"""Layering: the library never loads the command line."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "specc",
        "specc.train.session",
        "specc.train.distributed",
        "specc.export",
        "specc.data.pipeline",
        "specc.predict",
    ],
)
def test_library_does_not_import_typer(module):
    code = f"import sys, {module}; print('typer' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"
