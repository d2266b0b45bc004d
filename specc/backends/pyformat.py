"""Lay out generated statements the way ``ruff format`` (default settings) would.

The generated file must pass ``ruff format --check`` with its default line length (88)
without running ruff. Statements here are simple (an assignment of a call, a sum, a
return of names), so this covers exactly those shapes: a statement that fits stays on one
line; a trailing comment that would push it past the limit moves to its own line above;
a statement that is still too long is split at its outer brackets, ruff's way.
"""

from __future__ import annotations

import ast

__all__ = ["LINE_LENGTH", "format_statement"]

LINE_LENGTH = 88


def format_statement(code: str, indent: int, comment: str | None = None) -> list[str]:
    """Lines (with indentation) for one statement and its optional trailing comment.

    >>> format_statement("x = self.fc(x)", 8, "(B, 10)  lenet.yaml:12")
    ['        x = self.fc(x)  # (B, 10)  lenet.yaml:12']
    """
    pad = " " * indent
    if comment is not None:
        line = f"{pad}{code}  # {comment}"
        if len(line) <= LINE_LENGTH:
            return [line]
        return [f"{pad}# {comment}", *format_statement(code, indent)]
    if len(pad) + len(code) <= LINE_LENGTH:
        return [pad + code]
    return _split(code, indent)


def _split(code: str, indent: int) -> list[str]:
    """Split a too-long statement at its outermost right-hand brackets."""
    tree = ast.parse(code).body[0]
    value = tree.value if isinstance(tree, (ast.Assign, ast.Return, ast.Expr)) else None
    if value is None:
        return [" " * indent + code]
    head = code[: value.col_offset]
    if isinstance(value, ast.Call):
        func = ast.get_source_segment(code, value.func)
        parts = [ast.get_source_segment(code, a) for a in value.args]
        parts += [f"{k.arg}={ast.get_source_segment(code, k.value)}" if k.arg
                  else f"**{ast.get_source_segment(code, k.value)}" for k in value.keywords]
        return _bracketed(f"{head}{func}(", parts, ")", indent)
    if isinstance(value, ast.Tuple) and isinstance(tree, ast.Return):
        parts = [ast.get_source_segment(code, e) for e in value.elts]
        return _bracketed(f"{head}(", parts, ")", indent)
    if isinstance(value, ast.BinOp):
        return _operator_chain(head, code, value, indent)
    return [" " * indent + code]


def _bracketed(opening: str, parts: list[str], closing: str, indent: int) -> list[str]:
    """``f(`` + arguments + ``)``: the arguments on one line if they fit, else one each
    with a trailing comma (ruff's "magic trailing comma" layout)."""
    pad, inner = " " * indent, " " * (indent + 4)
    joined = ", ".join(parts)
    if len(inner) + len(joined) <= LINE_LENGTH:
        return [pad + opening, inner + joined, pad + closing]
    return [pad + opening, *(f"{inner}{part}," for part in parts), pad + closing]


def _operator_chain(head: str, code: str, value: ast.BinOp, indent: int) -> list[str]:
    """``x = (a + b + c)`` split one operand per line, operators leading."""
    pad, inner = " " * indent, " " * (indent + 4)
    body = ast.get_source_segment(code, value)
    if len(inner) + len(body) <= LINE_LENGTH:
        return [f"{pad}{head}(", inner + body, pad + ")"]
    operands, ops = [], []
    node: ast.expr = value
    while isinstance(node, ast.BinOp):
        operands.append(ast.get_source_segment(code, node.right))
        ops.append(code[node.left.end_col_offset : node.right.col_offset].strip())
        node = node.left
    operands.append(ast.get_source_segment(code, node))
    operands.reverse()
    ops.reverse()
    lines = [f"{pad}{head}(", inner + operands[0]]
    lines += [f"{inner}{op} {operand}" for op, operand in zip(ops, operands[1:], strict=True)]
    return [*lines, pad + ")"]
