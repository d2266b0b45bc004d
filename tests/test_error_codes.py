"""Stable error codes: one registry (specc/codes.py), every error carries a registered code,
the README's table lists exactly the registry, and reports show the code the way ruff does."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from specc.codes import CODES, schema_code
from specc.errors import SpecError, SpecErrors
from specc.spec.validate import check_file, check_text
from specc.train.overrides import apply_overrides
from specc.train.plan import make_plan, require_sections

ROOT = Path(__file__).resolve().parents[1]
HEAD = "version: 1\nname: t\nmodel:\n  input: {shape: [4]}\n  layers:\n"


def _readme_table() -> dict[str, str]:
    """code -> title, from the rows of the README's "Error codes" table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Error codes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(E\d{3})` \| ([^|]+) \| `.+` \|$", section, flags=re.M)
    return {code: title.strip() for code, title in rows}


def test_the_readme_table_lists_exactly_the_registry():
    table = _readme_table()
    assert list(table) == list(CODES)  # the same codes, in the same order
    assert table == CODES


def test_every_registered_code_has_a_site_that_produces_it():
    sources = [p for p in (ROOT / "specc").rglob("*.py") if p.name != "codes.py"]
    text = "\n".join(p.read_text(encoding="utf-8") for p in sources)
    text += inspect.getsource(schema_code)
    used = set(re.findall(r'"(E\d{3})"', text))
    assert used == set(CODES)


def test_codes_are_unique_and_well_formed():
    assert all(re.fullmatch(r"E\d{3}", code) for code in CODES)
    assert len(set(CODES.values())) == len(CODES)


def test_a_spec_error_needs_a_registered_code():
    with pytest.raises(TypeError):
        SpecError("a.yaml", 1, 1, "no code")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="unregistered error code 'E999'"):
        SpecError("a.yaml", 1, 1, "bad code", code="E999")


def test_the_header_shows_the_code_as_ruff_does():
    located = SpecError("a.yaml", 3, 5, "unknown key 'x'", code="E101")
    assert located.header() == "a.yaml:3:5: error[E101]: unknown key 'x'"
    unlocated = SpecError("a.yaml", 0, 0, "no such file", code="E001")
    assert unlocated.header() == "a.yaml: error[E001]: no such file"


def test_dedupe_keeps_distinct_errors_that_share_a_code_and_a_position():
    def err(message: str, code: str = "E102") -> SpecError:
        return SpecError("a.yaml", 2, 1, message, code=code)

    report = SpecErrors(
        [err("missing 'a'"), err("missing 'b'"), err("missing 'a'"), err("missing 'a'", "E107")]
    )
    assert [(e.code, e.message) for e in report.errors] == [
        ("E102", "missing 'a'"),
        ("E102", "missing 'b'"),
        ("E107", "missing 'a'"),
    ]


@pytest.mark.parametrize(
    "error_type, code",
    [
        ("extra_forbidden", "E101"),
        ("missing", "E102"),
        ("model_type", "E103"),
        ("dict_type", "E103"),
        ("literal_error", "E104"),
        ("int_parsing", "E105"),
        ("string_type", "E105"),
        ("merged_union", "E105"),
        ("greater_than_equal", "E106"),
        ("less_than", "E106"),
        ("too_short", "E106"),
        ("finite_number", "E106"),
        ("value_error", "E107"),
        ("union_tag_invalid", "E201"),
        ("union_tag_not_found", "E202"),
        ("layer_name", "E207"),
        ("unknown_device", "E104"),
    ],
)
def test_pydantic_error_types_map_to_codes(error_type: str, code: str):
    assert schema_code(error_type) == code


# Codes the error corpus (tests/test_errors_corpus.py) does not reach: (spec, line, col, code).
CASES = {
    "infinite_number": (HEAD + "    - {type: leakyrelu, negative_slope: .inf}\n", 6, 41, "E003"),
    "integer_key": (HEAD + "    - {1: relu}\n", 6, 8, "E006"),
    "add_of_one_input": (HEAD + "    - {type: add}\n", 6, 7, "E402"),
    "output_twice": (HEAD + "    - relu\n  outputs: [relu_1, relu_1]\n", 7, 12, "E403"),
    "conv1d_over_embedding": (
        "version: 1\nname: t\nmodel:\n  input: {shape: [16], dtype: int64}\n  layers:\n"
        "    - {type: embedding, num_embeddings: 9, embedding_dim: 8}\n"
        "    - {type: conv1d, out_channels: 2, kernel_size: 3}\n",
        7,
        7,
        "E404",
    ),
    "bad_name_of_a_block_use": (
        HEAD.replace("  layers:", "  blocks:\n    b: {layers: [relu]}\n  layers:")
        + "    - {type: block, block: b, name: class}\n",
        8,
        31,
        "E207",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_more_bad_specs_give_their_codes(name: str):
    text, line, col, code = CASES[name]
    _, errors = check_text(text, "bad.yaml")
    assert [(e.line, e.col, e.code) for e in errors] == [(line, col, code)], errors


def test_an_unreadable_spec_file_is_e001(tmp_path: Path):
    _, errors, _ = check_file(tmp_path / "missing.yaml")
    assert [(e.line, e.code) for e in errors] == [(0, "E001")]


def test_an_override_error_keeps_the_code_of_the_error_it_causes():
    spec, errors = check_text(HEAD + "    - relu\noptimizer: {type: adam, lr: 0.1}\n", "s.yaml")
    assert errors == []
    with pytest.raises(SpecErrors) as caught:
        apply_overrides(spec, ["optimizer.lr=-1", "optimizer.betaz=1"])
    got = [(e.code, e.message.split(":")[0]) for e in caught.value.errors]
    assert sorted(got) == [("E101", "--set optimizer.betaz=1"), ("E106", "--set optimizer.lr=-1")]


def test_training_plan_errors_have_their_codes():
    two_outputs = (
        HEAD + "    - {type: relu, name: a}\n    - {type: relu, name: b}\n  outputs: [a, b]\n"
    )
    spec, _ = check_text(two_outputs, "s.yaml")
    with pytest.raises(SpecErrors) as caught:
        require_sections(spec)
    assert [e.code for e in caught.value.errors] == ["E601"] * 4 + ["E602"]
    metrics = HEAD + "    - relu\ntrain: {epochs: 1, metrics: [accuracy], monitor: val_acc}\n"
    spec, _ = check_text(metrics, "s.yaml")
    with pytest.raises(SpecErrors) as caught:
        make_plan(spec, "regression", has_val=True)
    assert [(e.line, e.code) for e in caught.value.errors] == [(7, "E603"), (7, "E604")]
