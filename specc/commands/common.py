"""Shared command-line plumbing: error reporting and exit codes."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from specc.errors import RunError, SpecErrors, count_line, escape_control

__all__ = ["RunError", "fail", "load_or_exit", "run_app"]

DEBUG_ENV = "SPECC_DEBUG"  # set to 1: unexpected exceptions keep their traceback


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` to stderr and return the Exit to raise."""
    sys.stderr.write(f"error: {escape_control(message)}\n")
    return typer.Exit(code)


def report(errors: SpecErrors) -> typer.Exit:
    """Print a located-error report to stderr, plain text, and return Exit(2)."""
    sys.stderr.write(errors.render() + "\n")
    sys.stderr.write(count_line(len(errors.errors)) + "\n")
    return typer.Exit(errors.exit_code)


def load_or_exit(path: Path):
    """Load and validate a spec, or print its report and exit 2."""
    from specc.spec.validate import load_spec

    try:
        return load_spec(path)
    except SpecErrors as errors:
        raise report(errors) from None


def run_app(app: typer.Typer) -> int:
    """Run the Typer app; turn library errors into reports and exit codes."""
    try:
        # with standalone_mode=False, Typer returns (not raises) a command's Exit code
        result = app(standalone_mode=False)
    except SpecErrors as errors:
        sys.stderr.write(errors.render() + "\n")
        return errors.exit_code
    except RunError as exc:
        sys.stderr.write(f"error: {escape_control(str(exc))}\n")
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:  # usage errors (click's, or the copy Typer >= 0.26 vendors)
        code, show = getattr(exc, "exit_code", None), getattr(exc, "show", None)
        if callable(show) and isinstance(code, int):
            show()
            return code
        if type(exc).__name__ == "Abort":
            return 1
        return _unexpected(exc)
    return result if isinstance(result, int) else 0


def _unexpected(exc: BaseException) -> int:
    """One ``error:`` line (exit 1) for a failure no command anticipated: a file system
    error, memory... (``SPECC_DEBUG=1`` re-raises it with its traceback)."""
    import os

    if os.environ.get(DEBUG_ENV) == "1":
        raise exc
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        message = f"{where}{exc.strerror or exc}"
    elif isinstance(exc, MemoryError):
        message = "out of memory"
    elif isinstance(exc, RecursionError):
        message = "the input is nested too deeply"
    else:
        detail = " ".join(str(exc).split())[:300]
        message = f"unexpected {type(exc).__name__}" + (f": {detail}" if detail else "")
    sys.stderr.write(f"error: {escape_control(message)}\n")
    return 1
