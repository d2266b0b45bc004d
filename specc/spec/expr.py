"""Integer arithmetic and conditions over block parameters: ``$in * $t``, ``$c // 4``,
``$stride != 1 or $in != $out``.

A small hand-written tokenizer and recursive-descent parser (never ``eval``)::

    expr   := and ('or' and)*
    and    := not ('and' not)*
    not    := 'not' not | cmp
    cmp    := arith (('=='|'!='|'<'|'>'|'<='|'>=') arith)?
    arith  := term (('+'|'-') term)*
    term   := unary (('*'|'//') unary)*
    unary  := '-' unary | atom
    atom   := INT | '$'NAME | 'true' | 'false' | '(' expr ')'

Trees are tuples: ``("int", 3)``, ``("param", "in")``, ``("op", "*", a, b)``,
``("neg", a)``, ``("not", a)``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

__all__ = ["ExprError", "evaluate", "params_of", "parse"]

_TOKEN = re.compile(
    r"\s*(?:(\d+)|\$([A-Za-z_][A-Za-z0-9_]*)|(//|==|!=|<=|>=|[-+*()<>])"
    r"|([A-Za-z_]+))"
)
_COMPARE = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}
_CMP = tuple(_COMPARE)
#: an expression's most tokens and an integer's most digits: real ones are a handful
#: (``$in * $t // 4``), and the parser recurses once per level of nesting
MAX_TOKENS = 64
MAX_DIGITS = 18


class ExprError(ValueError):
    """A malformed expression, or one that names an unknown parameter."""


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            bad = text[pos:].strip()[:1]
            raise ExprError(f"unexpected '{bad}' in '{text}'")
        number, param, op, word = match.groups()
        if len(out) == MAX_TOKENS:
            raise ExprError(f"'{text[:40]}...' is longer than {MAX_TOKENS} tokens")
        if number is not None and len(number) > MAX_DIGITS:
            raise ExprError(
                f"the number {number[:20]}... in an expression has more than {MAX_DIGITS} digits"
            )
        if number is not None:
            out.append(("int", int(number)))
        elif param is not None:
            out.append(("param", param))
        elif op is not None:
            out.append(("op", op))
        elif word in ("and", "or", "not", "true", "false"):
            out.append(("word", word))
        else:
            raise ExprError(f"unexpected '{word}' in '{text}' (parameters are written $name)")
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def accept(self, *values: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] in ("op", "word") and token[1] in values:
            self.pos += 1
            return token[1]
        return None

    def fail(self) -> ExprError:
        token = self.peek()
        what = "the end" if token is None else f"'{token[1]}'"
        return ExprError(f"unexpected {what} in '{self.text}'")

    def binary(self, ops: tuple[str, ...], operand: Callable[[], tuple]) -> tuple:
        left = operand()
        while (op := self.accept(*ops)) is not None:
            left = ("op", op, left, operand())
        return left

    def expr(self) -> tuple:
        return self.binary(("or",), lambda: self.binary(("and",), self.negation))

    def negation(self) -> tuple:
        if self.accept("not"):
            return ("not", self.negation())
        left = self.arith()
        op = self.accept(*_CMP)
        return ("op", op, left, self.arith()) if op else left

    def arith(self) -> tuple:
        return self.binary(("+", "-"), lambda: self.binary(("*", "//"), self.unary))

    def unary(self) -> tuple:
        if self.accept("-"):
            return ("neg", self.unary())
        token = self.peek()
        if token is None:
            raise self.fail()
        if token[0] in ("int", "param"):
            self.pos += 1
            return token
        if token == ("word", "true") or token == ("word", "false"):
            self.pos += 1
            return ("int", token[1] == "true")
        if self.accept("("):
            inner = self.expr()
            if not self.accept(")"):
                raise self.fail()
            return inner
        raise self.fail()


def parse(text: str) -> tuple:
    """Parse expression text into a tree.

    Raises:
        ExprError: naming the bad token.
    """
    parser = _Parser(text)
    tree = parser.expr()
    if parser.peek() is not None:
        raise parser.fail()
    return tree


def params_of(tree: tuple) -> list[str]:
    """The ``$names`` a tree reads, in order."""
    if tree[0] == "param":
        return [tree[1]]
    return [name for part in tree[1:] if isinstance(part, tuple) for name in params_of(part)]


def evaluate(tree: tuple, lookup: Callable[[str], Any]) -> Any:
    """The value of a tree; ``lookup(name)`` gives a parameter's value.

    Raises:
        ExprError: arithmetic on a non-integer, or division by zero.
    """
    kind = tree[0]
    if kind == "int":
        return tree[1]
    if kind == "param":
        return lookup(tree[1])
    if kind == "neg":
        return -_int(evaluate(tree[1], lookup), "-")
    if kind == "not":
        return not evaluate(tree[1], lookup)
    op, left, right = tree[1], evaluate(tree[2], lookup), None
    if op == "or":
        return left or evaluate(tree[3], lookup)
    if op == "and":
        return left and evaluate(tree[3], lookup)
    right = evaluate(tree[3], lookup)
    if op in _CMP:
        if op not in ("==", "!="):
            _int(left, op), _int(right, op)
        return _COMPARE[op](left, right)  # only the one comparison: a list == 2 is False
    a, b = _int(left, op), _int(right, op)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise ExprError("division by zero")
    return a // b


def _int(value: Any, op: str) -> int:
    if type(value) is not int:
        raise ExprError(f"'{op}' needs integers, got {value!r}")
    return value
