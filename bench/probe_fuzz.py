"""Hostile-input probe of the real command line (not part of the test suite).

Generates a few hundred hostile variants (seeded mutations of the shipped specs and of
tests/specs/, plus hand-written cases for the block language, ``--set``, ``specc tune
--search``, image_folder sources and augmentations, ``specc predict`` inputs and ``specc
report`` run folders), runs each as ``python -m specc ...`` in a fresh folder, and
classifies the outcome:

- ``ok``: exit 0;
- ``located``: exit 2 whose stderr has ``path:line:col: error[Exxx]:`` headers;
- ``usage``: exit 2 from the command line's own option checks (``Usage:`` or ``Invalid value``);
- ``run_error``: exit 1 with one line ``error: ...``;
- anything else is a *find*: a traceback, another exit status, exit 2 without a located
  header, a multi-line exit 1, a hang past the time limit, a signal.

    python bench/probe_fuzz.py [--seed 0] [--mutations 250] [--only validate,set,...]
        [--jobs 2] [--json /tmp/probe.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
LOCATED = re.compile(r"^.+:\d+:\d+: error\[E\d{3}\]: ", re.M)
LIMIT_S = 60  # validate, build, predict, report
TRAIN_LIMIT_S = 240  # train and tune on a loaded 2-core machine

SPECS = [
    *sorted((ROOT / "specs").glob("*.yaml")),
    *sorted((ROOT / "tests/specs").glob("*.yaml")),
    ROOT / "specs/zoo/text_cnn.yaml",
    ROOT / "specs/zoo/text_transformer.yaml",
    ROOT / "specs/zoo/unet.yaml",
    ROOT / "specs/zoo/resnet18.yaml",
    ROOT / "specs/zoo/vit_b_16.yaml",
]
HOSTILE = [
    None,
    True,
    0,
    -1,
    -7,
    1,
    2**31,
    10**12,
    2**63,
    10**30,
    0.5,
    -0.0,
    1e308,
    "",
    " ",
    "é",
    "名前",
    "\u202eevil",
    "a" * 300,
    "$nope",
    "$c * 1000000000",
    "$c // 0",
    "(" * 40 + "1" + ")" * 40,
    [],
    [[]],
    {},
    [0],
    [-1, 2],
    [1, 2, 3, 4, 5, 6, 7],
    [10**9, 10**9],
    {"type": "relu"},
    {"a": {"b": {"c": {"d": [1]}}}},
    "input",
    "relu",
    "block",
]
KEYS = [
    "type",
    "name",
    "inputs",
    "shape",
    "when",
    "first",
    "repeat",
    "args",
    "params",
    "layers",
    "blocks",
    "block",
    "copy_names",
    "x",
    "名前",
    "dim",
    "nhead",
    "num_heads",
    "size",
]


@dataclass
class Case:
    family: str
    name: str
    argv: list[str]
    files: dict[str, Any] = field(default_factory=dict)  # relative path -> text | bytes | Path
    setup: str | None = None  # a shared fixture folder copied in first


@dataclass
class Outcome:
    case: Case
    kind: str
    rc: int | None
    seconds: float
    tail: str


# --- spec mutations ---------------------------------------------------------------------


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


def _mutate(data: Any, rng: random.Random) -> tuple[Any, str]:
    path = rng.choice(_paths(data))
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    op = rng.choice(["delete", "retype", "retype", "retype", "rename", "copy", "nest", "cycle"])
    if op == "delete":
        del parent[last]
    elif op == "retype":
        parent[last] = copy.deepcopy(rng.choice(HOSTILE))
    elif op == "rename" and isinstance(parent, dict):
        new = rng.choice(KEYS)
        if new not in parent:
            parent[new] = parent.pop(last)
    elif op == "copy" and isinstance(parent, dict):
        parent[rng.choice(KEYS)] = copy.deepcopy(parent[last])
    elif op == "copy" and isinstance(parent, list):
        parent.insert(last, copy.deepcopy(parent[last]))
    elif op == "nest":
        value: Any = parent[last]
        for _ in range(rng.choice([3, 20, 70])):
            value = [value]
        parent[last] = value
    elif op == "cycle" and isinstance(parent, dict):
        parent[last] = rng.choice(["$" + str(last), "input", "block"])
    return data, f"{op}@{'.'.join(map(str, path))}"


def mutation_cases(n: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    texts = {p: yaml.safe_load(p.read_text(encoding="utf-8")) for p in SPECS}
    cases = []
    for i in range(n):
        source = rng.choice(SPECS)
        data = copy.deepcopy(texts[source])
        what = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            data, desc = _mutate(data, rng)
            what.append(desc)
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        command = rng.choice(["validate", "validate", "build"])
        rel = source.relative_to(ROOT)
        cases.append(
            Case(
                "mutation",
                f"{i}:{rel}:{'+'.join(what)}",
                [command, str(ROOT / rel.parent / f"_probe_{i}.yaml")],
                {str(rel.parent / f"_probe_{i}.yaml"): text},
            )
        )
    return cases


# --- the block language -----------------------------------------------------------------

BLOCK_HEAD = (
    "version: 1\nname: t\nmodel:\n  input: {shape: [4]}\n  blocks:\n    mlp:\n"
    "      params: {width: 3}\n      layers: [{type: linear, out_features: %s}]\n"
    "  layers:\n    - {type: block, block: mlp%s}\n"
)
SEQ_HEAD = "version: 1\nname: t\nmodel:\n  input: {shape: [3, 8, 8]}\n  layers:\n%s"


def block_cases() -> list[Case]:
    long_mul = " * ".join(["$width"] * 3000)
    deep = "(" * 3000 + "$width" + ")" * 3000
    nots = "not " * 3000 + "$width"
    negs = "- " * 3000 + "$width"
    pairs = {
        "mul_chain_3000": (f"'{long_mul}'", ""),
        "add_chain_3000": ("'" + " + ".join(["$width"] * 3000) + "'", ""),
        "parens_3000": (f"'{deep}'", ""),
        "nots_3000": ("3", f", when: '{nots}'"),
        "negs_3000": (f"'{negs}'", ""),
        "digits_5000": ("'$width * " + "9" * 5000 + "'", ""),
        "power_like": ("'$width * $width * $width * $width * $width * $width * 99999999999'", ""),
        "repeat_expr_top": ("3", ", repeat: '$width'"),
        "repeat_expr_block_param": ("3", ", repeat: $width"),
        "repeat_huge": ("3", ", repeat: 100000000"),
        "repeat_negative": ("3", ", repeat: -3"),
        "repeat_float": ("3", ", repeat: 2.5"),
        "repeat_list": ("3", ", repeat: [2]"),
        "args_expr_top": ("$width", ", args: {width: '$width + 1'}"),
        "args_deep": ("$width", ", args: {width: [[[[[[[[[[1]]]]]]]]]]}"),
        "args_bool": ("$width", ", args: {width: true}"),
        "first_expr": ("$width", ", repeat: 2, first: {width: '$width'}"),
        "first_without_repeat": ("$width", ", first: {width: 2}"),
        "when_top_use": ("3", ", when: false"),
        "when_str_true": ("3", ", when: 'true'"),
        "inputs_on_use_list": ("3", ", inputs: [input, input]"),
        "inputs_on_use_self": ("3", ", inputs: block_1, name: block_1"),
        "name_unicode": ("3", ", name: 名前"),
        "name_dotted": ("3", ", name: a.b"),
        "copy_names_n_twice": ("3", ", repeat: 2, copy_names: 'x{n}{n}'"),
        "copy_names_i": ("3", ", repeat: 3, copy_names: 'u{i}'"),
        "copy_names_no_repeat": ("3", ", copy_names: 'u{n}'"),
        "copy_names_clash": ("3", ", repeat: 2, copy_names: 'linear_{n}'"),
        "block_param_expr_self": ("3", ""),
        "block_none": ("3", ", block: null"),
        "block_list": ("3", ", block: [mlp]"),
        "block_unicode": ("3", ", block: 名前"),
        "division_by_zero": ("'$width // ($width - 3)'", ""),
        "comparison_as_int": ("'$width > 1'", ""),
        "bool_arith": ("'true + 1'", ""),
        "dollar_alone": ("'$'", ""),
        "dollar_digit": ("'$1'", ""),
        "dollar_unicode": ("'$名前'", ""),
        "expr_nul": ("'$width\\0'", ""),
        "expr_newline": ("'$width\\n* 2'", ""),
    }
    cases = [
        Case("blocks", k, ["validate", "s.yaml"], {"s.yaml": BLOCK_HEAD % v})
        for k, v in pairs.items()
    ]
    params_cases = {
        "param_default_cycle": "      params: {a: $b, b: $a}\n",
        "param_default_self": "      params: {a: $a}\n",
        "param_default_expr_bad": "      params: {a: '$a *'}\n",
        "params_list": "      params: [a]\n",
        "params_unicode_key": "      params: {名前: 1}\n",
        "params_dollar_key": "      params: {$a: 1}\n",
        "params_reserved": "      params: {input: 1}\n",
        "params_huge": "      params: {a: 99999999999999999999999}\n",
    }
    for k, p in params_cases.items():
        text = (
            "version: 1\nname: t\nmodel:\n  input: {shape: [4]}\n  blocks:\n    mlp:\n"
            + p
            + "      layers: [{type: linear, out_features: 3}]\n  layers:\n"
            "    - {type: block, block: mlp}\n"
        )
        cases.append(Case("blocks", k, ["validate", "s.yaml"], {"s.yaml": text}))
    seqs = {
        "seq_empty": "    - {type: sequential, layers: []}\n",
        "seq_no_layers": "    - {type: sequential, name: s}\n",
        "seq_layers_str": "    - {type: sequential, layers: relu}\n",
        "seq_layers_dict": "    - {type: sequential, layers: {a: relu}}\n",
        "seq_nested_deep": "    - "
        + "{type: sequential, layers: [" * 30
        + "relu"
        + "]}" * 30
        + "\n",
        "seq_when": "    - {type: sequential, when: true, layers: [relu]}\n",
        "seq_name_clash": "    - {type: sequential, name: s, layers: [{type: relu, name: s}]}\n",
        "seq_inputs_later": (
            "    - {type: sequential, inputs: b, layers: [relu]}\n    - {type: relu, name: b}\n"
        ),
        "seq_inputs_self": "    - {type: sequential, name: s, inputs: s, layers: [relu]}\n",
        "seq_use_unknown_block": "    - {type: sequential, layers: [{type: block, block: nope}]}\n",
        "seq_extra_key": "    - {type: sequential, layers: [relu], repeat: 2}\n",
    }
    for k, body in seqs.items():
        cases.append(Case("blocks", k, ["validate", "s.yaml"], {"s.yaml": SEQ_HEAD % body}))
    return cases


# --- layers: attention, shape ops, broadcasting, norms, sampling, recurrent ---------------

LAYER_CASES = {
    # (input, layers)
    "reshape_negative_two": ("[12]", ["{type: reshape, shape: [-1, -1]}"]),
    "reshape_zero": ("[12]", ["{type: reshape, shape: [0, 12]}"]),
    "reshape_wrong_total": ("[12]", ["{type: reshape, shape: [5, 5]}"]),
    "reshape_huge": ("[12]", ["{type: reshape, shape: [4294967296, 4294967296]}"]),
    "reshape_empty": ("[12]", ["{type: reshape, shape: []}"]),
    "reshape_minus_two": ("[12]", ["{type: reshape, shape: [-2, 6]}"]),
    "permute_repeat": ("[2, 3]", ["{type: permute, dims: [0, 0]}"]),
    "permute_short": ("[2, 3]", ["{type: permute, dims: [1]}"]),
    "permute_batch": ("[2, 3]", ["{type: permute, dims: [0, 1, 2]}"]),
    "permute_huge": ("[2, 3]", ["{type: permute, dims: [1, 99999999999]}"]),
    "permute_negative": ("[2, 3]", ["{type: permute, dims: [-1, -2]}"]),
    "flatten_reversed": ("[2, 3, 4]", ["{type: flatten, start_dim: 3, end_dim: 1}"]),
    "flatten_negative": ("[2, 3, 4]", ["{type: flatten, start_dim: -9}"]),
    "flatten_batch": ("[2, 3, 4]", ["{type: flatten, start_dim: 0}"]),
    "index_out": ("[2, 3]", ["{type: index, dim: 1, index: 9}"]),
    "index_negative": ("[2, 3]", ["{type: index, dim: 1, index: -9}"]),
    "index_batch": ("[2, 3]", ["{type: index, dim: 0, index: 0}"]),
    "index_huge_dim": ("[2, 3]", ["{type: index, dim: 99999999999999999999, index: 0}"]),
    "add_broadcast_bad": (
        "[2, 3]",
        ["{type: linear, out_features: 4, name: a}", "{type: add, inputs: [a, input]}"],
    ),
    "mul_self": ("[2, 3]", ["{type: mul, inputs: [input, input]}"]),
    "mul_three": ("[2, 3]", ["{type: mul, inputs: [input, input, input]}"]),
    "add_one": ("[2, 3]", ["{type: add, inputs: [input]}"]),
    "add_empty": ("[2, 3]", ["{type: add, inputs: []}"]),
    "add_int_float": ("[4]", ["{type: add, inputs: [input, input]}"]),
    "layernorm_wrong": ("[2, 3]", ["{type: layernorm, normalized_shape: [5]}"]),
    "layernorm_zero": ("[2, 3]", ["{type: layernorm, normalized_shape: [0]}"]),
    "layernorm_empty": ("[2, 3]", ["{type: layernorm, normalized_shape: []}"]),
    "groupnorm_bad": ("[6, 4, 4]", ["{type: groupnorm, num_groups: 4}"]),
    "groupnorm_zero": ("[6, 4, 4]", ["{type: groupnorm, num_groups: 0}"]),
    "batchnorm1d_3d": ("[2, 3, 4, 5]", ["batchnorm1d"]),
    "upsample_zero_scale": ("[1, 4, 4]", ["{type: upsample, scale_factor: 0}"]),
    "upsample_huge": ("[1, 4, 4]", ["{type: upsample, scale_factor: 1000000}"]),
    "upsample_both": ("[1, 4, 4]", ["{type: upsample, scale_factor: 2, size: 8}"]),
    "upsample_none": ("[1, 4, 4]", ["{type: upsample}"]),
    "upsample_bilinear_1d": ("[1, 4]", ["{type: upsample, scale_factor: 2, mode: bilinear}"]),
    "upsample_size_list_wrong": ("[1, 4, 4]", ["{type: upsample, size: [8, 8, 8]}"]),
    "upsample_fraction": ("[1, 4, 4]", ["{type: upsample, scale_factor: 0.01}"]),
    "pixelshuffle_bad": ("[3, 4, 4]", ["{type: pixelshuffle, upscale_factor: 2}"]),
    "pixelshuffle_zero": ("[4, 4, 4]", ["{type: pixelshuffle, upscale_factor: 0}"]),
    "convtranspose_padding_big": (
        "[1, 4, 4]",
        ["{type: convtranspose2d, out_channels: 2, kernel_size: 2, padding: 9}"],
    ),
    "convtranspose_output_padding": (
        "[1, 4, 4]",
        ["{type: convtranspose2d, out_channels: 2, kernel_size: 2, output_padding: 3}"],
    ),
    "mha_heads_not_dividing": ("[5, 6]", ["{type: multiheadattention, num_heads: 4}"]),
    "mha_zero_heads": ("[5, 6]", ["{type: multiheadattention, num_heads: 0}"]),
    "mha_on_vector": ("[6]", ["{type: multiheadattention, num_heads: 2}"]),
    "mha_on_image": ("[1, 6, 6]", ["{type: multiheadattention, num_heads: 2}"]),
    "mha_kv_mismatch": (
        "[5, 6]",
        [
            "{type: linear, out_features: 4, name: k}",
            "{type: multiheadattention, num_heads: 2, inputs: [input, k, input]}",
        ],
    ),
    "mha_padding_float_input": (
        "[5, 6]",
        [
            "{type: multiheadattention, num_heads: 2, padding_idx: 0,"
            " inputs: [input, input, input, input]}"
        ],
    ),
    "encoder_layers_zero": ("[5, 6]", ["{type: transformerencoder, num_layers: 0, nhead: 2}"]),
    "encoder_layers_huge": ("[5, 6]", ["{type: transformerencoder, num_layers: 100000, nhead: 2}"]),
    "encoder_ff_huge": (
        "[5, 6]",
        ["{type: transformerencoder, num_layers: 1, nhead: 2, dim_feedforward: 100000000000}"],
    ),
    "encoder_activation_bad": (
        "[5, 6]",
        ["{type: transformerencoderlayer, nhead: 2, activation: swish}"],
    ),
    "encoder_nhead_big": ("[5, 6]", ["{type: transformerencoderlayer, nhead: 12}"]),
    "lstm_zero_hidden": ("[5, 6]", ["{type: lstm, hidden_size: 0, output: last}"]),
    "lstm_huge_layers": (
        "[5, 6]",
        ["{type: lstm, hidden_size: 4, num_layers: 100000, output: last}"],
    ),
    "gru_proj": ("[5, 6]", ["{type: gru, hidden_size: 4, proj_size: 2, output: last}"]),
    "lstm_proj_bigger": ("[5, 6]", ["{type: lstm, hidden_size: 4, proj_size: 8, output: last}"]),
    "lstm_dropout_one_layer": (
        "[5, 6]",
        ["{type: lstm, hidden_size: 4, dropout: 0.5, output: sequence}"],
    ),
    "rnn_bad_nonlinearity": (
        "[5, 6]",
        ["{type: rnn, hidden_size: 4, nonlinearity: gelu, output: last}"],
    ),
    "embedding_padding_out": (
        "[5]",
        ["{type: embedding, num_embeddings: 4, embedding_dim: 2, padding_idx: 9}"],
    ),
    "input_huge": ("[100000, 100000, 100000]", ["relu"]),
    "input_many_dims": (
        "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]",
        ["flatten"],
    ),
    "linear_huge": ("[4]", ["{type: linear, out_features: 100000000000}"]),
    "conv_huge_kernel": (
        "[1, 8, 8]",
        ["{type: conv2d, out_channels: 2, kernel_size: 99999999999999999999}"],
    ),
    "conv_kernel_list_wrong": (
        "[1, 8, 8]",
        ["{type: conv2d, out_channels: 2, kernel_size: [3, 3, 3]}"],
    ),
    "conv_padding_same_stride": (
        "[1, 8, 8]",
        ["{type: conv2d, out_channels: 2, kernel_size: 3, padding: same, stride: 2}"],
    ),
    "conv_padding_str": (
        "[1, 8, 8]",
        ["{type: conv2d, out_channels: 2, kernel_size: 3, padding: valid2}"],
    ),
    "maxpool_padding_big": ("[1, 8, 8]", ["{type: maxpool2d, kernel_size: 2, padding: 2}"]),
    "avgpool_zero": ("[1, 8, 8]", ["{type: avgpool2d, kernel_size: 0}"]),
    "adaptive_zero": ("[1, 8, 8]", ["{type: adaptiveavgpool2d, output_size: 0}"]),
    "adaptive_none": ("[1, 8, 8]", ["{type: adaptiveavgpool2d, output_size: [null, 2]}"]),
    "concat_dim_batch": ("[2, 3]", ["{type: concat, inputs: [input, input], dim: 0}"]),
    "outputs_empty": (
        "[2, 3]",
        ["relu"],
    ),
}


def layer_cases() -> list[Case]:
    cases = []
    for k, spec in LAYER_CASES.items():
        shape, layers = spec
        dtype = "int64" if k.startswith("embedding") else "float32"
        text = (
            f"version: 1\nname: t\nmodel:\n  input: {{shape: {shape}, dtype: {dtype}}}\n  layers:\n"
            + "".join(f"    - {line}\n" for line in layers)
        )
        if k == "outputs_empty":
            text += "  outputs: []\n"
        for command in ("validate", "build"):
            cases.append(Case("layers", f"{k}:{command}", [command, "s.yaml"], {"s.yaml": text}))
    return cases


# --- --set overrides, tune searches -----------------------------------------------------

TINY = """\
version: 1
name: tiny
seed: 1
model:
  input: {shape: [2]}
  layers:
    - {type: linear, out_features: 4}
    - relu
    - {type: linear, out_features: 2}
