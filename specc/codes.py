"""The stable error codes: every :class:`~specc.errors.SpecError` carries one.

A code names the kind of mistake, the way ruff's rule codes do, and stays the same when a
message is reworded; tests and de-duplication compare codes, not message text. The README's
"Error codes" table lists exactly these codes (tests/test_error_codes.py checks it).

Families: ``E0xx`` reading and YAML, ``E1xx`` the schema (pydantic, by error type),
``E2xx`` unknown or duplicate names, ``E3xx`` blocks and expressions, ``E4xx`` shapes and
whole-model checks, ``E5xx`` data, ``E6xx`` training and ``train.py``, ``E9xx`` limits.
"""

from __future__ import annotations

__all__ = ["CODES", "schema_code"]

CODES: dict[str, str] = {
    # reading and YAML
    "E001": "the spec file cannot be read",
    "E002": "invalid YAML syntax",
    "E003": "invalid YAML value",
    "E004": "duplicate key",
    "E005": "YAML feature not allowed",
    "E006": "mapping key is not a name",
    "E007": "empty spec",
    "E008": "top level is not a mapping",
    # the schema (pydantic)
    "E101": "unknown key or argument",
    "E102": "missing required key",
    "E103": "expected a mapping",
    "E104": "unknown value",
    "E105": "wrong type",
    "E106": "value out of range",
    "E107": "invalid value",
    # names
    "E201": "unknown type",
    "E202": "missing type",
    "E203": "unknown layer input",
    "E204": "unknown output layer",
    "E205": "duplicate layer name",
    "E206": "unknown block",
    "E207": "invalid layer name",
    # blocks and expressions
    "E301": "invalid expression",
    "E302": "unknown block parameter",
    "E303": "missing block argument",
    "E304": "circular block",
    "E305": "invalid block use",
    "E306": "invalid condition",
    # shapes and whole-model checks
    "E401": "impossible shape or configuration",
    "E402": "wrong number of inputs",
    "E403": "invalid model outputs",
    "E404": "misleading wiring",
    "E405": "loss does not fit the output layer",
    "E406": "scheduler does not fit the optimizer",
    # data
    "E501": "invalid source data",
    "E502": "unknown column or array",
    "E503": "data source unavailable",
    "E504": "invalid image folder",
    "E505": "target does not fit the loss",
    "E506": "invalid split",
    "E507": "preprocessing failed",
    "E508": "transform does not fit the samples",
    "E509": "model does not fit the data",
    # training and train.py
    "E601": "section missing for training",
    "E602": "several model outputs",
    "E603": "metric does not fit the task",
    "E604": "monitored metric not computed",
    "E605": "not supported by train.py",
    # limits
    "E901": "nested too deep",
    "E902": "too many values",
    "E903": "too many layers",
    "E904": "output too large",
}

_RANGE = ("greater_than", "less_than", "too_short", "too_long", "multiple_of", "finite_number")


def schema_code(error_type: str) -> str:
    """The code of a pydantic error type (``extra_forbidden`` -> ``E101``). Besides pydantic's
    own types: ``merged_union`` (no member of a union accepts the value), and the types of
    specc's validators that raise ``PydanticCustomError`` (``layer_name``, ``unknown_device``)."""
    if error_type == "extra_forbidden":
        return "E101"
    if error_type == "missing":
        return "E102"
    if error_type in ("model_type", "dict_type", "model_attributes_type"):
        return "E103"
    if error_type in ("literal_error", "enum", "unknown_device"):
        return "E104"
    if error_type == "union_tag_invalid":
        return "E201"
    if error_type == "union_tag_not_found":
        return "E202"
    if error_type == "layer_name":
        return "E207"
    if error_type.startswith(_RANGE):
        return "E106"
    if error_type.endswith(("_type", "_parsing")) or error_type == "merged_union":
        return "E105"
    return "E107"
