"""Anti-unification of the statements of several instances of one block.

Every instance of a block renders its class body as one-line statements with literal
values. Where the instances agree, the literal stays; where an integer differs, it becomes
a constructor parameter: the block parameter whose value matches it in every instance, else
a new parameter named after the argument it fills (``in_channels``). Instances whose
statements differ in anything but integers cannot share a class (:func:`skeleton` tells
them apart), so the caller groups them first.
"""

from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Unified", "skeleton", "unify"]


def _tokens(statement: str) -> list[tokenize.TokenInfo]:
    skip = (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT)
    readline = io.StringIO(statement).readline
    return [t for t in tokenize.generate_tokens(readline) if t.type not in skip]


def _is_int(text: str) -> bool:
    return text.isdigit()


def skeleton(statements: list[str]) -> tuple:
    """What instances must share to be unified: every token, integers as ``#``."""
    return tuple(
        tuple(
            "#" if t.type == tokenize.NUMBER and _is_int(t.string) else t.string for t in _tokens(s)
        )
        for s in statements
    )


@dataclass
class Unified:
    """The shared statements, the constructor parameters, and each instance's values."""

    statements: list[str]
    params: list[str]
    values: list[list[int]] = field(default_factory=list)


def unify(instances: list[list[str]], envs: list[dict[str, Any]], arg_name: Any) -> Unified:
    """Unify instances with equal :func:`skeleton`.

    Args:
        instances: per instance, its statements.
        envs: per instance, the block parameter values.
        arg_name: ``arg_name(tokens, index) -> str``: a name for a new parameter filling
            the integer at ``tokens[index]``.
    """
    first = instances[0]
    declared = [k for k in envs[0] if all(type(e.get(k)) is int for e in envs)]
    used: list[str] = []
    fresh: dict[tuple, str] = {}
    out = []
    for s, statement in enumerate(first):
        streams = [_tokens(inst[s]) for inst in instances]
        replace: list[tuple[tokenize.TokenInfo, str]] = []
        for i, token in enumerate(streams[0]):
            texts = tuple(stream[i].string for stream in streams)
            if token.type != tokenize.NUMBER or len(set(texts)) == 1:
                continue
            ints = tuple(int(v) for v in texts)
            name = next((k for k in declared if tuple(e[k] for e in envs) == ints), None)
            if name is None:
                name = fresh.get(ints) or _new_name(arg_name(streams[0], i), declared, fresh)
                fresh[ints] = name
            if name not in used:
                used.append(name)
            replace.append((token, name))
        out.append(_replace(statement, replace))
    params = [k for k in declared if k in used] + [n for n in fresh.values() if n in used]
    values = [[_value(k, e, instances, fresh, j) for k in params] for j, e in enumerate(envs)]
    return Unified(out, params, values)


def _value(name: str, env: dict, instances: list, fresh: dict, j: int) -> int:
    if name in env and name not in fresh.values():
        return env[name]
    ints = next(k for k, v in fresh.items() if v == name)
    return ints[j]


def _new_name(base: str, declared: list[str], fresh: dict) -> str:
    taken = set(declared) | set(fresh.values())
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def _replace(statement: str, replace: list[tuple[tokenize.TokenInfo, str]]) -> str:
    for token, name in sorted(replace, key=lambda r: -r[0].start[1]):
        statement = statement[: token.start[1]] + name + statement[token.end[1] :]
    return statement
