"""The closed op registry matches the schema's layer union and the list of required layer types."""

from __future__ import annotations

import typing

from specc.ops import LAYER_TYPES
from specc.ops.base import Layer
from specc.spec.schema import ModelSpec

REQUIRED = {
    "linear",
    "conv1d",
    "conv2d",
    "maxpool1d",
    "maxpool2d",
    "avgpool1d",
    "avgpool2d",
    "adaptiveavgpool1d",
    "adaptiveavgpool2d",
    "batchnorm1d",
    "batchnorm2d",
    "layernorm",
    "dropout",
    "dropout2d",
    "flatten",
    "embedding",
    "rnn",
    "lstm",
    "gru",
    "relu",
    "leakyrelu",
    "elu",
    "gelu",
    "silu",
    "sigmoid",
    "tanh",
    "softmax",
    "logsoftmax",
    "identity",
    "add",
    "mul",
    "concat",
    "convtranspose1d",
    "convtranspose2d",
    "upsample",
    "pixelshuffle",
    "adaptivemaxpool1d",
    "adaptivemaxpool2d",
    "multiheadattention",
    "transformerencoderlayer",
    "transformerencoder",
    # activations, shape ops, broadcasting arithmetic, learned parameters, norms
    "relu6",
    "hardtanh",
    "hardswish",
    "hardsigmoid",
    "prelu",
    "softplus",
    "mish",
    "selu",
    "permute",
    "transpose",
    "reshape",
    "unsqueeze",
    "squeeze",
    "select",
    "slice",
    "mean",
    "sum",
    "sub",
    "div",
    "matmul",
    "parameter",
    "groupnorm",
    "instancenorm1d",
    "instancenorm2d",
}


def _models_in(annotation) -> list[type]:
    """Every pydantic class reachable through Annotated/Union/list in a type annotation."""
    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return [annotation]
    found = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def _discriminators() -> set[str]:
    layers = ModelSpec.model_fields["layers"].annotation
    values = set()
    for cls in _models_in(layers):
        (value,) = typing.get_args(cls.model_fields["type"].annotation)
        values.add(value)
    return values


def test_registry_equals_schema_discriminators():
    assert _discriminators() - {"block", "sequential"} == set(LAYER_TYPES)
    assert "block" in _discriminators()


def test_registry_equals_required_layer_list():
    assert set(LAYER_TYPES) == REQUIRED


def test_registry_classes_are_layers_with_their_own_type():
    for kind, cls in LAYER_TYPES.items():
        assert issubclass(cls, Layer)
        assert typing.get_args(cls.model_fields["type"].annotation) == (kind,)


def test_json_schema_lists_every_layer():
    from specc.spec.schema import Spec

    text = str(Spec.model_json_schema())
    for kind in LAYER_TYPES:
        assert f"'const': '{kind}'" in text or f"'enum': ['{kind}']" in text, kind
