"""Translate pydantic's validation errors into located, human messages.

Pydantic reports a ``loc`` that mixes data keys with union member tags; :func:`translate`
maps each error to the key path of the data it is about, merges the several errors a
non-discriminated union produces for one value into one, and words the message the way a
user thinks about the spec (unknown argument, did you mean, expected range).
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from specc.codes import schema_code
from specc.errors import did_you_mean
from specc.spec.type_hints import layer_type_hint

__all__ = ["translate"]

KeyPath = tuple[str | int, ...]  # keys and list indices from the spec's root
Translated = tuple[KeyPath, str, str, bool]  # (key path, message, code, point at the key)

KINDS = {
    ("model", "layers"): "layer type",
    ("loss",): "loss",
    ("optimizer",): "optimizer",
    ("scheduler",): "scheduler",
    ("data", "source"): "data source",
    ("data", "preprocess"): "preprocessing step",
    ("data", "transforms"): "transform",
}

# Errors of specc's own validators: their messages already show the value.
_OWN_MESSAGES = ("value_error", "layer_name", "unknown_device")

# Constraint errors say more than "wrong type" errors when a union rejects a value.
_TYPE_ERRORS = ("_type", "_parsing", "union_tag", "is_instance", "literal_error")


def translate(exc: ValidationError, data: Any) -> list[Translated]:
    """Turn a ValidationError into ``(key path, message, code, point at the key)`` tuples;
    the code follows the pydantic error type (:func:`specc.codes.schema_code`)."""
    from specc.spec.schema import Spec

    grouped: dict[tuple[KeyPath, bool], list[ErrorDetails]] = {}
    for error in exc.errors(include_url=False):
        path = _data_path(error["loc"], data)
        grouped.setdefault((path, error["type"] == "extra_forbidden"), []).append(error)
    results: list[Translated] = []
    for (path, _), errors in grouped.items():
        error = _best(errors)
        message, at_key = _message(error, path, data, Spec)
        if error["type"] == "union_tag_invalid" and isinstance(_at(data, path), dict):
            path = (*path, "type")  # point at the misspelt type name itself
        results.append((path, message, schema_code(error["type"]), at_key))
    return _drop_explained_missing(results)


def _drop_explained_missing(results: list[Translated]) -> list[Translated]:
    """Drop "missing 'out_features'" when "unknown 'out_feature' (did you mean
    'out_features'?)" in the same mapping already says it."""
    suggested = {
        (path[:-1], message.split("did you mean '")[1].split("'")[0])
        for path, message, code, _ in results
        if code == "E101" and "did you mean '" in message
    }
    return [r for r in results if not (r[2] == "E102" and (r[0][:-1], r[0][-1]) in suggested)]


def _at(data: Any, path: KeyPath) -> Any:
    """The value at ``path``, or None where the path does not exist."""
    try:
        for elem in path:
            data = data[elem]
    except (KeyError, IndexError, TypeError):
        return None
    return data


def _best(errors: list[ErrorDetails]) -> ErrorDetails:
    """The error that explains best why a value failed: a constraint over "wrong type"
    errors; the several "wrong type" errors of a union merged into one."""
    specific = [e for e in errors if not any(t in e["type"] for t in _TYPE_ERRORS)]
    if specific:
        return specific[0]
    if len(errors) > 1 and all(e["type"].endswith(("_type", "_parsing")) for e in errors):
        merged = errors[0].copy()
        merged["type"] = "merged_union"
        return merged
    return errors[0]


def _data_path(loc: KeyPath, data: Any) -> KeyPath:
    """Keep the loc elements that are real keys/indices of ``data``."""
    path: list[str | int] = []
    node = data
    entered = True  # just stepped into ``node``: a union tag may come next in ``loc``
    for i, elem in enumerate(loc):
        tag = entered and isinstance(node, dict) and node.get("type") == elem
        entered = False
        if tag and i + 1 < len(loc):
            continue  # a union member's tag (``{type: block, block: ...}``), not a key
        if isinstance(node, dict) and elem in node:
            node, entered = node[elem], True
        elif isinstance(node, list) and isinstance(elem, int) and 0 <= elem < len(node):
            node, entered = node[elem], True
        elif isinstance(node, dict) and isinstance(elem, str) and elem == loc[-1]:
            path.append(elem)  # a missing or extra key: keep it so we can name it
            break
        else:
            continue
        path.append(elem)
    return tuple(path)


def _label(path: KeyPath, data: Any) -> str:
    """``"linear 'fc1': "`` for a path inside ``model.layers[i]``, else ``""``."""
    if len(path) >= 3 and path[:2] == ("model", "layers") and isinstance(path[2], int):
        layers = data.get("model", {}).get("layers", []) if isinstance(data, dict) else []
        if 0 <= path[2] < len(layers) and isinstance(layers[path[2]], dict):
            layer = layers[path[2]]
            kind, name = layer.get("type"), layer.get("name")
            if isinstance(kind, str) and isinstance(name, str):
                return f"{kind} '{name}': "
    return ""