loss: cross_entropy
optimizer: {type: adam, lr: 0.01}
data:
  source: {type: csv, path: d.csv, target: y}
  batch_size: 8
train: {epochs: 1, device: cpu}
export: {onnx: {opset: 18}}
"""


def _csv(rows: int = 32) -> str:
    rng = random.Random(0)
    lines = ["a,b,y"] + [
        f"{rng.random():.4f},{rng.random():.4f},{rng.choice(['yes', 'no'])}" for _ in range(rows)
    ]
    return "\n".join(lines) + "\n"


SETS = [
    "optimizer.lr=-1",
    "optimizer.lr=abc",
    "optimizer.lr=.nan",
    "optimizer.lr=1e999",
    "optimizer=adam",
    "optimizer.type=sgd",
    "model.layers.0.out_features=0",
    "model.layers.0.out_features=99999999999999",
    "model.layers.99.out_features=3",
    "model.layers.-1.out_features=3",
    "model.layers.x.out_features=3",
    "model.layers.0=relu",
    "model.layers.0={type: linear}",
    "model.layers=[]",
    "model.layers.1.type=nope",
    "model.input.shape=[3]",
    "model.input.shape.0=3",
    "data.batch_size=0",
    "data.batch_size=[1]",
    "data.source.path=/nonexistent/x.csv",
    "data.source.path=../../../../etc/passwd",
    "data.source.target=nope",
    "train.epochs=0",
    "train.device=gpu",
    "name=../evil",
    "name=名前",
    "version=2",
    "=1",
    "optimizer.lr",
    "optimizer.lr==1",
    ".=1",
    "a..b=1",
    "optimizer.lr.x=1",
    "loss=",
    "loss=mse",
    "seed=-1",
    "seed=99999999999999999999999",
    "export.onnx.opset=1",
    "model.blocks.x.layers=[relu]",
    "nope.deep.key=1",
    "optimizer.lr=!!python/object/apply:os.system ['echo pwned']",
    "optimizer.lr=&a [*a]",
    "optimizer.lr=" + "[" * 100 + "]" * 100,
    "train.epochs=1\nname: x",
]


def set_cases() -> list[Case]:
    files = {"spec.yaml": TINY, "d.csv": _csv()}
    return [
        Case(
            "set",
            s,
            ["train", "spec.yaml", "--epochs", "1", "--out", "run", "-q", "--set", s],
            dict(files),
        )
        for s in SETS
    ]


SEARCHES = [
    "optimizer.lr=loguniform(0,1)",
    "optimizer.lr=loguniform(-1,1)",
    "optimizer.lr=loguniform(1,0.1)",
    "optimizer.lr=uniform(1e999,2)",
    "optimizer.lr=uniform(a,b)",
    "optimizer.lr=uniform(0.1)",
    "optimizer.lr=uniform(0.1,0.2,0.3)",
    "optimizer.lr=uniform()",
    "optimizer.lr=normal(0,1)",
    "optimizer.lr=uniform(0.1,0.2",
    "optimizer.lr=choice()",
    "optimizer.lr=choice(,)",
    "optimizer.lr=choice(adam,[1,2])",
    "optimizer.type=choice(adam,nope)",
    "optimizer.type=choice(adam,sgd)",
    "model.layers.0.out_features=int(0,4)",
    "model.layers.0.out_features=int(4,1)",
    "model.layers.0.out_features=int(1.5,4)",
    "model.layers.0.out_features=int(1,99999999999999999999)",
    "model.layers.9.out_features=int(1,4)",
    "data.batch_size=int(1,100000)",
    "noequals",
    "=uniform(0,1)",
    "optimizer.lr=",
    "optimizer.lr=uniform(0.1,0.2)=x",
    "optimizer.lr=uniform(nan,1)",
    "optimizer.lr=uniform(0.1,0.1)",
    "optimizer.lr=choice(" + ",".join(["1"] * 5000) + ")",
    "name=choice(a,b)",
    "optimizer.lr=choice(!!python/name:os.system)",
]


def tune_cases() -> list[Case]:
    files = {"spec.yaml": TINY, "d.csv": _csv()}
    cases = [
        Case(
            "tune",
            s[:80],
            [
                "tune",
                "spec.yaml",
                "--trials",
                "1",
                "--epochs",
                "1",
                "--out",
                "t",
                "-q",
                "--search",
                s,
            ],
            dict(files),
        )
        for s in SEARCHES
    ]
    cases.append(
        Case(
            "tune",
            "no_search",
            ["tune", "spec.yaml", "--trials", "1", "--out", "t", "-q"],
            dict(files),
        )
    )
    cases.append(
        Case(
            "tune",
            "same_key_twice",
            [
                "tune",
                "spec.yaml",
                "--trials",
                "1",
                "--epochs",
                "1",
                "--out",
                "t",
                "-q",
                "--search",
                "optimizer.lr=uniform(0.1,0.2)",
                "--search",
                "optimizer.lr=uniform(0.1,0.3)",
            ],
            dict(files),
        )
    )
    cases.append(
        Case(
            "tune",
            "out_is_file",
            [
                "tune",
                "spec.yaml",
                "--trials",
                "1",
                "--epochs",
                "1",
                "--out",
                "d.csv",
                "-q",
                "--search",
                "optimizer.lr=uniform(0.1,0.2)",
            ],
            dict(files),
        )
    )
    cases.append(Case("tune", "resume_nothing", ["tune", "--resume", "nope"], dict(files)))
    cases.append(
        Case(
            "tune",
            "resume_bad_json",
            ["tune", "--resume", "t"],
            {**files, "t/tune.json": "{not json"},
        )
    )
    cases.append(
        Case(
            "tune",
            "resume_list_json",
            ["tune", "--resume", "t"],
            {**files, "t/tune.json": "[1, 2]"},
        )
    )
    cases.append(
        Case(
            "tune",
            "resume_wrong_keys",
            ["tune", "--resume", "t"],
            {**files, "t/tune.json": '{"spec": 3, "searches": "x", "trials": -1}'},
        )
    )
    return cases


# --- image folders and augmentations ------------------------------------------------------

IMG_SPEC = """\
version: 1
name: imgs
seed: 1
model:
  input: {shape: [%s, 8, 8]}
  layers:
    - flatten
    - {type: linear, out_features: 2}
