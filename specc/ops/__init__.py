"""The closed registry of layer types, keyed by the ``type`` discriminator.

Each op module defines pydantic layer classes with a ``type: Literal[...]`` field; the
registry is built from the explicit list of modules below, never from user text.
"""

from __future__ import annotations

import typing

from specc.ops import (
    activation,
    attention,
    conv,
    dense,
    dropout,
    embedding,
    index,
    merge,
    norm,
    parameter,
    pool,
    recurrent,
    reduce,
    reshape,
    sampling,
    shape,
)
from specc.ops.base import Inferred, Layer, ShapeError

__all__ = ["LAYER_TYPES", "Inferred", "Layer", "ShapeError", "layer_classes"]

_MODULES = (
    dense,
    conv,
    pool,
    sampling,
    reshape,
    shape,
    index,
    reduce,
    activation,
    norm,
    dropout,
    embedding,
    recurrent,
    attention,
    merge,
    parameter,
)


def _type_of(cls: type[Layer]) -> str | None:
    field = cls.model_fields.get("type")
    annotation = None if field is None else field.annotation
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)[0]
    return None


def layer_classes() -> dict[str, type[Layer]]:
    """Map every layer ``type`` string to its class."""
    registry: dict[str, type[Layer]] = {}
    for module in _MODULES:
        for value in vars(module).values():
            ours = isinstance(value, type) and value.__module__ == module.__name__
            if ours and issubclass(value, Layer):
                kind = _type_of(value)
                if kind is not None:
                    registry[kind] = value
    return registry


LAYER_TYPES: dict[str, type[Layer]] = layer_classes()
