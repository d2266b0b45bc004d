"""``specc validate SPEC...``: check specs without importing torch."""

from __future__ import annotations

from pathlib import Path

import typer

from specc.commands.check import check_specs, summary

__all__ = ["summary", "validate"]


def validate(
    specs: list[Path] = typer.Argument(..., help="Spec files to check."),  # noqa: B008
) -> None:
    """Check specs: every error at once, as file:line:col, exit 2 on any error."""
    code = check_specs(specs)
    if code:
        raise typer.Exit(code)
