"""Validation never imports torch: `specc validate` must answer in a fraction of torch's
import time, so the library API and the command's import path stay torch-free."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = """
import sys
from pathlib import Path

import specc
from specc.spec.validate import check_text

specs = sorted(Path("specs").glob("*.yaml"))
assert len(specs) >= 10, specs
for path in specs:
    spec = specc.load_spec(path)
    assert spec.graph.nodes, path
    spec, errors = check_text(path.read_text(encoding="utf-8"), str(path))
    assert spec is not None and not errors, errors
_, errors = check_text("version: 1\\nname: t\\nmodel: {input: {shape: [4]}, layers: [lstm]}\\n")
assert errors
heavy = sorted(m for m in ("torch", "numpy", "pandas", "sklearn") if m in sys.modules)
print("HEAVY:", ",".join(heavy))
"""


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_validating_every_shipped_spec_does_not_import_torch():
    out = _run(PROGRAM)
    assert "HEAVY:" in out
    heavy = out.split("HEAVY:")[1].strip().split(",")
    assert "torch" not in heavy


def test_the_console_script_validates_without_torch_or_typer():
    code = (
        "import sys\n"
        "sys.argv = ['specc', 'validate', 'specs/lenet.yaml', 'specs/alexnet.yaml']\n"
        "from specc.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    print('CODE', exc.code, 'torch' in sys.modules, 'typer' in sys.modules)\n"
    )
    out = _run(code)
    assert "ok: alexnet" in out and "CODE 0 False False" in out


def test_the_typer_validate_command_does_not_import_torch():
    code = (
        "import sys\n"
        "from specc.cli import app\n"
        "from specc.commands.common import run_app\n"
        "sys.argv = ['specc', 'validate', 'specs/lenet.yaml', 'specs/resnet.yaml']\n"
        "code = run_app(app)\n"
        "print('CODE', code, 'torch' in sys.modules)\n"
    )
    out = _run(code)
    assert "CODE 0 False" in out
