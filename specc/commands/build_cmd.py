"""``specc build SPEC [--json] [--emit DIR] [--explain]``: compile a spec and describe it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Literal

import typer

from specc.commands.common import RunError, load_or_exit


def build(
    spec_path: Path = typer.Argument(..., metavar="SPEC", help="The spec file."),  # noqa: B008
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    emit_dir: str | None = typer.Option(
        None,
        "--emit",
        metavar="DIR",
        help="Write DIR/model.py (standalone PyTorch source) "
        "and, for a spec with loss, optimizer and data, DIR/train.py.",
    ),
    explain: bool = typer.Option(
        False, "--explain", help="Show the arithmetic behind each shape and parameter count."
    ),
) -> None:
    """Build the model: a per-layer table (name, type, shape, parameters, spec line)."""
    spec = load_or_exit(spec_path)
    from specc.summary import summarize

    summary = summarize(spec, _build(spec))
    written = _emit(spec, emit_dir) if emit_dir is not None else []
    if as_json:
        data = summary.to_json(explain=explain)
        if emit_dir is not None:
            data["files"] = [str(p) for p in written]
        sys.stdout.write(json.dumps(data) + "\n")
        return
    _print_human(spec, summary, explain)
    for path in written:
        sys.stdout.write(f"wrote {path}\n")


def _build(spec):
    """The module, or one clear line (exit 1) when torch cannot construct it (memory...)."""
    from specc.backends.module import build_model
    from specc.limits import check_model_memory

    check_model_memory(spec, 1, "building")
    try:
        return build_model(spec)
    except (RuntimeError, MemoryError, ValueError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        raise RunError(
            f"{spec.source_path}: torch could not build the model "
            f"({spec.graph.params:,} parameters): {reason}"
        ) from None


def _emit(spec, emit_dir: str) -> list[Path]:
    from specc.backends.emit import emit
    from specc.paths import same_file

    if str(emit_dir).strip() == "":
        raise RunError("--emit is empty; give a folder", exit_code=2)
    folder = Path(emit_dir)
    for name in ("model.py", "train.py"):
        if same_file(folder / name, Path(spec.source_path)):
            raise RunError(
                f"--emit {folder} would replace the spec file itself "
                f"({spec.source_path}); choose another folder",
                exit_code=2,
            )
    try:
        return emit(spec, folder)
    except OSError as exc:
        raise RunError(f"cannot write to {folder}: {exc.strerror or exc}") from None


def _print_human(spec, summary, explain: bool) -> None:
    """The Rich table, the totals and (with ``--explain``) each layer's arithmetic."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from specc.summary import tree_rows

    console = Console(highlight=False)
    title = Text(f"{summary.name} ({summary.class_name}) from {spec.source_path}")
    table = Table(title=title, title_justify="left")
    columns: tuple[tuple[str, Literal["left", "right"]], ...] = (
        ("layer", "left"),
        ("type", "left"),
        ("output shape", "left"),
        ("params", "right"),
        ("line", "right"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify, overflow="fold")  # long names never cut
    table.add_row("input", "", Text(str(summary.input_shape)), "", "")
    for row in tree_rows(spec.graph):  # indented by block nesting, as the module nests
        table.add_row(
            Text("  " * row.depth + row.key),
            Text(row.type, style="bold" if row.scope else ""),
            Text(str(row.output_shape)),
            f"{row.params:,}",
            str(row.line),
        )
    console.print(table)
    shapes = [summary.output_shape] if len(summary.outputs) == 1 else summary.output_shape
    outputs = ", ".join(
        f"{name} {shape}" for name, shape in zip(summary.outputs, shapes, strict=True)
    )
    lines = [
        f"input: {summary.input_shape} {summary.input_dtype}  ->  output: {outputs}",
        f"parameters: {summary.params:,} ({summary.trainable_params:,} trainable)",
        f"size: {summary.size_mb:,.3f} MB (parameters and buffers)",
        f"multiply-accumulates per sample: {summary.macs:,}",
    ]
    if explain:
        lines.append("")
        for row in summary.layers:
            lines.append(f"{row.name} ({row.type}, line {row.line}): {row.output_shape}")
            lines += [f"    {text}" for text in row.explain] or ["    shape unchanged"]
    sys.stdout.write("\n".join(lines) + "\n")
