"""Fuzzing the new layer types: random arguments, inputs and input shapes for the sampling and
attention layers give a spec or located errors, never an exception (see test_fuzz.py's contract)."""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz import assert_contract

KINDS = [
    "convtranspose1d",
    "convtranspose2d",
    "upsample",
    "pixelshuffle",
    "adaptivemaxpool1d",
    "adaptivemaxpool2d",
    "maxpool1d",
    "maxpool2d",
    "multiheadattention",
    "transformerencoderlayer",
    "transformerencoder",
]
ARGS = [
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "output_padding",
    "dilation",
    "groups",
    "bias",
    "size",
    "scale_factor",
    "mode",
    "align_corners",
    "upscale_factor",
    "output_size",
    "ceil_mode",
    "num_heads",
    "nhead",
    "num_layers",
    "dim_feedforward",
    "dropout",
    "activation",
    "norm_first",
    "norm",
    "padding_idx",
    "embed_dim",
    "d_model",
    "layer_norm_eps",
    "in_channels",
]
VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-2, 9)
    | st.floats(-1, 4)
    | st.just(float("nan"))
    | st.sampled_from(["nearest", "bilinear", "gelu", "relu", "same", "x", ""])
    | st.lists(st.integers(-1, 5), max_size=3)
)
INPUTS = st.sampled_from(
    [
        None,
        "input",
        ["input", "input"],
        ["a", "input"],
        ["a", "a", "a"],
        ["a", "a", "a", "input"],
        ["input", "a"],
        "missing",
    ]
)

FUZZ = settings(
    max_examples=int(os.environ.get("SPECC_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@FUZZ
@given(
    kind=st.sampled_from(KINDS),
    args=st.dictionaries(st.sampled_from(ARGS), VALUES, max_size=5),
    shape=st.lists(st.integers(1, 9), min_size=1, max_size=4),
    dtype=st.sampled_from(["float32", "int64"]),
    inputs=INPUTS,
)
def test_random_new_layers_give_a_spec_or_located_errors(kind, args, shape, dtype, inputs):
    layer = {"type": kind, **args}
    if inputs is not None:
        layer["inputs"] = inputs
    first = (
        "{type: embedding, num_embeddings: 9, embedding_dim: 8, name: a}"
        if dtype == "int64"
        else "{type: identity, name: a}"
    )
    text = (
        f"version: 1\nname: fuzz\nmodel:\n  input: {{shape: {shape}, dtype: {dtype}}}\n"
        f"  layers:\n    - {first}\n    - {json.dumps(layer)}\n"
    )
    assert_contract(text)
