"""torch's own defaults, written out and left out again, so that block copies compare fairly.

Layers write their constructor calls without the arguments left at torch's default:
``nn.Conv2d(64, 64, kernel_size=3, padding=1)`` for stride 1, ``stride=2`` otherwise. Two
copies of one block then differ in the *shape* of a statement, not only in a number, and
could not share a class. :func:`fill_defaults` writes every integer or boolean default of
each ``nn.X(...)`` call as a keyword, in the order of torch's signature; after the copies are
unified, :func:`drop_defaults` removes the keywords that are still a literal equal to the
default, so the class reads as the layers wrote it.
"""

from __future__ import annotations

import ast
import inspect
from functools import cache
from typing import Any

__all__ = ["drop_defaults", "fill_defaults", "torch_params"]


@cache
def _signature(callee: str) -> tuple[tuple[str, Any], ...]:
    """``(name, default)`` of each parameter of ``nn.<callee>`` (``inspect.Parameter.empty``
    for none); empty when torch has no such class."""
    try:
        from torch import nn

        cls: Any = getattr(nn, callee, None)
        params = inspect.signature(cls).parameters if isinstance(cls, type) else {}
    except (ImportError, TypeError, ValueError):
        params = {}
    return tuple(
        (p.name, p.default)
        for p in params.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    )


def torch_params(callee: str) -> list[str]:
    """Parameter names of ``nn.<callee>`` in order (``in_channels, out_channels, ...``)."""
    return [name for name, _ in _signature(callee)]


def _is_simple(value: Any) -> bool:
    return type(value) in (int, bool)


def _nn_calls(tree: ast.AST) -> list[tuple[ast.Call, tuple[tuple[str, Any], ...]]]:
    """Every ``nn.X(...)`` call in ``tree`` with the signature of ``nn.X``."""
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "nn"
        ):
            signature = _signature(func.attr)
            if signature:
                calls.append((node, signature))
    return calls


def fill_defaults(statement: str) -> str:
    """``statement`` with each ``nn.X`` call's integer/boolean defaults written as keywords
    and its keywords in signature order (the statement unchanged if it has no such call)."""
    tree = ast.parse(statement)
    calls = _nn_calls(tree)
    if not calls:
        return statement
    for call, signature in calls:
        order = {name: i for i, (name, _) in enumerate(signature)}
        if any(k.arg not in order for k in call.keywords):
            continue  # **kwargs or a name torch does not know: leave the call as it is
        given = {k.arg for k in call.keywords} | {n for n, _ in signature[: len(call.args)]}
        for name, default in signature[len(call.args) :]:
            if name not in given and _is_simple(default):
                call.keywords.append(ast.keyword(arg=name, value=ast.Constant(default)))
        call.keywords.sort(key=lambda k: order[str(k.arg)])
    return ast.unparse(tree)


def drop_defaults(statement: str) -> str:
    """``statement`` without the keywords of ``nn.X`` calls that are a literal equal to
    torch's default (the inverse of :func:`fill_defaults` on what layers write)."""
    tree = ast.parse(statement)
    calls = _nn_calls(tree)
    changed = False
    for call, signature in calls:
        defaults = dict(signature)
        kept = [k for k in call.keywords if not _is_default(k, defaults)]
        changed = changed or len(kept) != len(call.keywords)
        call.keywords = kept
    return ast.unparse(tree) if changed else statement


def _is_default(keyword: ast.keyword, defaults: dict[str, Any]) -> bool:
    if keyword.arg not in defaults:
        return False
    try:
        value = ast.literal_eval(keyword.value)
    except ValueError:
        return False  # a parameter name, not a literal
    default = defaults[keyword.arg]
    return _is_simple(default) and type(value) is type(default) and value == default
