"""Located errors: the one error type users see, and the report that prints them.

Every mistake in a spec becomes a :class:`SpecError` that knows its file, line and column.
Errors are collected, never raised one at a time, and printed together in the compiler
format ``path:line:col: error[E101]: message`` followed by the source line and a caret; the
code in brackets is the error's stable code (:data:`specc.codes.CODES`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from specc.codes import CODES

__all__ = [
    "RunError",
    "SpecError",
    "SpecErrors",
    "count_line",
    "did_you_mean",
    "escape_control",
    "render_report",
]


class RunError(Exception):
    """A runtime failure (missing data file, diverged loss...): one line, exit status 1.

    Library code raises it; the command line prints ``error: message`` and exits with
    ``exit_code`` (2 for a bad option).
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class SpecError:
    """One located problem in a spec.

    Attributes:
        path: the spec file as the user named it.
        line: 1-based line number (0 when unknown).
        col: 1-based column number (0 when unknown).
        message: what is wrong, naming the layer where there is one.
        key_path: the path of keys/indices in the spec data (``("model", "layers", 3)``).
        hint: an optional second line of advice.
        code: the stable code of this kind of error (``E101``), a key of
            :data:`specc.codes.CODES`; required, and given by keyword.
    """

    path: str
    line: int
    col: int
    message: str
    key_path: tuple = ()
    hint: str | None = None
    code: str = field(kw_only=True)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unregistered error code {self.code!r} (see specc/codes.py)")

    def header(self) -> str:
        """The ``path:line:col: error[E101]: message`` line (``path: error[E101]: ...`` with
        no line)."""
        where = f"{self.path}:{self.line}:{self.col}" if self.line else self.path
        return f"{where}: error[{self.code}]: {self.message}"


@dataclass
class SpecErrors(Exception):
    """A report of one or more :class:`SpecError`, raised once validation is complete.

    Attributes:
        errors: the errors, sorted by position.
        source: the spec text, used to print each error's source line.
    """

    errors: list[SpecError]
    source: str = ""
    exit_code: int = field(default=2)

    def __post_init__(self) -> None:
        self.errors = sorted(_dedupe(self.errors), key=lambda e: (e.path, e.line, e.col))
        super().__init__(self.render())

    def render(self) -> str:
        """The full plain-text report."""
        return render_report(self.errors, self.source)

    def __str__(self) -> str:
        return self.render()


def _dedupe(errors: Iterable[SpecError]) -> list[SpecError]:
    """Each error once. The key is the position, the code and the message: two errors with
    one code at one position can still differ (two missing keys of one mapping)."""
    seen: set[tuple] = set()
    unique = []
    for error in errors:
        key = (error.path, error.line, error.col, error.code, error.message)
        if key not in seen:
            seen.add(key)
            unique.append(error)
    return unique


def render_report(errors: Sequence[SpecError], source: str = "") -> str:
    """Render errors as ``path:line:col: error[E101]: message`` plus source line and caret.

    The text is plain (no markup) and never wrapped, so spec text such as ``[a, c]``
    appears verbatim and every header stays clickable in editors.
    """
    lines = source.splitlines()
    out: list[str] = []
    for error in errors:
        out.append(escape_control(error.header()))
        if 1 <= error.line <= len(lines):
            raw = lines[error.line - 1]
            gutter = f"{error.line:>5} | "
            out.append(gutter + escape_control(raw))
            if error.col >= 1:
                indent = len(escape_control(raw[: error.col - 1]))
                out.append(" " * (len(gutter) - 2) + "| " + " " * indent + "^")
        if error.hint:
            out.append(f"      = hint: {error.hint}")
    return "\n".join(out)


def escape_control(text: str, keep_tab: bool = True) -> str:
    """``text`` with control bytes (ESC, NUL, CR, line breaks...) shown as ``\\x1b``, so that
    nothing a spec, a path or a data file holds can drive the terminal; a tab is kept as is
    unless ``keep_tab`` is False (a one-line header escapes it too)."""
    return "".join(
        c if c.isprintable() or (keep_tab and c == "\t") else repr(c)[1:-1] for c in text
    )


def count_line(n: int) -> str:
    """The report's last line: ``1 error`` / ``3 errors``."""
    return f"{n} error{'s' if n != 1 else ''}"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest choice, or an empty string.

    Case differences are always suggested (``conv2D`` -> ``conv2d``).
    """
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    if str(word).lower() in lowered:
        return f" (did you mean '{lowered[str(word).lower()]}'?)"
    normalized = {c.lower().replace("_", ""): c for c in choices}
    squashed = str(word).lower().replace("_", "").replace("-", "")
    if squashed in normalized:
        return f" (did you mean '{normalized[squashed]}'?)"
    prefixed = [c for c in choices if len(squashed) >= 2 and c.lower().startswith(squashed)]
    if len(prefixed) == 1:
        return f" (did you mean '{prefixed[0]}'?)"
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
