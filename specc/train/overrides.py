"""``--set key.path=value`` overrides, validated like the spec itself.

Each value is parsed as a YAML scalar (``0.01``, ``true``, ``[1, 2]``, ``adam``); the
overrides are applied to the loaded spec data, which then goes through the normal
validation pipeline. An error caused by an override is reported at the spec line of the key
it changes (or its enclosing section) and names the override: ``--set optimizer.lr=-1: ...``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from specc.errors import RunError, SpecError, SpecErrors
from specc.spec.load import load_text, load_value
from specc.spec.validate import check_text

if TYPE_CHECKING:
    from specc.spec.schema import Spec

__all__ = ["Override", "apply_overrides", "parse_override"]

# Sections (and layers) that may be written as a bare type name: ``loss: mse``.
_BARE_NAME_SECTIONS = {("loss",), ("optimizer",), ("scheduler",)}


@dataclass(frozen=True)
class Override:
    """One parsed ``--set``: the raw text, the key path and the YAML value."""

    raw: str
    path: tuple
    value: object


def parse_override(text: str) -> Override:
    """Parse ``key.path=value`` (list indices as integers: ``model.layers.3.out_features``).

    Raises:
        RunError: (exit 2) not of the form key.path=value, or the value is not valid YAML.
    """
    key, sep, raw_value = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise RunError(
            f"--set {text}: expected key.path=value, for example --set optimizer.lr=0.01",
            exit_code=2,
        )
    value, errors = load_value(raw_value, "--set")
    if errors:
        raise RunError(
            f"--set {_short(text)}: the value is not valid ({errors[0].message})", exit_code=2
        )
    path = tuple(int(p) if p.isascii() and p.isdigit() else p for p in parts)
    return Override(text, path, value)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _set(data: dict, override: Override) -> None:
    node = data
    path = override.path
    for depth, part in enumerate(path[:-1]):
        child = _child(node, part, override)
        bare = isinstance(child, str) and (
            path[: depth + 1] in _BARE_NAME_SECTIONS or path[:2] == ("model", "layers")
        )
        if child is None or bare:
            child = {"type": child} if isinstance(child, str) else {}
            node[part] = child
        elif not isinstance(child, (dict, list)):
            where = ".".join(map(str, path[: depth + 1]))
            raise RunError(
                f"--set {override.raw}: '{where}' is a value, not a section", exit_code=2
            )
        node = child
    _child(node, path[-1], override)  # validates the last step: a list index or a key
    node[path[-1]] = override.value


def _child(node, part, override: Override):
    """``node[part]`` (None for a missing key); RunError when ``part`` cannot index ``node``."""
    if isinstance(node, list):
        if not isinstance(part, int) or not 0 <= part < len(node):
            raise RunError(
                f"--set {override.raw}: '{part}' is not an index of a list of {len(node)} items",
                exit_code=2,
            )
        return node[part]
    if isinstance(part, int):
        raise RunError(f"--set {override.raw}: '{part}' indexes a section, not a list", exit_code=2)
    return node.get(part)


def apply_overrides(spec: Spec, overrides: Sequence[str]) -> tuple[Spec, str]:
    """A new validated spec with ``overrides`` applied, and its resolved YAML text.

    Returns:
        ``(spec, text)``: the spec keeps the original file's text and positions for error
        reports; ``text`` is the resolved spec (what a run stores as ``spec.yaml``).

    Raises:
        SpecErrors: an override makes the spec invalid (located, naming the override).
        RunError: an override is malformed (exit 2).
    """
    if not overrides:
        return spec, spec.source
    parsed = [parse_override(text) for text in overrides]
    loaded, _ = load_text(spec.source, spec.source_path)
    assert loaded is not None, "the spec's own text loaded when it was validated"
    data = loaded.data
    assert isinstance(data, dict), "a validated spec is a mapping"
    for override in parsed:
        _set(data, override)
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
    new, errors = check_text(text, spec.source_path)
    if errors:
        raise SpecErrors([_blame(e, parsed, loaded.positions) for e in errors], spec.source)
    assert new is not None, "check_text returns a spec when there are no errors"
    new._source = spec.source
    new._positions = spec.positions
    return new, text


def _blame(error: SpecError, parsed: list[Override], positions) -> SpecError:
    path = tuple(error.key_path)
    culprit = next(  # the last override of a key is the one whose value stands
        (
            o
            for o in reversed(parsed)
            if path[: len(o.path)] == o.path or o.path[: len(path)] == path
        ),
        parsed[0] if len(parsed) == 1 else None,
    )
    line, col = positions.locate(path, at_key=True)
    message = f"--set {culprit.raw}: {error.message}" if culprit else error.message
    return SpecError(error.path, line, col, message, path, error.hint, code=error.code)
