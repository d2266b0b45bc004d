"""The block language's expression grammar: integer arithmetic and conditions over params."""

from __future__ import annotations

import pytest

from specc.spec.expr import ExprError, evaluate, params_of, parse

ENV = {"in": 24, "t": 6, "c": 10, "stride": 2, "flag": True}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("$in * $t", 144),
        ("$c // 4", 2),
        ("($c + 1) * 2", 22),
        ("$c + 1 * 2", 12),
        ("$c - 3 - 2", 5),
        ("-$c + 1", -9),
        ("$stride != 1 or $in != $c", True),
        ("$stride == 1 and $flag", False),
        ("not $flag", False),
        ("$flag", True),
        ("$in // $t >= 4", True),
        ("$c < 10", False),
        ("7", 7),
        ("true", True),
    ],
)
def test_expressions_evaluate_with_usual_precedence(text: str, value) -> None:
    assert evaluate(parse(text), ENV.__getitem__) == value


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("$in * * 2", "'*'"),
        ("$in +", "the end"),
        ("($in + 1", "the end"),
        ("3 x", "'x'"),
        ("$in ** 2", "'*'"),
        ("__import__('os')", "'__import__'"),
        ("1; 2", "';'"),
    ],
)
def test_malformed_expressions_name_the_bad_token(text: str, token: str) -> None:
    with pytest.raises(ExprError, match=f"unexpected {token}"):
        parse(text)


def test_arithmetic_checks_types_and_division() -> None:
    with pytest.raises(ExprError, match="division by zero"):
        evaluate(parse("$c // ($t - 6)"), ENV.__getitem__)
    with pytest.raises(ExprError, match="needs integers"):
        evaluate(parse("$flag * 2"), ENV.__getitem__)
    assert params_of(parse("($in + $t) * $in")) == ["in", "t", "in"]
