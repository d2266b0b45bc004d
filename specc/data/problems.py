"""Errors raised by the data pipeline: located spec errors (exit 2) and I/O failures (exit 1).

A problem that the spec can fix (a misspelled column, a model that disagrees with the data)
is a :class:`~specc.errors.SpecErrors` located at the spec line that caused it; a file that
cannot be read is a one-line ``RunError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from specc.errors import SpecError, SpecErrors

if TYPE_CHECKING:
    from specc.spec.schema import Spec
    from specc.spec.sections import DataSpec

__all__ = ["listing", "located", "raise_all", "raise_io", "raise_located", "where"]


def located(
    spec: Spec, key_path: tuple, message: str, hint: str | None = None, *, code: str
) -> SpecError:
    """A :class:`SpecError` with ``code`` at the spec line of ``key_path``
    (``("data", "source", "path")``)."""
    line, col = _position(spec, key_path)
    path = getattr(spec, "source_path", "<spec>")
    return SpecError(path, line, col, message, tuple(key_path), hint, code=code)


def _position(spec, key_path: tuple) -> tuple[int, int]:
    positions = getattr(spec, "positions", None)
    return positions.locate(tuple(key_path)) if positions is not None else (0, 0)


def raise_located(
    spec: Spec, key_path: tuple, message: str, hint: str | None = None, *, code: str
) -> NoReturn:
    """Raise one located error with ``code`` as :class:`SpecErrors` (exit status 2)."""
    error = located(spec, key_path, message, hint, code=code)
    raise SpecErrors([error], getattr(spec, "source", ""))


def raise_all(spec: Spec, errors: list[SpecError]) -> None:
    """Raise the collected errors together, if there are any."""
    if errors:
        raise SpecErrors(errors, getattr(spec, "source", ""))


def where(spec: Spec, key_path: tuple) -> str:
    """``"data.source.path, specs/x.yaml:12"``: a key path and its spec line, for one-liners."""
    line, _ = _position(spec, key_path)
    dotted = ".".join(str(k) for k in key_path)
    return f"{dotted} at {getattr(spec, 'source_path', '<spec>')}:{line}" if line else dotted


def listing(names: list[str], limit: int) -> str:
    """``"a, b, c, ..."``: the first ``limit`` names, for a hint."""
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def raise_io(message: str) -> NoReturn:
    """Raise a one-line runtime failure (exit status 1): a data file that cannot be read."""
    from specc.errors import RunError

    raise RunError(message)


def data_section(spec: Spec) -> DataSpec:
    """``spec.data``; a spec without one is a located error (there is nothing to train on)."""
    if spec.data is None:
        raise_located(spec, ("data",), "the spec has no data section to train on", code="E601")
    return spec.data