loss: cross_entropy
optimizer: {type: adam, lr: 0.01}
data:
  source: {type: image_folder, path: imgs%s}
  transforms: %s
  split: {val: 0.25}
  batch_size: 4
train: {epochs: 1, device: cpu}
"""


def _png(size=(8, 8), mode="L", color=128) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format="PNG")
    return buf.getvalue()


def image_cases() -> list[Case]:
    good = {f"imgs/{c}/{i}.png": _png(color=40 * i) for c in ("cat", "dog") for i in range(4)}
    transforms = {
        "none": "[]",
        "rotation_huge": "[{type: random_rotation, degrees: 1e300}]",
        "rotation_reversed": "[{type: random_rotation, degrees: [10, -10]}]",
        "crop_bigger": "[{type: random_crop, size: 16}]",
        "crop_padding_huge": "[{type: random_crop, size: 8, padding: 100000}]",
        "resized_crop_zero_ratio": "[{type: random_resized_crop, size: 8, ratio: [0, 1]}]",
        "resized_crop_wrong_size": "[{type: random_resized_crop, size: 4}]",
        "jitter_huge": "[{type: color_jitter, brightness: 1e300}]",
        "jitter_after_normalize": (
            "[{type: normalize, mean: [0.5], std: [0.5]}, {type: color_jitter, brightness: 0.5}]"
        ),
        "normalize_wrong_channels": "[{type: normalize, mean: [0.5, 0.5], std: [0.5, 0.5]}]",
        "normalize_std_zero": "[{type: normalize, mean: [0.5], std: [0]}]",
        "resize_huge": "[{type: resize, size: 100000}]",
        "resize_zero": "[{type: resize, size: 0}]",
        "pad_huge": "[{type: pad, padding: 100000}]",
        "pad_list_long": "[{type: pad, padding: [1, 2, 3, 4, 5]}]",
        "flip_p_two": "[{type: random_horizontal_flip, p: 2}]",
        "transforms_dict": "{type: normalize}",
        "transforms_nested": "[[{type: normalize, mean: [0], std: [1]}]]",
    }
    cases = [
        Case(
            "images",
            f"transform:{k}",
            ["train", "s.yaml", "--epochs", "1", "--out", "run", "-q"],
            {"s.yaml": IMG_SPEC % (1, "", v), **good},
        )
        for k, v in transforms.items()
    ]
    folders: dict[str, dict[str, Any]] = {
        "empty_folder": {"imgs/.keep": ""},
        "one_class": {f"imgs/cat/{i}.png": _png() for i in range(4)},
        "empty_class": {**{f"imgs/cat/{i}.png": _png() for i in range(4)}, "imgs/dog/.keep": ""},
        "corrupt_png": {**good, "imgs/cat/bad.png": b"\x89PNG\r\n\x1a\nnot really"},
        "zero_byte": {**good, "imgs/dog/zero.png": b""},
        "text_as_jpg": {**good, "imgs/dog/x.jpg": "hello"},
        "wrong_size": {**good, "imgs/dog/big.png": _png((64, 3))},
        "rgb_images": {
            f"imgs/{c}/{i}.png": _png(mode="RGB", color=(1, 2, 3))
            for c in ("a", "b")
            for i in range(4)
        },
        "unicode_classes": {f"imgs/{c}/{i}.png": _png() for c in ("кот", "名前") for i in range(4)},
        "nested_deeper": {**good, "imgs/cat/sub/x.png": _png()},
        "file_not_folder": {"imgs": "not a folder"},
        "tiny_two_images": {"imgs/a/1.png": _png(), "imgs/b/1.png": _png()},
        "huge_dims_header": {**good, "imgs/cat/huge.png": _huge_png_header()},
    }
    for k, files in folders.items():
        cases.append(
            Case(
                "images",
                f"folder:{k}",
                ["train", "s.yaml", "--epochs", "1", "--out", "run", "-q"],
                {"s.yaml": IMG_SPEC % (3 if k == "rgb_images" else 1, "", "[]"), **files},
            )
        )
    cases.append(
        Case(
            "images",
            "folder:missing",
            ["train", "s.yaml", "--epochs", "1", "--out", "run", "-q"],
            {"s.yaml": IMG_SPEC % (1, "", "[]")},
        )
    )
    cases.append(
        Case(
            "images",
            "folder:skip_bad",
            ["train", "s.yaml", "--epochs", "1", "--out", "run", "-q"],
            {
                "s.yaml": IMG_SPEC % (1, ", on_bad_file: skip", "[]"),
                **good,
                "imgs/cat/bad.png": b"garbage",
            },
        )
    )
    cases.append(
        Case(
            "images",
            "folder:val_path_missing",
            ["train", "s.yaml", "--epochs", "1", "--out", "run", "-q"],
            {"s.yaml": IMG_SPEC % (1, ", val_path: nope", "[]"), **good},
        )
    )
    cases.append(
        Case(
            "images",
            "folder:val_path_other_classes",
            ["train", "s.yaml", "--epochs", "1", "--out", "run", "-q"],
            {
                "s.yaml": (IMG_SPEC % (1, ", val_path: v", "[]")).replace(
                    "  split: {val: 0.25}\n", ""
                ),
                **good,
                "v/bird/1.png": _png(),
                "v/cat/1.png": _png(),
            },
        )
    )
    cases.append(
        Case(
            "images",
            "folder:extensions_empty",
            ["validate", "s.yaml"],
            {"s.yaml": IMG_SPEC % (1, ", extensions: []", "[]")},
        )
    )
    cases.append(
        Case(
            "images",
            "folder:extensions_bad",
            ["train", "s.yaml", "--epochs", "1", "--out", "run", "-q"],
            {"s.yaml": IMG_SPEC % (1, ", extensions: [tiff]", "[]"), **good},
        )
    )
    return cases


def _huge_png_header() -> bytes:
    """A PNG whose header claims 60000 x 60000 pixels (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + chunk(b"IEND", b"")
    )


