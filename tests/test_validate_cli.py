"""`specc validate` and `specc schema` from the command line: output, exit status, files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from specc.cli import app, main
from specc.commands.common import run_app
from specc.commands.schema_cmd import schema_text

ROOT = Path(__file__).resolve().parents[1]
LENET = ROOT / "specs" / "lenet.yaml"


def specc(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run the command line in-process; return (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["specc", *args])
    code = run_app(app)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_valid_specs_print_one_summary_line_each(monkeypatch, capsys):
    resnet = ROOT / "specs" / "resnet.yaml"
    code, out, err = specc(monkeypatch, capsys, "validate", str(LENET), str(resnet))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines == [
        f"{LENET}: ok: lenet5: 12 layers, 61,706 parameters, [1, 28, 28] -> [10]",
        f"{resnet}: ok: digits_resnet: 20 layers, 9,690 parameters, [1, 8, 8] -> [10]",
    ]


def test_invalid_spec_exits_2_with_the_report(monkeypatch, capsys, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nname: t\nmodel:\n  input: {shape: [4]}\n"
        "  layers: [{type: linaer, out_features: 2}]\n",
        encoding="utf-8",
    )
    code, out, err = specc(monkeypatch, capsys, "validate", str(bad), str(LENET))
    assert code == 2
    assert "lenet5" in out  # the good spec is still checked and reported
    assert err.splitlines() == [
        f"{bad}:5:19: error[E201]: unknown layer type 'linaer' (did you mean 'linear'?)",
        "    5 |   layers: [{type: linaer, out_features: 2}]",
        "      |                   ^",
        "1 error",
    ]


def test_missing_file_exits_2(monkeypatch, capsys, tmp_path: Path):
    code, _, err = specc(monkeypatch, capsys, "validate", str(tmp_path / "nope.yaml"))
    assert code == 2 and "error[E001]: no such file" in err and "Traceback" not in err


def test_usage_errors_exit_2_without_traceback(monkeypatch, capsys):
    code, _, err = specc(monkeypatch, capsys, "validate")
    assert code == 2 and "Missing argument" in err
    code, _, err = specc(monkeypatch, capsys, "no-such-command")
    assert code == 2 and "No such command" in err


def test_schema_to_stdout_and_to_a_file(monkeypatch, capsys, tmp_path: Path):
    code, out, _ = specc(monkeypatch, capsys, "schema")
    assert code == 0 and out == schema_text()
    schema = json.loads(out)
    assert schema["title"] == "specc model spec" and "model" in schema["required"]
    target = tmp_path / "schema.json"
    code, out, _ = specc(monkeypatch, capsys, "schema", "-o", str(target))
    assert code == 0 and target.read_text(encoding="utf-8") == schema_text()
    assert (ROOT / "specc.schema.json").read_text(encoding="utf-8") == schema_text()


@pytest.mark.parametrize("entry", [["-m", "specc"]], ids=["python -m specc"])
def test_real_entry_point(entry: list[str], tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: t\n", encoding="utf-8")
    ok = subprocess.run(
        [sys.executable, *entry, "validate", str(LENET)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert ok.returncode == 0 and "ok: lenet5" in ok.stdout
    failed = subprocess.run(
        [sys.executable, *entry, "validate", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert f"{bad}:1:1: error[E102]: missing required key 'model'" in failed.stderr


def test_fast_path_prints_what_the_typer_command_prints(monkeypatch, capsys, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nname: t\nmodel: {input: {shape: [4]}, layers: [lstm]}\n", encoding="utf-8"
    )
    args = ["validate", str(LENET), str(bad)]
    typer_path = specc(monkeypatch, capsys, *args)
    monkeypatch.setattr(sys, "argv", ["specc", *args])
    with pytest.raises(SystemExit) as info:
        main()  # `specc validate FILE...` skips Typer
    out = capsys.readouterr()
    assert (info.value.code, out.out, out.err) == typer_path
    assert typer_path[0] == 2 and "missing required argument 'hidden_size'" in typer_path[2]
