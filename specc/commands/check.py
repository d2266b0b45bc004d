"""The work of ``specc validate``, without Typer: check specs, print summaries or reports.

Kept free of command-line imports so that ``specc validate`` can run it straight from
:func:`specc.cli.main` and answer in a fraction of torch's import time.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from specc.errors import SpecError, count_line, render_report

if TYPE_CHECKING:
    from specc.spec.schema import Spec

__all__ = ["check_specs", "summary"]


def summary(spec: Spec) -> str:
    """One line describing a valid spec: layers, parameters, input and output shapes."""
    graph = spec.graph
    shapes = ", ".join(str(list(s)) for s in graph.output_shapes)
    return (
        f"{spec.source_path}: ok: {spec.name}: {len(graph.nodes)} layers, "
        f"{graph.params:,} parameters, {list(graph.input_shape)} -> {shapes}"
    )


def check_specs(paths: Iterable[str | Path]) -> int:
    """Validate each spec: a summary line on stdout, or its report on stderr.

    Returns:
        the exit status: 0 when every spec is valid, else 2.
    """
    from specc.spec.validate import check_file

    all_errors: list[SpecError] = []
    for path in paths:
        spec, errors, source = check_file(path)
        if errors:
            sys.stderr.write(render_report(errors, source) + "\n")  # already in source order
            all_errors += errors
        elif spec is not None:  # no errors: check_file returned the spec
            sys.stdout.write(summary(spec) + "\n")
    if all_errors:
        sys.stderr.write(count_line(len(all_errors)) + "\n")
        return 2
    return 0
