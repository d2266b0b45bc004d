"""Every op's plain-Python shape inference agrees with real torch.

For many argument combinations and input shapes (hypothesis), each case is run two ways:

* specc: validate the layer, ``infer()`` (plus the written-argument and zero-size checks that
  :func:`specc.ir.lower` applies), then build the module by exec'ing ``init_source()`` and run
  the ``forward_source()`` lines on a random batch of 2;
* a reference written here straight from torch's API with the same (torch-named) arguments,
  run in training mode with warnings turned into errors.

When specc accepts a case, torch must too, and the output shape, the shape written on every
forward line, ``Inferred.params``, the dtype, and (with the weights copied into the reference,
both in eval mode) the output values must all match. When specc rejects a case (ShapeError or a
pydantic error), torch must reject it too (an exception or a warning), unless it is one of the
cases specc forbids on purpose, listed in :func:`deliberately_forbidden`.
"""

from __future__ import annotations

import math
import os
import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from torch import nn

from specc.ir import infer_layer
from specc.ops import LAYER_TYPES, ShapeError

torch.set_num_threads(1)

#: SPECC_OP_EXAMPLES=1000 for a deep run; 50 per family keeps the suite fast
SETTINGS = settings(
    max_examples=int(os.environ.get("SPECC_OP_EXAMPLES", "50")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

NN_CLASSES = {
    "linear": nn.Linear,
    "conv1d": nn.Conv1d,
    "conv2d": nn.Conv2d,
    "maxpool1d": nn.MaxPool1d,
    "maxpool2d": nn.MaxPool2d,
    "avgpool1d": nn.AvgPool1d,
    "avgpool2d": nn.AvgPool2d,
    "adaptiveavgpool1d": nn.AdaptiveAvgPool1d,
    "adaptiveavgpool2d": nn.AdaptiveAvgPool2d,
    "flatten": nn.Flatten,
    "batchnorm1d": nn.BatchNorm1d,
    "batchnorm2d": nn.BatchNorm2d,
    "layernorm": nn.LayerNorm,
    "dropout": nn.Dropout,
    "dropout2d": nn.Dropout2d,
    "embedding": nn.Embedding,
    "rnn": nn.RNN,
    "lstm": nn.LSTM,
    "gru": nn.GRU,
    "relu": nn.ReLU,
    "leakyrelu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "softmax": nn.Softmax,
    "logsoftmax": nn.LogSoftmax,
    "identity": nn.Identity,
    "convtranspose1d": nn.ConvTranspose1d,
    "convtranspose2d": nn.ConvTranspose2d,
    "upsample": nn.Upsample,
    "pixelshuffle": nn.PixelShuffle,
    "adaptivemaxpool1d": nn.AdaptiveMaxPool1d,
    "adaptivemaxpool2d": nn.AdaptiveMaxPool2d,
    "multiheadattention": nn.MultiheadAttention,
    "transformerencoderlayer": nn.TransformerEncoderLayer,
    "transformerencoder": nn.TransformerEncoder,
    "relu6": nn.ReLU6,
    "hardtanh": nn.Hardtanh,
    "hardswish": nn.Hardswish,
    "hardsigmoid": nn.Hardsigmoid,
    "prelu": nn.PReLU,
    "softplus": nn.Softplus,
    "mish": nn.Mish,
    "selu": nn.SELU,
    "groupnorm": nn.GroupNorm,
    "instancenorm1d": nn.InstanceNorm1d,
    "instancenorm2d": nn.InstanceNorm2d,
}
#: functional ops: torch's own function on the batched tensors (dims count the batch)
FUNCTIONS = {
    "add": lambda args, ts: sum(ts[1:], ts[0]),
    "mul": lambda args, ts: math.prod(ts[1:], start=ts[0]),
    "sub": lambda args, ts: ts[0] - ts[1],
    "div": lambda args, ts: ts[0] / ts[1],
    "matmul": lambda args, ts: torch.matmul(ts[0], ts[1]),
    "concat": lambda args, ts: torch.cat(ts, dim=args.get("dim", 1)),
    "permute": lambda args, ts: ts[0].permute(*args["dims"]),
    "transpose": lambda args, ts: ts[0].transpose(args["dim0"], args["dim1"]),
    "reshape": lambda args, ts: ts[0].reshape(ts[0].shape[0], *args["shape"]),
    "unsqueeze": lambda args, ts: ts[0].unsqueeze(args["dim"]),
    "squeeze": lambda args, ts: ts[0].squeeze(_dims(args["dim"])),
    "select": lambda args, ts: ts[0].select(args["dim"], args["index"]),
    "slice": lambda args, ts: _slice(ts[0], args),
    "mean": lambda args, ts: ts[0].mean(dim=_dims(args["dim"]), keepdim=args.get("keepdim", False)),
    "sum": lambda args, ts: ts[0].sum(dim=_dims(args["dim"]), keepdim=args.get("keepdim", False)),
}


def _slice(tensor, args):
    """``tensor[:, ..., start:end:step]`` along ``dim``, which torch's narrow-like rules check."""
    dim = args["dim"]
    if not -tensor.dim() <= dim < tensor.dim():
        raise IndexError(f"dim {dim} out of range")
    step = slice(args.get("start"), args.get("end"), args.get("step", 1))
    return tensor[(slice(None),) * (dim % tensor.dim()) + (step,)]


def _dims(dim):
    return dim if isinstance(dim, int) else tuple(dim)


#: the argument each module takes from the input shape, and where it comes from
INFERRED_ARG = {
    "linear": ("in_features", lambda s: s[-1]),
    "conv1d": ("in_channels", lambda s: s[0]),
    "conv2d": ("in_channels", lambda s: s[0]),
    "batchnorm1d": ("num_features", lambda s: s[0]),
    "batchnorm2d": ("num_features", lambda s: s[0]),
    "layernorm": ("normalized_shape", lambda s: s[-1]),
    "rnn": ("input_size", lambda s: s[-1]),
    "lstm": ("input_size", lambda s: s[-1]),
    "gru": ("input_size", lambda s: s[-1]),
    "convtranspose1d": ("in_channels", lambda s: s[0]),
    "convtranspose2d": ("in_channels", lambda s: s[0]),
    "multiheadattention": ("embed_dim", lambda s: s[-1]),
    "transformerencoderlayer": ("d_model", lambda s: s[-1]),
    "transformerencoder": ("d_model", lambda s: s[-1]),
    "groupnorm": ("num_channels", lambda s: s[0]),
    "instancenorm1d": ("num_features", lambda s: s[0]),
    "instancenorm2d": ("num_features", lambda s: s[0]),
}
ATTENTION = ("multiheadattention", "transformerencoderlayer", "transformerencoder")
#: specc's defaults that are not torch's (documented in the README's layer table)
SPECC_DEFAULTS = {"softmax": {"dim": -1}, "logsoftmax": {"dim": -1}, "concat": {"dim": 1}}


# ---------------------------------------------------------------- the two ways to run a case


def make_inputs(shapes, dtypes, high=5):
    """A batch of 2 per input: float32 normals or int64 ids in [0, high)."""
    gen = torch.Generator().manual_seed(0)
    return [
        torch.randint(0, high, (2, *s), generator=gen)
        if d == "int64"
        else torch.randn(2, *s, generator=gen)
        for s, d in zip(shapes, dtypes, strict=True)
    ]


def specc_infer(kind, args, shapes, dtypes):
    """Validate and infer as :func:`specc.ir.lower` does; raise ShapeError/ValidationError."""
    layer = LAYER_TYPES[kind].model_validate({"type": kind, **args})
    return layer, infer_layer(layer, [tuple(s) for s in shapes], dtypes)


def run_generated(layer, inferred, tensors):
    """Exec ``init_source()`` and the ``forward_source()`` lines; check each line's shape."""
    namespace = {"torch": torch, "nn": nn}
    source = layer.init_source(inferred)
    module = None
    if source is not None:
        exec(f"module = {source}", namespace)
        module = namespace["module"]
        if isinstance(module, nn.Module):
            module.eval()
    names = [f"in_{i}" for i in range(len(tensors))]
    namespace.update(zip(names, tensors, strict=True), layer_module=module)
    for code, shape in layer.forward_source("layer_module", names, "out", inferred):
        with torch.no_grad():
            exec(code, namespace)
        assert tuple(namespace["out"].shape[1:]) == tuple(shape), (code, source)
    return namespace["out"], module


def reference(kind, args, shapes):
    """torch's own module for ``args`` (missing inferred argument taken from the shape)."""
    if kind in FUNCTIONS or kind == "parameter":
        return None
    kwargs = {**SPECC_DEFAULTS.get(kind, {}), **{k: v for k, v in args.items() if k != "output"}}
    if kind in INFERRED_ARG:
        arg, from_shape = INFERRED_ARG[kind]
        kwargs.setdefault(arg, from_shape(shapes[0]))
    if kind in ("rnn", "lstm", "gru", *ATTENTION):
        kwargs["batch_first"] = True
    if kind == "upsample":  # torch takes sizes as tuples, as the generated code writes them
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    if kind in ATTENTION:
        kwargs.pop("padding_idx", None)  # the mask is a forward argument in torch
    if kind == "upsample":  # torch's type is a tuple (float() of a list fails), as specc writes
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    if kind == "multiheadattention" and len(shapes) - ("padding_idx" in args) == 3:
        kwargs.update(kdim=shapes[1][-1], vdim=shapes[2][-1])
    if kind == "transformerencoder":
        layers, norm = kwargs.pop("num_layers"), kwargs.pop("norm", False)
        final = (
            nn.LayerNorm(
                kwargs["d_model"],
                eps=kwargs.get("layer_norm_eps", 1e-5),
                bias=kwargs.get("bias", True),
            )
            if norm
            else None
        )
        return nn.TransformerEncoder(
            nn.TransformerEncoderLayer(**kwargs), layers, norm=final, enable_nested_tensor=False
        )
    return NN_CLASSES[kind](**kwargs)


def reference_forward(kind, args, module, tensors):
    """Run the reference: merges with torch functions, ``last`` from torch's final states."""
    if kind in FUNCTIONS:
        return FUNCTIONS[kind](args, tensors)
    if kind in ATTENTION:
        return attention_forward(kind, args, module, tensors)
    if kind == "parameter":  # the shape only; check_case compares the values
        return torch.zeros(tensors[0].shape[0], *args["shape"])
    if kind not in ("rnn", "lstm", "gru"):
        return module(*tensors)
    sequence, state = module(tensors[0])
    if args["output"] == "sequence":
        return sequence
    h_n = state[0] if kind == "lstm" else state
    if args.get("bidirectional"):
        return torch.cat([h_n[-2], h_n[-1]], dim=-1)  # both directions' final states
    return h_n[-1]


def attention_forward(kind, args, module, tensors):
    """torch's attention modules, with ``ids == padding_idx`` as the key padding mask."""
    mask = None
    if "padding_idx" in args:
        *tensors, ids = tensors
        mask = ids == args["padding_idx"]
    if kind != "multiheadattention":
        return module(*tensors, src_key_padding_mask=mask)
    query, key, value = tensors * 3 if len(tensors) == 1 else tensors
    return module(query, key, value, key_padding_mask=mask, need_weights=False)[0]


def torch_outcome(kind, args, shapes, tensors):
    """``(module, output, None)`` or ``(None, None, the exception or warning)``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # torch warns where it guesses what was meant
            warnings.filterwarnings("ignore", message=".*zero-padded copy")  # performance note
            module = reference(kind, args, shapes)
            if module is not None:
                module.train()
            return module, reference_forward(kind, args, module, tensors), None
    except Exception as exc:  # torch rejects in many ways: RuntimeError, ValueError, ...
        return None, None, exc


def deliberately_forbidden(kind, args, shapes, dtypes):
    """Why specc rejects a case torch accepts, or None. Every such case is listed here."""
    rank = len(shapes[0]) + 1  # with the batch dimension
    if kind == "flatten" and args.get("start_dim", 1) % rank == 0:
        return "flatten starting at dim 0 would merge the batch dimension"
    if kind in ("softmax", "logsoftmax") and args.get("dim", -1) % rank == 0:
        return "softmax over the batch dimension mixes samples"
    if kind == "concat" and args.get("dim", 1) % rank == 0:
        return "concat along the batch dimension changes the batch size"
    if kind in ("add", "mul", "sub", "div") and not _broadcast_is_safe(shapes):
        return "broadcasting must keep the batch in place and give the shape of one input"
    if kind == "matmul" and (min(map(len, shapes)) < 2 or len({len(s) for s in shapes}) > 1):
        return "matmul needs [.., n, k] and [.., k, m] of one rank, so the batch lines up"
    batch_dims = {
        "permute": lambda: args["dims"][0] % rank != 0,
        "transpose": lambda: 0 in (args["dim0"] % rank, args["dim1"] % rank),
        "unsqueeze": lambda: args["dim"] % (rank + 1) == 0,
        "select": lambda: args["dim"] % rank == 0,
        "slice": lambda: args["dim"] % rank == 0,
    }
    if kind in batch_dims and batch_dims[kind]():
        return "the batch dimension cannot be moved or removed"
    if kind in ("squeeze", "mean", "sum"):
        dims = [args["dim"]] if isinstance(args["dim"], int) else args["dim"]
        if not dims or len({d % rank for d in dims}) < len(dims) or 0 in {d % rank for d in dims}:
            return "dims must be listed once each and never the batch dimension"
        if kind == "squeeze" and any(shapes[0][d % rank - 1] != 1 for d in dims):
            return "squeezing a dimension that is not 1 would silently do nothing"
    if kind in ("instancenorm1d", "instancenorm2d") and len(shapes[0]) == int(kind[-2]):
        return "torch reads an [N, *spatial] batch as one unbatched sample (the batch as channels)"
    if kind in INFERRED_ARG and kind != "layernorm":
        arg, from_shape = INFERRED_ARG[kind]
        if arg in args and shapes[0] and args[arg] != from_shape(shapes[0]):
            return "a written inferred argument must equal what the input gives"
    window = ("kernel_size", "stride", "padding", "dilation", "output_size", "output_padding")
    n = int(kind[-2]) if kind[-1] == "d" and kind[-2].isdigit() else None
    if n and any(isinstance(args.get(k), list) and len(args[k]) != n for k in window):
        return "one spelling per window argument: an int or a list of exactly n values"
    if n and kind != "dropout2d" and len(shapes[0]) > n + 1:
        return "a sample is [channels, *spatial]; torch would fold extra dims into the batch"
    if kind == "pixelshuffle" and len(shapes[0]) != 3:
        return (
            "a sample is [channels, height, width]; torch would read the batch as channels "
            "or fold extra dims into the batch"
        )
    if kind in ("conv1d", "conv2d", "convtranspose1d", "convtranspose2d") and len(shapes[0]) == n:
        return "torch reads an [N, *spatial] batch as one unbatched sample (the batch as channels)"
    normalized = args.get("normalized_shape")
    if kind == "layernorm" and isinstance(normalized, list) and len(normalized) >= rank:
        return "normalized_shape may not reach into the batch dimension"
    if kind in ATTENTION and "padding_idx" in args and dtypes[-1] != "int64":
        return "the padding mask compares token ids with padding_idx: the ids must be int64"
    if kind == "upsample" and len(shapes[0]) == 4:
        return "upsample is 1-D or 2-D; volumetric (trilinear) upsampling is not offered"
    if kind in ("rnn", "lstm", "gru", *ATTENTION) and len(shapes[0]) == 1:
        return "torch reads a 2-D batch as one unbatched sequence (the batch as time steps)"
    if (
        kind
        in (
            "dropout",
            "dropout2d",
            "batchnorm1d",
            "batchnorm2d",
            "layernorm",
            "groupnorm",
            "instancenorm1d",
            "instancenorm2d",
            "rnn",
            "lstm",
            "gru",
            "upsample",
            "pixelshuffle",
            "adaptivemaxpool1d",
            "adaptivemaxpool2d",
        )
        and "int64" in dtypes
    ):
        return "normalization, dropout, recurrent and sampling layers need float input"
    return None


def _broadcast_is_safe(shapes):
    if len({len(s) for s in shapes}) > 1:
        return False
    out = [max(sizes) for sizes in zip(*shapes, strict=True)]
    return any(list(s) == out for s in shapes)


def _kernel_too_large(args, shape, n):
    def each(value, default):
        value = default if value is None else value
        return [value] * n if isinstance(value, int) else value

    kernel, padding = each(args["kernel_size"], 1), each(args.get("padding"), 0)
    return any(k > size + 2 * p for k, p, size in zip(kernel, padding, shape[-n:], strict=False))


def check_case(kind, args, shapes, dtypes=None):
    """Compare specc and torch on one case; see the module docstring."""
    dtypes = dtypes or ["float32"] * len(shapes)
    high = args.get("num_embeddings", 5)
    tensors = make_inputs(shapes, dtypes, high)
    if kind in ATTENTION and "padding_idx" in args and dtypes[-1] == "int64":
        # a sequence of nothing but padding has no key to attend to (NaN in torch)
        tensors[-1][:, 0] = args["padding_idx"] + 1
    ref_module, ref_out, torch_error = torch_outcome(kind, args, shapes, tensors)
    try:
        layer, inferred = specc_infer(kind, args, shapes, dtypes)
    except (ShapeError, ValidationError) as exc:
        if torch_error is None and any(d < 1 for d in ref_out.shape):
            return  # specc rejects zero-size dimensions anywhere; torch returns empty tensors
        assert torch_error is not None or deliberately_forbidden(kind, args, shapes, dtypes), (
            f"specc rejects what torch accepts: {kind} {args} on {shapes}: {exc}"
        )
        return
    assert torch_error is None, (
        f"specc accepts what torch rejects: {kind} {args} on {shapes}: {torch_error!r}"
    )
    out, module = run_generated(layer, inferred, tensors)
    assert tuple(out.shape[1:]) == inferred.shape == tuple(ref_out.shape[1:])
    assert str(out.dtype) == f"torch.{inferred.dtype}"
    if kind == "parameter":  # torch's reference: the stored [1, *shape] tensor over the batch
        assert tuple(module.shape) == (1, *args["shape"])
        ref_out = module.expand(tensors[0].shape[0], *args["shape"])
        module = nn.ParameterList([module])
    params = sum(p.numel() for p in module.parameters()) if module is not None else 0
    assert inferred.params == params
    if ref_module is not None:
        assert inferred.params == sum(p.numel() for p in ref_module.parameters())
        ref_module.load_state_dict(module.state_dict(), strict=True)
        ref_module.eval()
        with torch.no_grad():
            ref_out = reference_forward(kind, args, ref_module, tensors)
    torch.testing.assert_close(out, ref_out, equal_nan=True)  # 0 / 0 in div


# ---------------------------------------------------------------- strategies

#: the layer types each family of cases draws from (together: every registered op)
KINDS = {
    "linear": ["linear"],
    "conv": ["conv1d", "conv2d"],
    "pool": ["maxpool1d", "maxpool2d", "avgpool1d", "avgpool2d"],
    "adaptive": [
        "adaptiveavgpool1d",
        "adaptiveavgpool2d",
        "adaptivemaxpool1d",
        "adaptivemaxpool2d",
    ],
    "flatten": ["flatten"],
    "activation": [
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
        "relu6",
        "hardtanh",
        "hardswish",
        "hardsigmoid",
        "prelu",
        "softplus",
        "mish",
        "selu",
    ],
    "norm": [
        "batchnorm1d",
        "batchnorm2d",
        "layernorm",
        "groupnorm",
        "instancenorm1d",
        "instancenorm2d",
    ],
    "dropout": ["dropout", "dropout2d"],
    "embedding": ["embedding"],
    "recurrent": ["rnn", "lstm", "gru"],
    "merge": ["add", "mul", "sub", "div", "concat"],
    "matmul": ["matmul"],
    "shape": ["permute", "transpose", "reshape", "unsqueeze", "squeeze"],
    "index": ["select", "slice"],
    "reduce": ["mean", "sum"],
    "parameter": ["parameter"],
    "transposed": ["convtranspose1d", "convtranspose2d"],
    "upsample": ["upsample"],
    "pixelshuffle": ["pixelshuffle"],
    "attention": ["multiheadattention"],
    "encoder": ["transformerencoderlayer", "transformerencoder"],
}

RARELY_INT = st.sampled_from(["float32"] * 5 + ["int64"])


def sizes(n, lo=1, hi=8):
    return st.lists(st.integers(lo, hi), min_size=n, max_size=n)


def shape_of_rank(lo_rank, hi_rank, lo=1, hi=8):
    return st.integers(lo_rank, hi_rank).flatmap(lambda r: sizes(r, lo, hi))


def int_or_list(values, n):
    return st.one_of(
        values, st.lists(values, min_size=n, max_size=n), st.lists(values, min_size=1, max_size=3)
    )  # wrong lengths too


def maybe(args: dict, key: str, strategy, draw):
    if draw(st.booleans()):
        args[key] = draw(strategy)


@st.composite
def linear_cases(draw):
    shape = draw(shape_of_rank(1, 3))
    args = {"out_features": draw(st.integers(1, 8)), "bias": draw(st.booleans())}
    maybe(args, "in_features", st.sampled_from([shape[-1], shape[-1] + 1]), draw)
    return "linear", args, [shape]


@st.composite
def conv_cases(draw):
    kind = draw(st.sampled_from(KINDS["conv"]))
    n = int(kind[-2])
    rank = draw(st.sampled_from([n + 1, n + 1, n + 1, n, n + 2]))
    shape = draw(sizes(rank, 1, 12))
    args = {
        "out_channels": draw(st.sampled_from([1, 2, 3, 4, 6])),
        "kernel_size": draw(int_or_list(st.integers(1, 5), n)),
    }
    maybe(args, "stride", int_or_list(st.integers(1, 3), n), draw)
    maybe(
        args,
        "padding",
        st.one_of(int_or_list(st.integers(0, 2), n), st.sampled_from(["same", "valid"])),
        draw,
    )
    maybe(args, "dilation", int_or_list(st.integers(1, 2), n), draw)
    maybe(args, "groups", st.integers(1, 3), draw)
    maybe(args, "bias", st.booleans(), draw)
    maybe(
        args, "padding_mode", st.sampled_from(["zeros", "reflect", "replicate", "circular"]), draw
    )
    maybe(args, "in_channels", st.sampled_from([shape[0] if shape else 1, 7]), draw)
    return kind, args, [shape]


@st.composite
def pool_cases(draw):
    kind = draw(st.sampled_from(KINDS["pool"]))
    n = int(kind[-2])
    shape = draw(sizes(draw(st.sampled_from([n, n + 1, n + 1, n + 2])), 1, 10))
    args = {"kernel_size": draw(int_or_list(st.integers(1, 5), n))}
    maybe(args, "stride", int_or_list(st.integers(1, 3), n), draw)
    maybe(args, "padding", int_or_list(st.integers(0, 2), n), draw)
    maybe(args, "ceil_mode", st.booleans(), draw)
    if kind.startswith("max"):
        maybe(args, "dilation", int_or_list(st.integers(1, 3), n), draw)
    return kind, args, [shape]


@st.composite
def adaptive_cases(draw):
    kind = draw(st.sampled_from(KINDS["adaptive"]))
    n = int(kind[-2])
    shape = draw(sizes(draw(st.sampled_from([n, n + 1, n + 1, n + 2])), 1, 9))
    args = {"output_size": draw(int_or_list(st.integers(1, 6), n))}
    return kind, args, [shape]


@st.composite
def flatten_cases(draw):
    shape = draw(shape_of_rank(1, 4, 1, 5))
    rank = len(shape) + 1
    args = {}
    maybe(args, "start_dim", st.integers(-rank - 1, rank), draw)
    maybe(args, "end_dim", st.integers(-rank - 1, rank), draw)
    return "flatten", args, [shape], [draw(st.sampled_from(["float32", "int64"]))]


def optional(key, values):
    return st.fixed_dictionaries({}, optional={key: st.sampled_from(values)})


ACTIVATION_ARGS = {
    "leakyrelu": optional("negative_slope", [0.01, 0.2]),
    "elu": optional("alpha", [1.0, 0.5]),
    "gelu": optional("approximate", ["none", "tanh"]),
    "hardtanh": st.fixed_dictionaries(
        {},
        optional={
            "min_val": st.sampled_from([-1.0, -2.0, 0.5]),
            "max_val": st.sampled_from([1.0, 6.0, 0.0]),
        },
    ),
    "softplus": st.fixed_dictionaries(
        {},
        optional={"beta": st.sampled_from([1.0, 2.0]), "threshold": st.sampled_from([20.0, 1.0])},
    ),
}


@st.composite
def activation_cases(draw):
    kind = draw(st.sampled_from(KINDS["activation"]))
    shape = draw(shape_of_rank(1, 3, 1, 5))
    args = draw(ACTIVATION_ARGS.get(kind, st.just({})))
    if kind in ("softmax", "logsoftmax"):
        maybe(args, "dim", st.integers(-len(shape) - 2, len(shape) + 1), draw)
    if kind == "prelu":
        maybe(args, "num_parameters", st.sampled_from([1, shape[0], shape[0] + 1]), draw)
        maybe(args, "init", st.sampled_from([0.25, 0.1]), draw)
    dtype = draw(st.sampled_from(["float32", "int64"])) if kind == "identity" else "float32"
    return kind, args, [shape], [dtype]


@st.composite
def norm_cases(draw):
    kind = draw(st.sampled_from(KINDS["norm"]))
    shape = draw(shape_of_rank(1, 4, 1, 5))
    args = {}
    maybe(args, "eps", st.sampled_from([1e-5, 1e-3]), draw)
    if kind == "layernorm":
        maybe(args, "elementwise_affine", st.booleans(), draw)
        maybe(args, "bias", st.booleans(), draw)
        k = draw(st.integers(1, len(shape)))
        trailing = shape[-k:]
        maybe(
            args,
            "normalized_shape",
            st.sampled_from(
                [trailing, trailing[-1], [*trailing[:-1], trailing[-1] + 1], [2, *shape]]
            ),
            draw,
        )
    elif kind == "groupnorm":
        args["num_groups"] = draw(st.sampled_from([1, 2, 3, shape[0]]))
        maybe(args, "affine", st.booleans(), draw)
        maybe(args, "num_channels", st.sampled_from([shape[0], shape[0] + 1]), draw)
    else:
        maybe(args, "momentum", st.sampled_from([None, 0.1, 0.5]), draw)
        maybe(args, "affine", st.booleans(), draw)
        maybe(args, "track_running_stats", st.booleans(), draw)
        maybe(args, "num_features", st.sampled_from([shape[0], shape[0] + 1]), draw)
    return kind, args, [shape], [draw(RARELY_INT)]


@st.composite
def dropout_cases(draw):
    kind = draw(st.sampled_from(KINDS["dropout"]))
    shape = draw(shape_of_rank(1, 4, 1, 5))
    args = {}
    maybe(args, "p", st.sampled_from([0.0, 0.3, 0.5]), draw)
    return kind, args, [shape], [draw(RARELY_INT)]


@st.composite
def embedding_cases(draw):
    n = draw(st.integers(1, 10))
    args = {"num_embeddings": n, "embedding_dim": draw(st.integers(1, 6))}
    maybe(args, "padding_idx", st.integers(-n - 1, n), draw)
    shape = draw(shape_of_rank(1, 2, 1, 6))
    dtype = draw(st.sampled_from(["int64", "int64", "float32"]))
    return "embedding", args, [shape], [dtype]


@st.composite
def recurrent_cases(draw):
    kind = draw(st.sampled_from(KINDS["recurrent"]))
    shape = draw(sizes(draw(st.sampled_from([2, 2, 2, 2, 1, 3])), 1, 5))
    args = {
        "hidden_size": draw(st.integers(1, 6)),
        "output": draw(st.sampled_from(["sequence", "last"])),
    }
    maybe(args, "num_layers", st.integers(1, 3), draw)
    maybe(args, "bidirectional", st.booleans(), draw)
    maybe(args, "dropout", st.sampled_from([0.0, 0.25]), draw)
    maybe(args, "bias", st.booleans(), draw)
    maybe(args, "input_size", st.sampled_from([shape[-1], shape[-1] + 1]), draw)
    if kind == "rnn":
        maybe(args, "nonlinearity", st.sampled_from(["tanh", "relu"]), draw)
    return kind, args, [shape], [draw(RARELY_INT)]


@st.composite
def merge_cases(draw):
    kind = draw(st.sampled_from(KINDS["merge"]))
    count = 2 if kind in ("sub", "div") else draw(st.integers(2, 3))
    base = draw(shape_of_rank(1, 3, 1, 4))
    rank = len(base) + 1
    args = {}
    if kind == "concat":
        maybe(args, "dim", st.integers(-rank - 1, rank), draw)
    shapes = []
    for _ in range(count):
        shape = list(base)
        change = draw(st.sampled_from([None, None, "size", "rank"]))
        if change == "size":
            i = draw(st.integers(0, len(shape) - 1))
            shape[i] = draw(st.integers(1, 4))
        elif change == "rank":
            shape = shape[1:] or [*shape, 1]
        if draw(st.booleans()) and kind != "concat":  # broadcast: some sizes 1
            shape = [1 if draw(st.booleans()) else size for size in shape]
        shapes.append(shape)

    dtypes = draw(st.lists(st.sampled_from(["float32", "int64"]), min_size=count, max_size=count))
    return kind, args, shapes, dtypes


@st.composite
def transposed_cases(draw):
    kind = draw(st.sampled_from(KINDS["transposed"]))
    n = int(kind[-2])
    shape = draw(sizes(draw(st.sampled_from([n + 1, n + 1, n + 1, n, n + 2])), 1, 6))
    args = {
        "out_channels": draw(st.sampled_from([1, 2, 3, 4, 6])),
        "kernel_size": draw(int_or_list(st.integers(1, 4), n)),
    }
    maybe(args, "stride", int_or_list(st.integers(1, 3), n), draw)
    maybe(args, "padding", int_or_list(st.integers(0, 3), n), draw)
    maybe(args, "output_padding", int_or_list(st.integers(0, 2), n), draw)
    maybe(args, "dilation", int_or_list(st.integers(1, 2), n), draw)
    maybe(args, "groups", st.integers(1, 3), draw)
    maybe(args, "bias", st.booleans(), draw)
    maybe(args, "in_channels", st.sampled_from([shape[0] if shape else 1, 7]), draw)
    return kind, args, [shape], [draw(RARELY_INT)]


@st.composite
def matmul_cases(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    lead = draw(st.sampled_from([[], [], [2], [3, 1]]))
    a = [*[draw(st.sampled_from([size, 1])) for size in lead], n, k]
    b = [*[draw(st.sampled_from([size, 1])) for size in lead], draw(st.sampled_from([k, k + 1])), m]
    change = draw(st.sampled_from([None, None, "vector", "rank"]))
    if change == "vector":
        b = b[-1:]
    elif change == "rank":
        a = [2, *a]
    return "matmul", {}, [a, b]


@st.composite
def shape_cases(draw):
    kind = draw(st.sampled_from(KINDS["shape"]))
    shape = draw(shape_of_rank(1, 3, 1, 4))
    rank = len(shape) + 1
    dim = st.integers(-rank - 1, rank)
    if kind == "permute":
        order = draw(st.permutations(range(1, rank)))
        dims = draw(
            st.sampled_from(
                [[0, *order], [0, *order], [*order, 0], [0, *order, rank], [0, *order][:-1]]
            )
        )
        args = {"dims": [d - rank if draw(st.booleans()) else d for d in dims]}
    elif kind == "transpose":
        args = {"dim0": draw(dim), "dim1": draw(dim)}
    elif kind == "reshape":
        total = math.prod(shape)
        sizes_ = [d for d in range(1, total + 1) if total % d == 0]
        first = draw(st.sampled_from(sizes_))
        args = {
            "shape": draw(
                st.sampled_from(
                    [
                        [first, total // first],
                        [first, -1],
                        [-1],
                        [total],
                        [-1, -1],
                        [first, total // first + 1],
                        [total, 0],
                    ]
                )
            )
        }
    elif kind == "unsqueeze":
        args = {"dim": draw(st.integers(-rank - 2, rank + 1))}
    else:
        shape = [1 if draw(st.booleans()) else size for size in shape]
        args = {"dim": draw(st.one_of(dim, st.lists(dim, min_size=0, max_size=2)))}
    return kind, args, [shape], [draw(RARELY_INT)]


@st.composite
def upsample_cases(draw):
    shape = draw(shape_of_rank(1, 4, 1, 5))
    scale = st.sampled_from([0.5, 1, 1.5, 2, 3])
    args = {}
    maybe(args, "mode", st.sampled_from(["nearest", "bilinear"]), draw)
    given_ = draw(
        st.sampled_from(
            [["size"], ["scale_factor"], ["scale_factor"], [], ["size", "scale_factor"]]
        )
    )
    if "size" in given_:
        args["size"] = draw(int_or_list(st.integers(1, 7), 2))
    if "scale_factor" in given_:
        args["scale_factor"] = draw(st.one_of(scale, st.lists(scale, min_size=1, max_size=2)))
    maybe(args, "align_corners", st.booleans(), draw)
    return "upsample", args, [shape], [draw(RARELY_INT)]


@st.composite
def pixelshuffle_cases(draw):
    r = draw(st.integers(1, 3))
    channels = draw(st.sampled_from([r * r, 2 * r * r, r * r + 1, 3]))
    shape = [channels, *draw(sizes(draw(st.sampled_from([2, 2, 1, 3])), 1, 4))]
    return "pixelshuffle", {"upscale_factor": r}, [shape], [draw(RARELY_INT)]


def _with_ids(draw, args, shapes, dtypes):
    """Maybe add ``padding_idx`` and the token ids as the last input (sometimes wrong)."""
    if draw(st.booleans()):
        args["padding_idx"] = draw(st.integers(0, 3))
        seq = shapes[-1][0] if shapes[-1] else 1
        shapes.append(draw(st.sampled_from([[seq], [seq], [seq + 1], [seq, 2]])))
        dtypes.append(draw(st.sampled_from(["int64", "int64", "int64", "float32"])))
    return args, shapes, dtypes


@st.composite
def attention_cases(draw):
    heads = draw(st.integers(1, 3))
    d = heads * draw(st.integers(1, 3)) + draw(st.sampled_from([0, 0, 0, 1]))
    query = [draw(st.integers(1, 5)), d]
    shapes = [draw(st.sampled_from([query, query, query[1:], [1, *query]]))]
    if draw(st.booleans()):
        keys = draw(st.integers(1, 5))
        shapes += [
            [keys, draw(st.integers(1, 4))],
            [draw(st.sampled_from([keys, keys, keys + 1])), draw(st.integers(1, 4))],
        ]
    args = {"num_heads": heads}
    maybe(args, "dropout", st.sampled_from([0.0, 0.25]), draw)
    maybe(args, "bias", st.booleans(), draw)
    maybe(args, "embed_dim", st.sampled_from([d, d + 1]), draw)
    return "multiheadattention", *_with_ids(draw, args, shapes, ["float32"] * len(shapes))


@st.composite
def encoder_cases(draw):
    kind = draw(st.sampled_from(KINDS["encoder"]))
    heads = draw(st.integers(1, 3))
    d = heads * draw(st.integers(1, 3)) + draw(st.sampled_from([0, 0, 0, 1]))
    query = [draw(st.integers(1, 5)), d]
    shapes = [draw(st.sampled_from([query, query, query, query[1:], [1, *query]]))]
    args = {"nhead": heads, "dim_feedforward": draw(st.integers(1, 8))}
    maybe(args, "dropout", st.sampled_from([0.0, 0.1]), draw)
    maybe(args, "activation", st.sampled_from(["relu", "gelu"]), draw)
    maybe(args, "layer_norm_eps", st.sampled_from([1e-5, 1e-6]), draw)
    maybe(args, "norm_first", st.booleans(), draw)
    maybe(args, "bias", st.booleans(), draw)
    maybe(args, "d_model", st.sampled_from([d, d + 1]), draw)
    if kind == "transformerencoder":
        args["num_layers"] = draw(st.integers(1, 2))
        maybe(args, "norm", st.booleans(), draw)
    return kind, *_with_ids(draw, args, shapes, [draw(RARELY_INT)])


@st.composite
def index_cases(draw):
    kind = draw(st.sampled_from(KINDS["index"]))
    shape = draw(shape_of_rank(1, 3, 1, 5))
    rank = len(shape) + 1
    args = {"dim": draw(st.integers(-rank - 1, rank))}
    position = st.integers(-6, 6)
    if kind == "select":
        args["index"] = draw(position)
    else:
        maybe(args, "start", st.one_of(st.none(), position), draw)
        maybe(args, "end", st.one_of(st.none(), position), draw)
        maybe(args, "step", st.integers(1, 3), draw)
    return kind, args, [shape], [draw(RARELY_INT)]


@st.composite
def reduce_cases(draw):
    kind = draw(st.sampled_from(KINDS["reduce"]))
    shape = draw(shape_of_rank(1, 3, 1, 4))
    rank = len(shape) + 1
    dim = st.integers(-rank - 1, rank)
    args = {"dim": draw(st.one_of(dim, st.lists(dim, min_size=0, max_size=3)))}
    maybe(args, "keepdim", st.booleans(), draw)
    return kind, args, [shape], [draw(RARELY_INT)]


@st.composite
def parameter_cases(draw):
    args = {"shape": draw(shape_of_rank(1, 3, 1, 4))}
    maybe(args, "init", st.sampled_from(["zeros", "normal", "trunc_normal"]), draw)
    if args.get("init", "zeros") != "zeros":
        maybe(args, "std", st.sampled_from([0.02, 1.0]), draw)
    return "parameter", args, [draw(shape_of_rank(1, 2, 1, 4))], [draw(RARELY_INT)]


# ---------------------------------------------------------------- the properties

FAMILIES = {
    "linear": linear_cases,
    "conv": conv_cases,
    "pool": pool_cases,
    "adaptive": adaptive_cases,
    "flatten": flatten_cases,
    "activation": activation_cases,
    "norm": norm_cases,
    "dropout": dropout_cases,
    "embedding": embedding_cases,
    "recurrent": recurrent_cases,
    "merge": merge_cases,
    "transposed": transposed_cases,
    "upsample": upsample_cases,
    "pixelshuffle": pixelshuffle_cases,
    "attention": attention_cases,
    "encoder": encoder_cases,
    "matmul": matmul_cases,
    "shape": shape_cases,
    "index": index_cases,
    "reduce": reduce_cases,
    "parameter": parameter_cases,
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_infer_matches_torch(family):
    @SETTINGS
    @given(FAMILIES[family]())
    def run(case):
        check_case(*case)

    run()


def test_every_registered_op_is_covered():
    drawn = {kind for kinds in KINDS.values() for kind in kinds}
    assert drawn == set(LAYER_TYPES)
    assert set(KINDS) == set(FAMILIES)
    assert set(NN_CLASSES) | set(FUNCTIONS) | {"parameter"} == set(LAYER_TYPES)


# ---------------------------------------------------------------- the written contract


def _layer(**args):
    return LAYER_TYPES[args["type"]].model_validate(args)


def test_recurrent_source_and_last_step():
    lstm = _layer(type="lstm", hidden_size=64, output="last", bidirectional=True)
    inferred = lstm.infer([(28, 28)], ["float32"])
    assert lstm.init_source(inferred) == "nn.LSTM(28, 64, batch_first=True, bidirectional=True)"
    assert lstm.forward_source("self.lstm_1", ["x"], "x", inferred) == [
        ("x, _ = self.lstm_1(x)", (28, 128)),
        ("x = torch.cat([x[:, -1, :64], x[:, 0, 64:]], dim=-1)", (128,)),
    ]
    gru = _layer(type="gru", hidden_size=8, output="last")
    assert gru.forward_source("self.g", ["h"], "y", gru.infer([(5, 3)], ["float32"]))[1] == (
        "y = y[:, -1]",
        (8,),
    )
    assert inferred.params == 2 * (4 * 64 * (28 + 64) + 2 * 4 * 64)


def test_recurrent_output_is_required_and_input_must_be_a_sequence():
    with pytest.raises(ValidationError, match="output"):
        _layer(type="lstm", hidden_size=4)
    rnn = _layer(type="rnn", hidden_size=4, output="sequence")
    with pytest.raises(
        ShapeError,
        match=r"needs a \[seq, features\] input per sample, got "
        r"\[1, 28, 28\]",
    ):
        rnn.infer([(1, 28, 28)], ["float32"])


def test_embedding_needs_int64_and_outputs_float32():
    emb = _layer(type="embedding", num_embeddings=100, embedding_dim=8)
    assert emb.infer([(12,)], ["int64"]).dtype == "float32"
    with pytest.raises(ShapeError, match=r"model\.input\.dtype: int64"):
        emb.infer([(12,)], ["float32"])


def test_merges_name_the_shapes_and_have_no_module():
    add = _layer(type="add")
    with pytest.raises(ShapeError, match=r"cannot broadcast \[4, 8\], \[4, 9\]: dimension 2"):
        add.infer([(4, 8), (4, 9)], ["float32"] * 2)
    assert add.init_source(add.infer([(4,), (4,)], ["float32"] * 2)) is None
    concat = _layer(type="concat")
    with pytest.raises(ShapeError, match="dim 2 does not exist"):
        _layer(type="concat", dim=2).infer([(4,), (4,)], ["float32"] * 2)
    assert concat.forward_source(
        "", ["a", "b"], "x", concat.infer([(3, 5), (2, 5)], ["float32"] * 2)
    ) == [("x = torch.cat([a, b], dim=1)", (5, 5))]


def test_norm_sources_omit_torch_defaults():
    bn = _layer(type="batchnorm2d", momentum=None)
    assert bn.init_source(bn.infer([(6, 4, 4)], ["float32"])) == "nn.BatchNorm2d(6, momentum=None)"
    ln = _layer(type="layernorm")
    assert ln.init_source(ln.infer([(7, 32)], ["float32"])) == "nn.LayerNorm(32)"
    with pytest.raises(ShapeError, match="normalized_shape is"):
        _layer(type="layernorm", normalized_shape=16).infer([(7, 32)], ["float32"])
