"""Lay out generated statements the way ``ruff format`` (default settings) would.

The generated file must pass ``ruff format --check`` with its default line length (88)
without running ruff. Statements here are simple (an assignment of a call, a sum, a
return of names), so this covers exactly those shapes: a statement that fits stays on one
line; a trailing comment that would push it past the limit moves to its own line above;
a statement that is still too long is split at its outer brackets, ruff's way.
"""

from __future__ import annotations

import ast
import io
import tokenize

__all__ = ["LINE_LENGTH", "format_statement", "prefer_double_quotes"]

LINE_LENGTH = 88


def format_statement(code: str, indent: int, comment: str | None = None) -> list[str]:
    """Lines (with indentation) for one statement and its optional trailing comment.

    >>> format_statement("x = self.fc(x)", 8, "(B, 10)  lenet.yaml:12")
    ['        x = self.fc(x)  # (B, 10)  lenet.yaml:12']
    """
    code = prefer_double_quotes(code)
    pad = " " * indent
    if comment is not None:
        line = f"{pad}{code}  # {comment}"
        if len(line) <= LINE_LENGTH:
            return [line]
        return [f"{pad}# {comment}", *format_statement(code, indent)]
    if len(pad) + len(code) <= LINE_LENGTH:
        return [pad + code]
    return _split(code, indent)


def prefer_double_quotes(code: str) -> str:
    """``'reflect'`` -> ``"reflect"``: ruff's quote style, for the string literals of a
    one-line statement that ``repr()`` wrote with single quotes and that hold no double
    quote or backslash."""
    if "\n" in code or "'" not in code:
        return code
    strings = [
        tok
        for tok in tokenize.generate_tokens(io.StringIO(code).readline)
        if tok.type == tokenize.STRING
    ]
    for tok in reversed(strings):
        body = tok.string[1:-1]
        if tok.string[0] != "'" or tok.string[:3] == "'''" or '"' in body or "\\" in body:
            continue
        code = f'{code[: tok.start[1]]}"{body}"{code[tok.end[1] :]}'
    return code


def _split(code: str, indent: int) -> list[str]:
    """Split a too-long statement the way ruff's "best fit" does.

    In order: split the value's own brackets if every line then fits; else wrap the value
    in parentheses if every line then fits; else split a tuple target (``a, _ =``) and the
    value's own brackets; else split the value's own brackets anyway.
    """
    tree = ast.parse(code).body[0]
    value = tree.value if isinstance(tree, (ast.Assign, ast.Return, ast.Expr)) else None
    if value is None:
        return [" " * indent + code]
    if isinstance(value, ast.Tuple) and code[value.col_offset] != "(":  # return a, b
        return _bracketed(
            code, f"{code[: value.col_offset]}(", value.elts, ")", indent, collection=True
        )
    head, pad = code[: value.col_offset], " " * indent
    own = _expr_lines(code, value, indent, head, "")
    if _fits(own) or not head or isinstance(value, ast.BinOp):
        return own
    wrapped = [f"{pad}{head}(", *_expr_lines(code, value, indent + 4, "", ""), f"{pad})"]
    if _fits(wrapped):
        return wrapped
    target = tree.targets[0] if isinstance(tree, ast.Assign) else None
    if isinstance(target, ast.Tuple) and code[target.col_offset] != "(":
        items = [f"{pad}    {_seg(code, elt)}," for elt in target.elts]
        return [f"{pad}(", *items, *_expr_lines(code, value, indent, ") = ", "")]
    return own


def _fits(lines: list[str]) -> bool:
    return all(len(line) <= LINE_LENGTH for line in lines)


def _seg(code: str, node: ast.AST) -> str:
    return ast.get_source_segment(code, node) or ""


def _expr_lines(code: str, node: ast.expr, indent: int, head: str, tail: str) -> list[str]:
    """Lines for ``head + node + tail`` at ``indent``, splitting the node's own brackets
    (a call, a list or a parenthesised tuple) or its operator chain when it is too long."""
    pad = " " * indent
    text = f"{head}{_seg(code, node)}{tail}"
    if len(pad) + len(text) <= LINE_LENGTH:
        return [pad + text]
    if isinstance(node, ast.Call) and (node.args or node.keywords):
        parts: list[tuple[str, ast.expr]] = [("", arg) for arg in node.args]
        parts += [(f"{k.arg}=" if k.arg else "**", k.value) for k in node.keywords]
        return _bracketed(code, f"{head}{_seg(code, node.func)}(", parts, f"){tail}", indent)
    if isinstance(node, ast.List) or (isinstance(node, ast.Tuple) and code[node.col_offset] == "("):
        brackets = "[]" if isinstance(node, ast.List) else "()"
        return _bracketed(
            code, head + brackets[0], node.elts, brackets[1] + tail, indent, collection=True
        )
    if isinstance(node, ast.BinOp):
        return _operator_chain(code, node, indent, head, tail)
    if isinstance(node, ast.Subscript):  # x[:, -1, :4] -> x[ / :, -1, :4 / ]
        opening = f"{pad}{head}{_seg(code, node.value)}["
        return [opening, " " * (indent + 4) + _seg(code, node.slice), f"{pad}]{tail}"]
    return [pad + text]


def _bracketed(
    code: str, opening: str, parts: list, closing: str, indent: int, collection: bool = False
) -> list[str]:
    """``f(`` + items + ``)``: the items on one line if they fit, else one per line with a
    trailing comma (ruff's "magic trailing comma" layout), each split again if needed.
    A split collection literal (list, tuple) always has one item per line."""
    pad, inner = " " * indent, " " * (indent + 4)
    parts = [p if isinstance(p, tuple) else ("", p) for p in parts]
    joined = ", ".join(f"{prefix}{_seg(code, node)}" for prefix, node in parts)
    if len(inner) + len(joined) <= LINE_LENGTH and not collection:
        return [pad + opening, inner + joined, pad + closing]
    if len(parts) == 1 and not collection:
        prefix, node = parts[0]
        return [pad + opening, *_expr_lines(code, node, indent + 4, prefix, ""), pad + closing]
    lines = [pad + opening]
    for prefix, node in parts:
        lines += _expr_lines(code, node, indent + 4, prefix, ",")
    return [*lines, pad + closing]


def _operator_chain(code: str, value: ast.BinOp, indent: int, head: str, tail: str) -> list[str]:
    """``x = (a + b + c)`` split one operand per line, operators leading."""
    pad, inner = " " * indent, " " * (indent + 4)
    body = _seg(code, value)
    if len(inner) + len(body) <= LINE_LENGTH:
        return [f"{pad}{head}(", inner + body, f"{pad}){tail}"]
    operands, ops = [], []
    node: ast.expr = value
    while isinstance(node, ast.BinOp):
        operands.append(_seg(code, node.right))
        ops.append(code[node.left.end_col_offset : node.right.col_offset].strip())
        node = node.left
    operands.append(_seg(code, node))
    operands.reverse()
    ops.reverse()
    lines = [f"{pad}{head}(", inner + operands[0]]
    lines += [f"{inner}{op} {operand}" for op, operand in zip(ops, operands[1:], strict=True)]
    return [*lines, f"{pad}){tail}"]
