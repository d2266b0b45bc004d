"""Anti-unification of the statements of several instances of one block.

Every instance of a block renders its class body as one-line statements with literal
values. Where the instances agree, the literal stays; where an integer or a boolean
differs, it becomes a constructor parameter: the block parameter whose value matches it in
every instance, else a new parameter named after the argument it fills (``in_channels``).
A statement may be missing from some instances (a conditional layer that is absent there):
it is unified over the instances that have it. Instances whose statements differ in
anything but such literals cannot share a class (:func:`skeleton` tells them apart), so
the caller groups them first.
"""

from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Unified", "skeleton", "unify"]

_SKIP = (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT)


def _tokens(statement: str) -> list[tokenize.TokenInfo]:
    readline = io.StringIO(statement).readline
    return [t for t in tokenize.generate_tokens(readline) if t.type not in _SKIP]


def _literal(token: tokenize.TokenInfo) -> int | bool | None:
    """The value of an integer or boolean token, else None."""
    if token.type == tokenize.NUMBER and token.string.isdigit():
        return int(token.string)
    if token.type == tokenize.NAME and token.string in ("True", "False"):
        return token.string == "True"
    return None


def statement_skeleton(statement: str) -> tuple[str, ...]:
    """One statement's tokens, integers and booleans as ``#``."""
    return tuple("#" if _literal(t) is not None else t.string for t in _tokens(statement))


def skeleton(statements: list[str]) -> tuple:
    """What instances must share to be unified: every token, integers and booleans as ``#``."""
    return tuple(statement_skeleton(s) for s in statements)


@dataclass
class Unified:
    """The shared statements, the constructor parameters, and each instance's values
    (None for a parameter that only statements absent from that instance read)."""

    statements: list[str]
    params: list[str]
    values: list[list[Any]] = field(default_factory=list)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def unify(instances: list[list[str | None]], envs: list[dict[str, Any]], arg_name: Any) -> Unified:
    """Unify instances whose present statements have equal :func:`statement_skeleton`.

    Args:
        instances: per instance, its statements (None where the instance lacks one; every
            statement is present in at least one instance).
        envs: per instance, the block parameter values.
        arg_name: ``arg_name(tokens, index) -> str``: a name for a new parameter filling
            the literal at ``tokens[index]``.
    """
    declared = [k for k in envs[0] if _uniform(e.get(k) for e in envs)]
    columns: dict[str, tuple] = {}  # parameter -> its value per instance
    out = []
    for s in range(len(instances[0])):
        present = [j for j, inst in enumerate(instances) if inst[s] is not None]
        statement = str(instances[present[0]][s])
        streams = {j: _tokens(str(instances[j][s])) for j in present}
        replace: list[tuple[tokenize.TokenInfo, str]] = []
        for i, token in enumerate(streams[present[0]]):
            texts = {streams[j][i].string for j in present}
            if _literal(token) is None or len(texts) == 1:
                continue
            found = {j: _literal(streams[j][i]) for j in present}
            column = tuple(found.get(j) for j in range(len(instances)))
            name = _parameter(declared, envs, found, column, columns)
            if name is None:
                name = _new_name(arg_name(streams[present[0]], i), declared, columns)
            columns.setdefault(name, column)
            replace.append((token, name))
        out.append(_replace(statement, replace))
    params = [k for k in declared if k in columns] + [k for k in columns if k not in declared]
    values = [[columns[k][j] for k in params] for j in range(len(instances))]
    return Unified(out, params, values)


def _uniform(values: Any) -> bool:
    """All integers or all booleans."""
    types = {type(v) for v in values}
    return types in ({int}, {bool})


def _parameter(
    declared: list[str], envs: list[dict], found: dict[int, Any], column: tuple, columns: dict
) -> str | None:
    """The block parameter, or an earlier new parameter, that has these values."""
    for k in declared:
        if all(_same(envs[j][k], v) for j, v in found.items()):
            columns.setdefault(k, tuple(e[k] for e in envs))
            return k
    return next(
        (
            k
            for k, c in columns.items()
            if k not in declared and all(_same(c[j], v) for j, v in found.items())
        ),
        None,
    )


def _new_name(base: str, declared: list[str], columns: dict) -> str:
    taken = set(declared) | set(columns)
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def _replace(statement: str, replace: list[tuple[tokenize.TokenInfo, str]]) -> str:
    for token, name in sorted(replace, key=lambda r: -r[0].start[1]):
        statement = statement[: token.start[1]] + name + statement[token.end[1] :]
    return statement