# --- predict and report -----------------------------------------------------------------


def make_fixture(folder: Path) -> Path:
    """A trained and exported tiny CSV run (``folder/run``) and an image one (``folder/irun``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spec.yaml").write_text(TINY, encoding="utf-8")
    (folder / "d.csv").write_text(_csv(), encoding="utf-8")
    _run(["train", "spec.yaml", "--out", "run", "-q"], folder, check=True)
    good = {f"imgs/{c}/{i}.png": _png(color=40 * i) for c in ("cat", "dog") for i in range(4)}
    _write(
        folder,
        {
            "s.yaml": IMG_SPEC.replace("train: {", "export: {onnx: {opset: 18}}\ntrain: {")
            % (1, "", "[{type: normalize, mean: [0.5], std: [0.5]}]"),
            **good,
        },
    )
    _run(["train", "s.yaml", "--out", "irun", "-q"], folder, check=True)
    return folder


def predict_cases() -> list[Case]:
    import io

    import numpy as np

    def npy(array: Any) -> bytes:
        buf = io.BytesIO()
        np.save(buf, array, allow_pickle=True)
        return buf.getvalue()

    def npz(**arrays: Any) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    csv_inputs: dict[str, Any] = {
        "csv_ok": "a,b\n0.1,0.2\n",
        "csv_empty": "",
        "csv_header_only": "a,b\n",
        "csv_missing_col": "a\n0.1\n",
        "csv_text_value": "a,b\n0.1,hello\n",
        "csv_nan": "a,b\nnan,0.2\n",
        "csv_inf": "a,b\ninf,1e999\n",
        "csv_extra_cols": "a,b,c,y\n0.1,0.2,3,yes\n",
        "csv_ragged": "a,b\n0.1,0.2,0.3\n0.1\n",
        "csv_binary": b"\x00\x01\x02\xff\xfe",
        "csv_bom": "\ufeffa,b\n0.1,0.2\n",
        "csv_dup_cols": "a,a,b\n1,2,3\n",
        "npy_ok.npy": npy(np.zeros((2, 2), dtype=np.float32)),
        "npy_wrong_shape.npy": npy(np.zeros((2, 5), dtype=np.float32)),
        "npy_1d.npy": npy(np.zeros(2, dtype=np.float32)),
        "npy_scalar.npy": npy(np.float32(1)),
        "npy_empty.npy": npy(np.zeros((0, 2), dtype=np.float32)),
        "npy_object.npy": npy(np.array([{"a": 1}, None], dtype=object)),
        "npy_strings.npy": npy(np.array([["a", "b"]])),
        "npy_complex.npy": npy(np.zeros((2, 2), dtype=np.complex64)),
        "npy_nan.npy": npy(np.full((2, 2), np.nan, dtype=np.float32)),
        "npy_int.npy": npy(np.ones((2, 2), dtype=np.int64)),
        "npy_corrupt.npy": b"\x93NUMPY\x01\x00garbage",
        "npy_huge_header.npy": b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, "
        b"'shape': (100000000000, 2), }" + b" " * 40 + b"\n",
        "npz_ok.npz": npz(x=np.zeros((2, 2), dtype=np.float32)),
        "npz_two.npz": npz(x=np.zeros((2, 2), dtype=np.float32), y=np.zeros(2)),
        "npz_empty.npz": npz(),
        "npz_corrupt.npz": b"PK\x03\x04garbage",
        "txt.txt": "hello",
        "noext": "a,b\n1,2\n",
    }
    cases = []
    for k, content in csv_inputs.items():
        name = k if "." in k else f"{k}.csv"
        if k == "noext":
            name = "noext"
        cases.append(
            Case("predict", k, ["predict", "F/run/model.onnx", name], {name: content}, setup="F")
        )
    cases.append(
        Case("predict", "missing_input", ["predict", "F/run/model.onnx", "nope.csv"], setup="F")
    )
    cases.append(
        Case("predict", "missing_model", ["predict", "nope.onnx", "x.csv"], {"x.csv": "a,b\n1,2\n"})
    )
    cases.append(
        Case(
            "predict",
            "model_is_garbage",
            ["predict", "m.onnx", "x.csv"],
            {"m.onnx": b"garbage", "x.csv": "a,b\n1,2\n"},
        )
    )
    cases.append(
        Case(
            "predict",
            "model_is_folder",
            ["predict", "F/run", "x.csv"],
            {"x.csv": "a,b\n1,2\n"},
            setup="F",
        )
    )
    cases.append(
        Case(
            "predict",
            "output_is_input",
            ["predict", "F/run/model.onnx", "x.csv", "-o", "x.csv"],
            {"x.csv": "a,b\n1,2\n"},
            setup="F",
        )
    )
    cases.append(
        Case(
            "predict",
            "output_is_model",
            ["predict", "F/run/model.onnx", "x.csv", "-o", "F/run/model.onnx"],
            {"x.csv": "a,b\n1,2\n"},
            setup="F",
        )
    )
    cases.append(
        Case(
            "predict",
            "output_in_missing_dir",
            ["predict", "F/run/model.onnx", "x.csv", "-o", "no/such/dir/p.csv"],
            {"x.csv": "a,b\n1,2\n"},
            setup="F",
        )
    )
    cases.append(
        Case(
            "predict",
            "top_k_huge",
            ["predict", "F/run/model.onnx", "x.csv", "--top-k", "99"],
            {"x.csv": "a,b\n1,2\n"},
            setup="F",
        )
    )
    images: dict[str, Any] = {
        "img_ok.png": _png(),
        "img_rgb.png": _png(mode="RGB", color=(1, 2, 3)),
        "img_big.png": _png((300, 200)),
        "img_corrupt.png": b"\x89PNG\r\n\x1a\nnope",
        "img_zero.png": b"",
        "img_bomb.png": _huge_png_header(),
        "img_text.jpg": "hello",
    }
    for k, content in images.items():
        cases.append(
            Case("predict", k, ["predict", "F/irun/model.onnx", k], {k: content}, setup="F")
        )
    cases.append(
        Case(
            "predict",
            "img_folder_mixed",
            ["predict", "F/irun/model.onnx", "imgs"],
            {"imgs/a.png": _png(), "imgs/b.txt": "x", "imgs/c.png": b"bad"},
            setup="F",
        )
    )
    cases.append(
        Case(
            "predict",
            "img_folder_empty",
            ["predict", "F/irun/model.onnx", "imgs"],
            {"imgs/.keep": ""},
            setup="F",
        )
    )
    cases.append(
        Case(
            "predict",
            "csv_to_image_model",
            ["predict", "F/irun/model.onnx", "x.csv"],
            {"x.csv": "a,b\n1,2\n"},
            setup="F",
        )
    )
    cases.append(
        Case(
            "predict",
            "image_to_csv_model",
            ["predict", "F/run/model.onnx", "i.png"],
            {"i.png": _png()},
            setup="F",
        )
    )
    return cases


REPORT_BREAKS = {
    "summary_garbage": {"summary.json": "{nope"},
    "summary_list": {"summary.json": "[1, 2, 3]"},
    "summary_empty": {"summary.json": ""},
    "summary_wrong_types": {"summary.json": '{"best_epoch": "x", "epochs": null, "metrics": 3}'},
    "metrics_garbage": {"metrics.csv": "\x00\x01\x02"},
    "metrics_header_only": {"metrics.csv": "epoch,train_loss\n"},
    "metrics_text_values": {"metrics.csv": "epoch,train_loss,val_loss\nx,y,z\n"},
    "metrics_nan": {"metrics.csv": "epoch,train_loss,val_loss\n1,nan,inf\n"},
    "spec_garbage": {"spec.yaml": ": : :"},
    "spec_invalid": {"spec.yaml": "version: 1\nname: t\n"},
    "best_pt_garbage": {"best.pt": b"garbage"},
    "last_pt_garbage": {"last.pt": b"garbage", "best.pt": b"garbage"},
    "delete_summary": {"summary.json": None},
    "delete_metrics": {"metrics.csv": None},
    "delete_spec": {"spec.yaml": None},
    "delete_best": {"best.pt": None},
    "report_is_folder": {"report.html/x": "x"},
}


def report_cases() -> list[Case]:
    cases = [
        Case(
            "report",
            k,
            ["report", "R", "-q"],
            {f"R/{p}": v for p, v in files.items()},
            setup="F/run",
        )
        for k, files in REPORT_BREAKS.items()
    ]
    cases.append(Case("report", "not_a_run", ["report", "R", "-q"], {"R/x.txt": "x"}))
    cases.append(Case("report", "missing", ["report", "nope", "-q"]))
    cases.append(
        Case("report", "out_is_spec", ["report", "R", "--out", "R/spec.yaml", "-q"], setup="F/run")
    )
    cases.append(
        Case(
            "report", "out_missing_dir", ["report", "R", "--out", "x/y/z.html", "-q"], setup="F/run"
        )
    )
    cases.append(Case("report", "images_run", ["report", "R", "-q"], setup="F/irun"))
    cases.append(
        Case("report", "images_run_no_data", ["report", "R", "-q"], {"imgs": None}, setup="F/irun")
    )
    return cases


# --- running ----------------------------------------------------------------------------


def _write(folder: Path, files: dict[str, Any]) -> None:
    import shutil

    for rel, content in files.items():
        path = folder / rel
        if content is None:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _run(argv: list[str], cwd: Path, check: bool = False) -> subprocess.CompletedProcess:
    limit = TRAIN_LIMIT_S if argv[0] in ("train", "tune") else LIMIT_S
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", "specc", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=limit,
        errors="replace",
    )
    if check and result.returncode != 0:
        raise SystemExit(f"fixture failed: {argv}: {result.stderr}")
    return result


def classify(rc: int | None, err: str) -> str:
    if rc is None:
        return "FIND:hang"
    if "Traceback" in err:
        return "FIND:traceback"
    if rc < 0:
        return f"FIND:signal{-rc}"
    if rc == 0:
        return "ok"
    if rc == 2:
        if LOCATED.search(err):
            return "located"
        if "Usage:" in err or "Invalid value" in err or "Missing argument" in err:
            return "usage"
        if _one_line(err):  # a command-line option's error (--set, --search, --resume)
            return "option_error"
        return "FIND:exit2-unlocated"
    if rc == 1:
        if _one_line(err):  # a catch-all's "unexpected TypeError: ..." is a find too
            return "FIND:unexpected" if err.startswith("error: unexpected ") else "run_error"
        return "FIND:exit1-not-one-line"
    return f"FIND:exit{rc}"


def _one_line(err: str) -> bool:
    lines = [line for line in err.splitlines() if line.strip()]
    return len(lines) == 1 and lines[0].startswith("error: ")


def run_case(case: Case, fixture: Path | None) -> Outcome:
    import shutil

    with tempfile.TemporaryDirectory(prefix="probe_") as tmp:
        folder = Path(tmp)
        if case.setup == "F":
            assert fixture is not None
            (folder / "F").symlink_to(fixture)
        elif case.setup:
            assert fixture is not None
            shutil.copytree(fixture / case.setup.removeprefix("F/"), folder / "R")
        in_root = any(
            not Path(a).is_absolute() and a.startswith(("specs", "tests")) for a in case.files
        )
        target = ROOT if in_root else folder
        _write(target, case.files)
        before = _snapshot(target, case.files)
        start = time.perf_counter()
        try:
            result = _run(case.argv, folder)
            rc, err = result.returncode, result.stderr
        except subprocess.TimeoutExpired:
            rc, err = None, ""
        seconds = time.perf_counter() - start
        kind = classify(rc, err)
        if kind in ("located", "run_error", "usage") and _snapshot(target, case.files) != before:
            kind = "FIND:user-file-changed"
        if in_root:
            for rel in case.files:
                (ROOT / rel).unlink(missing_ok=True)
        return Outcome(case, kind, rc, seconds, err[-600:])


def _snapshot(folder: Path, files: dict[str, Any]) -> dict[str, bytes | None]:
    out = {}
    for rel in files:
        path = folder / rel
        out[rel] = path.read_bytes() if path.is_file() else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mutations", type=int, default=250)
    parser.add_argument("--only", default="mutation,blocks,layers,set,tune,images,predict,report")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", default="/tmp/probe_fuzz.json")
    parser.add_argument("--match", default="")
    args = parser.parse_args()
    only = set(args.only.split(","))
    cases: list[Case] = []
    builders = {
        "mutation": lambda: mutation_cases(args.mutations, args.seed),
        "blocks": block_cases,
        "layers": layer_cases,
        "set": set_cases,
        "tune": tune_cases,
        "images": image_cases,
        "predict": predict_cases,
        "report": report_cases,
    }
    for family, build in builders.items():
        if family in only:
            cases += build()
    cases = [c for c in cases if args.match in c.name]
    fixture = None
    if {"predict", "report"} & only:
        fixture = make_fixture(Path(tempfile.mkdtemp(prefix="probe_fixture_")))
    start = time.perf_counter()
    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes = list(pool.map(lambda c: run_case(c, fixture), cases))
    counts = Counter(o.kind for o in outcomes)
    by_family = Counter((o.case.family, o.kind) for o in outcomes)
    print(f"{len(outcomes)} cases in {time.perf_counter() - start:.0f} s")
    for (family, kind), n in sorted(by_family.items()):
        print(f"  {family:9s} {kind:26s} {n}")
    print("total:", dict(counts))
    for o in outcomes:
        if o.kind.startswith("FIND"):
            print(
                f"\n== {o.kind} [{o.case.family}] {o.case.name[:150]} (rc={o.rc}, {o.seconds:.1f}s)"
            )
            print("   argv:", " ".join(o.case.argv)[:200])
            print("   " + o.tail.strip().replace("\n", "\n   ")[-500:])
    Path(args.json).write_text(
        json.dumps(
            [
                {
                    "family": o.case.family,
                    "name": o.case.name,
                    "kind": o.kind,
                    "rc": o.rc,
                    "seconds": round(o.seconds, 2),
                    "argv": o.case.argv,
                    "tail": o.tail,
                }
                for o in outcomes
            ],
            indent=1,
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
