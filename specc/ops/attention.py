"""Attention: ``multiheadattention``, ``transformerencoderlayer``, ``transformerencoder``.

All are batch-first over per-sample ``[seq, d_model]``; ``embed_dim``/``d_model`` is the
input's last dimension. Padding: with ``padding_idx`` set, the layer's last input is the token
ids ``[seq]`` (usually ``input``) and positions whose id equals ``padding_idx`` are masked as
keys (``key_padding_mask = ids == padding_idx``), so no position attends to padding. The mask is
computed in ``forward``; outputs at padded positions themselves are still computed (and
meaningless), so pool over or select non-pad positions downstream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import StrictInt

from specc.ops.base import (
    Inferred,
    Layer,
    PosInt,
    PositiveFloat,
    Probability,
    Shape,
    ShapeError,
    SourceLines,
    call,
    fmt_int,
)


def mha_params(d: int, kdim: int, vdim: int, bias: bool) -> int:
    """Parameters of ``nn.MultiheadAttention``: q/k/v projections into d, then ``out_proj``."""
    return d * (d + kdim + vdim) + d * d + (4 * d if bias else 0)


def _sequence(shape: Shape, what: str) -> tuple[int, int]:
    if len(shape) != 2:
        raise ShapeError(f"{what} needs a [seq, features] input per sample, got {list(shape)}")
    return shape[0], shape[1]


def _split_ids(
    layer: MultiheadAttention | _Encoder, shapes: Sequence[Shape], dtypes: Sequence[str]
) -> tuple[list[Shape], int | None]:
    """``(data shapes, seq of ids or None)``; checks dtypes: float data, int64 ids."""
    data_shapes, data_dtypes = list(shapes), list(dtypes)
    ids = None
    if layer.padding_idx is not None:
        if len(shapes) < 2:
            raise ShapeError(
                "padding_idx needs the token ids as the last input, e.g. "
                "`inputs: [embedding_1, input]`"
            )
        ids, ids_dtype = data_shapes.pop(), data_dtypes.pop()
        if ids_dtype != "int64" or len(ids) != 1:
            raise ShapeError(
                f"with padding_idx the last input must be [seq] int64 token ids, "
                f"got {list(ids)} {ids_dtype}"
            )
    if "int64" in data_dtypes:
        raise ShapeError(
            f"{layer.kind} needs float32 inputs, but an input is int64 (token ids); "
            "an embedding layer turns ids into vectors"
        )
    return data_shapes, None if ids is None else ids[0]


def _check_ids(seq_ids: int | None, seq: int) -> None:
    if seq_ids is not None and seq_ids != seq:
        raise ShapeError(f"the token ids have {seq_ids} positions but the keys have {seq}")


def _mask_arg(layer: MultiheadAttention | _Encoder, args: list[str]) -> str:
    return f"{args[-1]} == {layer.padding_idx}"


def _heads(d: int, heads: int, what: str) -> None:
    if d % heads:
        raise ShapeError(f"{what} {d} must be divisible by the number of heads ({heads})")


class MultiheadAttention(Layer):
    """``nn.MultiheadAttention(batch_first=True)``; the output is the attention output only.

    Inputs: one (self-attention), or ``[query, key, value]``; plus the token ids last when
    ``padding_idx`` is set. Shapes: query ``[L, embed_dim]``, key ``[S, kdim]``, value
    ``[S, vdim]`` -> ``[L, embed_dim]``.
    """

    type: Literal["multiheadattention"]
    num_heads: PosInt
    dropout: Probability = 0.0
    bias: bool = True
    padding_idx: StrictInt | None = None
    embed_dim: PosInt | None = None
    torch_class = "nn.MultiheadAttention"
    arity = (1, 4)
    accepts_int = True
    inferred_args = ("embed_dim",)

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        """``[L, E]`` (and ``[S, kdim]``, ``[S, vdim]``) -> ``[L, E]``."""
        data, seq_ids = _split_ids(self, shapes, dtypes)
        if len(data) not in (1, 3):
            raise ShapeError(
                f"multiheadattention takes one input (self-attention) or three "
                f"[query, key, value]{' plus the token ids' if seq_ids else ''}, "
                f"got {len(data)}"
            )
        seqs = [_sequence(s, "multiheadattention") for s in data]
        (length, d), (keys, kdim), (values, vdim) = seqs * 3 if len(seqs) == 1 else seqs
        if keys != values:
            raise ShapeError(
                f"key and value need the same sequence length, got {keys} and {values}"
            )
        _heads(d, self.num_heads, "embed_dim")
        _check_ids(seq_ids, keys)
        params = mha_params(d, kdim, vdim, self.bias)
        heads = f"{self.num_heads} heads of {d // self.num_heads}"
        return Inferred(
            shape=(length, d),
            args={"embed_dim": d, "kdim": kdim, "vdim": vdim, "self": len(data) == 1},
            params=params,
            macs=d * (length * d + keys * (kdim + vdim)) + 2 * length * keys * d + length * d * d,
            explain=[
                f"multiheadattention: embed_dim = {d}, {heads}",
                f"multiheadattention: {d}*({d} + {kdim} + {vdim}) + {d}*{d}"
                f"{f' + 4*{d}' if self.bias else ''} = {fmt_int(params)} parameters",
            ],
        )

    def init_source(self, inferred: Inferred) -> str:
        d, kdim, vdim = (inferred.args[k] for k in ("embed_dim", "kdim", "vdim"))
        return call(
            "nn.MultiheadAttention",
            [d, self.num_heads],
            **self.changed("dropout", "bias"),
            kdim=None if kdim == d else kdim,
            vdim=None if vdim == d else vdim,
            batch_first=True,
        )

    def forward_source(
        self, attr: str, args: list[str], out: str, inferred: Inferred
    ) -> SourceLines:
        """``x, _ = self.attn(x, x, x, need_weights=False)``, with the padding mask if any."""
        data = args[:-1] if self.padding_idx is not None else args
        qkv = data * 3 if inferred.args["self"] else data
        mask = "" if self.padding_idx is None else f", key_padding_mask={_mask_arg(self, args)}"
        code = f"{out}, _ = {attr}({', '.join(qkv)}{mask}, need_weights=False)"
        return [(code, inferred.shape)]


class _Encoder(Layer):
    """Shared arguments and logic of ``transformerencoderlayer`` and ``transformerencoder``."""

    type: str  # each member narrows it to its Literal (declared here to keep the field order)
    nhead: PosInt
    dim_feedforward: PosInt = 2048
    dropout: Probability = 0.1
    activation: Literal["relu", "gelu"] = "relu"
    layer_norm_eps: PositiveFloat = 1e-5
    norm_first: bool = False
    bias: bool = True
    padding_idx: StrictInt | None = None
    d_model: PosInt | None = None
    arity = (1, 2)
    accepts_int = True
    inferred_args = ("d_model",)

    def _layers(self) -> int:
        """The encoder layers one module holds (``transformerencoder``: ``num_layers``)."""
        return 1

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        """``[seq, d_model] -> [seq, d_model]``."""
        data, seq_ids = _split_ids(self, shapes, dtypes)
        if len(data) != 1:
            raise ShapeError(
                f"{self.kind} takes one sequence input (plus the token ids with "
                f"padding_idx), got {len(data)}"
            )
        seq, d = _sequence(data[0], self.kind)
        _heads(d, self.nhead, "d_model")
        _check_ids(seq_ids, seq)
        ff, n = self.dim_feedforward, self._layers()
        b = 1 if self.bias else 0
        per = mha_params(d, d, d, self.bias) + 2 * d * ff + b * (ff + d) + 2 * (1 + b) * d
        params, explain = self._total(per, n, d)
        explain[:0] = [
            f"{self.kind}: d_model = {d} (features per step of {list(data[0])}), "
            f"{self.nhead} heads of {d // self.nhead}",
            f"{self.kind}: per layer: attention {fmt_int(mha_params(d, d, d, self.bias))} + "
            f"feed-forward 2*{d}*{ff}{f' + {ff} + {d}' if b else ''} + norms "
            f"2*{1 + b}*{d} = {fmt_int(per)} parameters",
        ]
        macs = n * seq * (4 * d * d + 2 * d * ff + 2 * seq * d)
        return Inferred(
            shape=(seq, d), args={"d_model": d}, params=params, macs=macs, explain=explain
        )

    def _total(self, per: int, n: int, d: int) -> tuple[int, list[str]]:
        return per, []

    def _layer_source(self, d: int) -> str:
        return call(
            "nn.TransformerEncoderLayer",
            [d, self.nhead],
            **self.changed("dim_feedforward", "dropout", "activation", "layer_norm_eps"),
            batch_first=True,
            **self.changed("norm_first", "bias"),
        )

    def init_source(self, inferred: Inferred) -> str:
        return self._layer_source(inferred.args["d_model"])

    def expression(self, attr: str, args: list[str], inferred: Inferred) -> str:
        """``self.encoder(x)``, with ``src_key_padding_mask`` from the ids if any."""
        mask = "" if self.padding_idx is None else f", src_key_padding_mask={_mask_arg(self, args)}"
        return f"{attr}({args[0]}{mask})"


class TransformerEncoderLayer(_Encoder):
    """``nn.TransformerEncoderLayer(batch_first=True)``: ``[seq, d_model] -> [seq, d_model]``.

    Self-attention then a feed-forward block, each with a residual and a LayerNorm (after, or
    before with ``norm_first``). Inputs: the sequence, plus the token ids with ``padding_idx``.
    """

    type: Literal["transformerencoderlayer"]
    torch_class = "nn.TransformerEncoderLayer"


class TransformerEncoder(_Encoder):
    """``nn.TransformerEncoder``: ``num_layers`` copies of the encoder layer described by the
    same arguments; ``[seq, d_model] -> [seq, d_model]``.

    ``norm: true`` adds a final ``LayerNorm(d_model)`` (torch's ``norm`` argument); it is off by
    default, as torchvision's ViT keeps its final norm as a separate layer. The nested-tensor
    fast path is turned off (``enable_nested_tensor=False``) so padded positions are computed
    the same way in training, evaluation and ONNX export.
    """

    type: Literal["transformerencoder"]
    num_layers: PosInt
    norm: bool = False
    torch_class = "nn.TransformerEncoder"

    def _layers(self) -> int:
        return self.num_layers

    def _total(self, per: int, n: int, d: int) -> tuple[int, list[str]]:
        norm = (2 if self.bias else 1) * d if self.norm else 0
        text = f" + final norm {norm}" if norm else ""
        total = n * per + norm
        return total, [f"{self.kind}: {n}*{fmt_int(per)}{text} = {fmt_int(total)} parameters"]

    def init_source(self, inferred: Inferred) -> str:
        d = inferred.args["d_model"]
        norm = None
        if self.norm:
            norm = call(
                "nn.LayerNorm",
                [d],
                eps=None if self.layer_norm_eps == 1e-5 else self.layer_norm_eps,
                bias=None if self.bias else False,
            )
        layer = self._layer_source(d)
        extra = f", norm={norm}" if norm else ""
        return (
            f"nn.TransformerEncoder({layer}, num_layers={self.num_layers}{extra}, "
            "enable_nested_tensor=False)"
        )
