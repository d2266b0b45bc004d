"""``specc validate SPEC...``: check specs without importing torch."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from specc.errors import SpecError, render_report


def summary(spec) -> str:
    """One line describing a valid spec: layers, parameters, input and output shapes."""
    graph = spec.graph
    shapes = ", ".join(str(list(s)) for s in graph.output_shapes)
    return (f"{spec.source_path}: ok: {spec.name}: {len(graph.nodes)} layers, "
            f"{graph.params:,} parameters, {list(graph.input_shape)} -> {shapes}")


def validate(
    specs: list[Path] = typer.Argument(..., help="Spec files to check."),  # noqa: B008
) -> None:
    """Check specs: every error at once, as file:line:col, exit 2 on any error."""
    from specc.spec.validate import check_file

    all_errors: list[SpecError] = []
    for path in specs:
        spec, errors, source = check_file(path)
        if errors:
            sys.stderr.write(render_report(sorted(errors, key=lambda e: (e.line, e.col)),
                                           source) + "\n")
            all_errors += errors
        else:
            sys.stdout.write(summary(spec) + "\n")
    if all_errors:
        n = len(all_errors)
        sys.stderr.write(f"{n} error{'s' if n != 1 else ''}\n")
        raise typer.Exit(2)
