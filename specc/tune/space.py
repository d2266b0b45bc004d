"""The search space of ``specc tune``: ``--search KEY=DIST`` options.

``KEY`` is a ``--set`` key path (``optimizer.lr``, ``model.layers.0.out_features``);
``DIST`` is one of::

    loguniform(a, b)    floats, log-uniform on [a, b] (0 < a < b)
    uniform(a, b)       floats, uniform on [a, b] (a < b)
    int(a, b)           integers in [a, b] (a <= b)
    choice(v1, v2, ...) one of the values, each read as a YAML scalar (16, 0.5, adam, true)

A small parser reads ``DIST`` (no ``eval``). :func:`check_space` then applies each end of a
range and each choice to the spec, alone, as a ``--set`` would: a key that does not exist or
a value the spec rejects is reported at the spec line of the key, naming the option.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from specc.errors import RunError, SpecErrors, did_you_mean

if TYPE_CHECKING:
    from specc.spec.schema import Spec

__all__ = ["KINDS", "Dist", "Search", "check_space", "parse_search", "set_text"]

KINDS = ("loguniform", "uniform", "int", "choice")
_FORM = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.DOTALL)
_USAGE = "use loguniform(a,b), uniform(a,b), int(a,b) or choice(v1,v2,...)"


@dataclass(frozen=True)
class Dist:
    """A parsed distribution: ``kind`` and its ``args`` (bounds, or the choices)."""

    kind: str
    args: tuple

    def candidates(self) -> tuple:
        """The values checked against the spec before any trial: the bounds or choices."""
        return self.args if self.kind == "choice" else (self.args[0], self.args[-1])

    def optuna(self):
        """The equivalent ``optuna.distributions`` object."""
        from optuna import distributions as d

        if self.kind == "choice":
            return d.CategoricalDistribution(list(self.args))
        if self.kind == "int":
            return d.IntDistribution(*self.args)
        return d.FloatDistribution(*self.args, log=self.kind == "loguniform")


@dataclass(frozen=True)
class Search:
    """One ``--search`` option: its text, the key path and the distribution."""

    raw: str
    key: str
    dist: Dist


def _scalar(text: str, raw: str):
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = None
    if isinstance(value, (dict, list)) or value is None:
        raise RunError(f"--search {raw}: '{text.strip()}' is not a plain value", exit_code=2)
    return value


def _number(text: str, raw: str, kind: str) -> float | int:
    value = _scalar(text, raw)
    if isinstance(value, str):  # YAML reads 1e-4 (no dot) as text; Python's float does not
        try:
            value = float(value)
        except ValueError:
            value = None
    wanted = int if kind == "int" else (int, float)
    if isinstance(value, bool) or not isinstance(value, wanted) or not math.isfinite(value):
        what = "an integer" if kind == "int" else "a finite number"
        raise RunError(f"--search {raw}: {kind}() needs {what}, got '{text.strip()}'", exit_code=2)
    return value if kind == "int" else float(value)


def _dist(text: str, raw: str) -> Dist:
    match = _FORM.match(text)
    if not match:
        raise RunError(f"--search {raw}: '{text}' is not a distribution; {_USAGE}", exit_code=2)
    kind, body = match.group(1), match.group(2)
    if kind not in KINDS:
        raise RunError(
            f"--search {raw}: unknown distribution '{kind}'"
            f"{did_you_mean(kind, list(KINDS))}; {_USAGE}",
            exit_code=2,
        )
    parts = [p for p in body.split(",")] if body.strip() else []
    if kind == "choice":
        values = tuple(_scalar(p, raw) for p in parts)
        if not values or len(set(map(repr, values))) != len(values):
            raise RunError(
                f"--search {raw}: choice() needs one or more distinct values", exit_code=2
            )
        return Dist(kind, values)
    if len(parts) != 2:
        raise RunError(f"--search {raw}: {kind}() takes two bounds (a, b)", exit_code=2)
    low, high = (_number(p, raw, kind) for p in parts)
    if low > high or (low == high and kind != "int"):
        raise RunError(f"--search {raw}: {kind}() needs a < b", exit_code=2)
    if kind == "loguniform" and low <= 0:
        raise RunError(f"--search {raw}: loguniform() needs 0 < a", exit_code=2)
    return Dist(kind, (low, high))


def parse_search(text: str) -> Search:
    """Parse ``key.path=DIST``.

    Raises:
        RunError: (exit 2) not KEY=DIST, or DIST is malformed; the message names the option.
    """
    key, sep, dist = text.partition("=")
    key = key.strip()
    if not sep or not key or not all(key.split(".")):
        raise RunError(
            f"--search {text}: expected key.path=DIST, for example "
            "--search 'optimizer.lr=loguniform(1e-4,1e-1)'",
            exit_code=2,
        )
    return Search(text, key, _dist(dist.strip(), text))


def set_text(key: str, value: object) -> str:
    """The ``--set`` string that writes ``value`` at ``key`` (YAML keeps its type)."""
    shown = yaml.safe_dump(value, default_flow_style=True).splitlines()[0]
    return f"{key}={shown}"


def check_space(spec: Spec, texts: list[str]) -> list[Search]:
    """Parse every ``--search`` and check each candidate value against ``spec``.

    Raises:
        RunError: a malformed or repeated option (exit 2).
        SpecErrors: a key or value the spec rejects, located at the key's line and naming
            the ``--search`` option.
    """
    from specc.train.overrides import apply_overrides

    searches = [parse_search(text) for text in texts]
    keys = [s.key for s in searches]
    for key in keys:
        if keys.count(key) > 1:
            raise RunError(f"--search {key} is given more than once", exit_code=2)
    for search in searches:
        for value in search.dist.candidates():
            sets = set_text(search.key, value)
            try:
                apply_overrides(spec, [sets])
            except RunError as exc:
                raise RunError(_renamed(str(exc), sets, search.raw), exc.exit_code) from None
            except SpecErrors as errors:
                raise SpecErrors(
                    [
                        dataclasses.replace(
                            e, message=_renamed(e.message, sets, search.raw) + f" (value {value!r})"
                        )
                        for e in errors.errors
                    ],
                    errors.source,
                ) from None
    return searches


def _renamed(message: str, sets: str, raw: str) -> str:
    """``--set KEY=v: ...`` (the override's wording) -> ``--search KEY=DIST: ...``."""
    return message.replace(f"--set {sets}", f"--search {raw}")
