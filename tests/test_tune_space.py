"""The --search parser and the check of the search space against the spec (no training)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tune_helpers import write_tiny

from specc.errors import RunError, SpecErrors
from specc.spec.validate import load_spec
from specc.tune.space import Dist, check_space, parse_search, set_text


@pytest.mark.parametrize(
    ("text", "kind", "args"),
    [
        ("optimizer.lr=loguniform(1e-4,1e-1)", "loguniform", (1e-4, 0.1)),
        ("optimizer.lr=uniform(0.01, 0.5)", "uniform", (0.01, 0.5)),
        ("data.batch_size=int(8,64)", "int", (8, 64)),
        ("model.layers.0.out_features=choice(16,32,64)", "choice", (16, 32, 64)),
        ("optimizer.type=choice(adam, sgd)", "choice", ("adam", "sgd")),
        ("train.deterministic=choice(true,false)", "choice", (True, False)),
    ],
)
def test_forms_parse_to_their_values(text, kind, args) -> None:
    search = parse_search(text)
    assert search.key == text.partition("=")[0]
    assert search.dist == Dist(kind, args)
    assert all(type(a) is type(b) for a, b in zip(search.dist.args, args, strict=True))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("optimizer.lr", "expected key.path=DIST"),
        ("=uniform(0,1)", "expected key.path=DIST"),
        ("optimizer..lr=uniform(0,1)", "expected key.path=DIST"),
        ("optimizer.lr=logunifrom(1e-4,1e-1)", "did you mean 'loguniform'"),
        ("optimizer.lr=__import__('os')", "unknown distribution '__import__'"),
        ("optimizer.lr=0.01", "is not a distribution"),
        ("optimizer.lr=uniform(1)", "takes two bounds"),
        ("optimizer.lr=uniform(0.5,0.1)", "needs a < b"),
        ("optimizer.lr=loguniform(0,1)", "needs 0 < a"),
        ("optimizer.lr=uniform(a,1)", "needs a finite number"),
        ("data.batch_size=int(1.5,9)", "needs an integer"),
        ("optimizer.lr=choice()", "one or more distinct values"),
        ("optimizer.lr=choice(1,1)", "one or more distinct values"),
        ("optimizer.lr=choice([1],2)", "is not a plain value"),
    ],
)
def test_malformed_options_name_the_option(text, words) -> None:
    with pytest.raises(RunError) as caught:
        parse_search(text)
    assert caught.value.exit_code == 2
    assert f"--search {text}" in str(caught.value)
    assert words in str(caught.value)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_is_a_clear_error(text) -> None:
    try:
        search = parse_search("optimizer.lr=" + text)
    except RunError as exc:
        assert exc.exit_code == 2 and "--search optimizer.lr=" in str(exc)
    else:
        assert search.dist.kind in ("loguniform", "uniform", "int", "choice")


def test_set_text_keeps_the_type_through_yaml() -> None:
    import yaml

    for value in (1e-05, 0.5, 3, "adam", True):
        key, _, text = set_text("a.b", value).partition("=")
        assert key == "a.b" and yaml.safe_load(text) == value
        assert type(yaml.safe_load(text)) is type(value)


def test_unknown_key_is_located_and_names_the_option(tmp_path) -> None:
    spec = load_spec(write_tiny(tmp_path))
    with pytest.raises(SpecErrors) as caught:
        check_space(spec, ["optimizer.lrr=uniform(0.1,0.2)"])
    error = caught.value.errors[0]
    assert error.message.startswith("--search optimizer.lrr=uniform(0.1,0.2): ")
    assert (error.line, error.code) == (11, "E101")  # the optimizer line of TINY


def test_a_bound_the_spec_rejects_is_located(tmp_path) -> None:
    spec = load_spec(write_tiny(tmp_path))
    with pytest.raises(SpecErrors) as caught:
        check_space(spec, ["model.layers.0.out_features=int(0,8)"])
    error = caught.value.errors[0]
    assert "--search model.layers.0.out_features=int(0,8)" in error.message
    assert "(value 0)" in error.message
    assert (error.line, error.code) == (7, "E106")  # the first layer


def test_a_key_that_is_not_a_path_is_an_option_error(tmp_path) -> None:
    spec = load_spec(write_tiny(tmp_path))
    with pytest.raises(
        RunError,
        match=r"--search model\.layers\.9\.out_features=int\(2,8\): "
        r"'9' is not an index",
    ):
        check_space(spec, ["model.layers.9.out_features=int(2,8)"])
    with pytest.raises(RunError, match="more than once"):
        check_space(spec, ["optimizer.lr=uniform(0.1,0.2)", "optimizer.lr=uniform(0.2,0.3)"])
