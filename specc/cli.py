"""The ``specc`` command line: a thin Typer shell over the library.

Each command lives in :mod:`specc.commands`; this module only registers them and maps
:class:`SpecErrors` (exit 2) and runtime failures (exit 1) to one clear report, never a
traceback.
"""

from __future__ import annotations

import sys

import typer

from specc.commands import build_cmd, export_cmd, predict_cmd, schema_cmd, train_cmd, validate_cmd

app = typer.Typer(
    name="specc",
    help="Declarative model specs for PyTorch: validate, build, train, export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command("validate")(validate_cmd.validate)
app.command("build")(build_cmd.build)
app.command("schema")(schema_cmd.schema)
app.command("train")(train_cmd.train)
app.command("export")(export_cmd.export)
app.command("predict")(predict_cmd.predict)


def main() -> None:
    """Entry point of the ``specc`` console script."""
    from specc.commands.common import run_app

    sys.exit(run_app(app))
