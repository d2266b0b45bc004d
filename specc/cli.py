"""The ``specc`` command line: a thin Typer shell over the library.

Each command lives in :mod:`specc.commands`; this module only registers them and maps
:class:`SpecErrors` (exit 2) and runtime failures (exit 1) to one clear report, never a
traceback. ``specc validate FILE...`` skips Typer altogether (see :func:`main`): it is the
command that must answer in a fraction of torch's import time.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer


def make_app() -> typer.Typer:
    """The Typer app with every command registered."""
    import typer

    from specc.commands import (
        build_cmd,
        export_cmd,
        predict_cmd,
        report_cmd,
        schema_cmd,
        train_cmd,
        tune_cmd,
        validate_cmd,
    )

    app = typer.Typer(
        name="specc",
        help="Declarative model specs for PyTorch: validate, build, train, tune, export, report.",
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
    app.command("tune")(tune_cmd.tune)
    app.command("report")(report_cmd.report)
    return app


def __getattr__(name: str) -> Any:
    """``specc.cli.app`` is built on first use, so ``specc validate`` never imports Typer."""
    if name == "app":
        globals()["app"] = app = make_app()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Entry point of the ``specc`` console script."""
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "validate" and not any(a.startswith("-") for a in args):
        from specc.commands.check import check_specs  # the fast path: no Typer, no torch

        sys.exit(check_specs(args[1:]))
    from specc.commands.common import run_app

    sys.exit(run_app(__getattr__("app")))