def _key_name(path: KeyPath) -> str:
    names = [str(p) for p in path if isinstance(p, str)]
    if path and isinstance(path[-1], int) and names:
        return f"{names[-1]}[{path[-1]}]"
    return names[-1] if names else "spec"


def _in_layer(path: KeyPath) -> bool:
    return len(path) >= 3 and path[:2] == ("model", "layers")


def _message(
    error: ErrorDetails, path: KeyPath, data: Any, root: type[BaseModel]
) -> tuple[str, bool]:
    """The user's message for one error, and whether it points at the key (not its value)."""
    kind = error["type"]
    label = _label(path, data)
    key = _key_name(path)
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "extra_forbidden":
        fields = [f for f in _fields_at(root, error["loc"][:-1]) if f != "type"]
        what = "argument" if _in_layer(path) else "key"
        hint = did_you_mean(key, fields)
        known = f"; valid: {', '.join(fields)}" if not hint and fields else ""
        return f"{label}unknown {what} '{key}'{hint}{known}", True
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _tag_message(kind, ctx, path, _tags_at(root, error["loc"])), False
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"{label}{key}: expected a mapping (key: value lines), got {_kind(value)}", False
    if kind == "missing":
        what = "argument" if len(path) >= 4 and _in_layer(path) else "key"
        where = ".".join(str(p) for p in path[:-1])
        where = f" in {where}" if where and not label else ""
        return f"{label}missing required {what} '{key}'{where}", False
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        choices = [c.strip(" '\"") for c in expected.replace(" or ", ",").split(",")]
        hint = did_you_mean(str(value), [c for c in choices if c])
        return f"{label}{key}: unknown value {value!r}{hint}; expected {expected}", True
    if kind == "merged_union":
        return f"{label}{key}: {value!r} is not a valid value here", False
    text = error["msg"]
    text = text.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    text = text[0].lower() + text[1:] if text else text
    shown = "" if isinstance(value, (dict, list)) or kind in _OWN_MESSAGES else f", got {value!r}"
    return f"{label}{key}: {text}{shown}", False


def _kind(value: Any) -> str:
    names = {
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "nothing",
    }
    return names.get(type(value), type(value).__name__)


def _tags_at(root: type[BaseModel], loc: KeyPath) -> list[str]:
    """The ``type`` values of the discriminated union that ``loc`` points at."""
    annotation: Any = root
    for elem in loc:
        annotation = _step(annotation, elem)
    tags = []
    for member in _members(annotation):
        field = getattr(member, "model_fields", {}).get("type")
        if field is not None:
            tags += [t for t in typing.get_args(field.annotation) if isinstance(t, str)]
    return tags


def _tag_message(kind: str, ctx: dict[str, Any], path: KeyPath, tags: list[str]) -> str:
    what = "type"
    for prefix, name in KINDS.items():
        if path[: len(prefix)] == prefix:
            what = name
    expected = tags or [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
    if kind == "union_tag_not_found":
        noun = what.removesuffix(" type")
        noun = "layer" if noun == "type" else noun
        return f"this {noun} has no 'type'; expected one of: {', '.join(expected)}"
    tag = ctx.get("tag")
    if what == "layer type":
        hint = layer_type_hint(str(tag), expected)
    else:
        hint = did_you_mean(str(tag), expected)
    listing = "" if hint else f"; expected one of: {', '.join(expected)}"
    return f"unknown {what} '{tag}'{hint}{listing}"


def _fields_at(root: type[BaseModel], loc: KeyPath) -> list[str]:
    """Field names of the pydantic model that ``loc`` points into."""
    annotation: Any = root
    for elem in loc:
        annotation = _step(annotation, elem)
    models = [m for m in _members(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]
    return list(models[0].model_fields) if len(models) == 1 else []


def _members(annotation: Any) -> Iterator[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _members(typing.get_args(annotation)[0])
    elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        for arg in typing.get_args(annotation):
            yield from _members(arg)
    else:
        yield annotation


def _step(annotation: Any, elem: Any) -> Any:
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            if elem in member.model_fields:
                return member.model_fields[elem].annotation
            tag = member.model_fields.get("type")
            if tag is not None and elem in typing.get_args(tag.annotation):
                return member
        origin = typing.get_origin(member)
        if origin is list and isinstance(elem, int):
            return typing.get_args(member)[0]
        if origin is dict and isinstance(elem, str):
            return typing.get_args(member)[1]
    return annotation
