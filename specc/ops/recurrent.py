"""Recurrent layers: ``rnn``, ``lstm``, ``gru`` (batch-first, per-sample ``[seq, features]``).

``output`` is required and says what the layer passes on: ``sequence`` (every step,
``[seq, D*hidden]``) or ``last`` (``[D*hidden]``: the final step; for a bidirectional layer the
forward direction's last step concatenated with the backward direction's first, i.e. both
directions' final hidden states). D is 2 when bidirectional, else 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import ValidationInfo, field_validator

from specc.ops.base import (
    Inferred,
    Layer,
    PosInt,
    Probability,
    Shape,
    ShapeError,
    SourceLines,
    call,
    fmt_int,
)


class _Recurrent(Layer):
    """Shared logic of rnn/lstm/gru; ``gates`` is the number of weight blocks per layer."""

    torch_class: ClassVar[str]  # every member is a module

    gates: ClassVar[int] = 1
    #: a member's own torch arguments, written after ``hidden_size``
    own_args: ClassVar[tuple[str, ...]] = ()
    hidden_size: PosInt
    output: Literal["sequence", "last"]
    num_layers: PosInt = 1
    bias: bool = True
    bidirectional: bool = False
    dropout: Probability = 0.0
    input_size: PosInt | None = None

    inferred_args = ("input_size",)

    @field_validator("dropout")
    @classmethod
    def _dropout_needs_layers(cls, dropout: float, info: ValidationInfo) -> float:
        if dropout and info.data.get("num_layers") == 1:
            raise ValueError(
                "it applies between stacked layers, so with num_layers 1 it does nothing; "
                "set num_layers >= 2 or add a dropout layer after this one"
            )
        return dropout

    @property
    def directions(self) -> int:
        """2 when bidirectional, else 1."""
        return 2 if self.bidirectional else 1

    def _params(self, n_in: int) -> tuple[int, list[str]]:
        """Parameter count of all layers and directions, with the arithmetic per layer."""
        g, h, d = self.gates, self.hidden_size, self.directions
        total, explain = 0, []
        for k in range(self.num_layers):
            size = n_in if k == 0 else d * h
            per = g * h * (size + h) + (2 * g * h if self.bias else 0)
            total += d * per
            bias_text = f" + 2*{g}*{h}" if self.bias else ""
            formula = f"{g}*{h}*({size} + {h}){bias_text}"
            formula = f"2*({formula})" if d == 2 else formula
            explain.append(f"{self.kind}: layer {k + 1}: {formula} = {fmt_int(d * per)} parameters")
        return total, explain

    def infer(self, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
        (shape,) = shapes
        if len(shape) != 2:
            raise ShapeError(
                f"a recurrent layer needs a [seq, features] input per sample, got {list(shape)}"
            )
        seq, n_in = shape
        width = self.directions * self.hidden_size
        params, explain = self._params(n_in)
        explain.insert(0, f"{self.kind}: input_size = {n_in} (features per step of {list(shape)})")
        out = (seq, width) if self.output == "sequence" else (width,)
        explain.append(f"{self.kind}: output {self.output} -> {list(out)}")
        macs = seq * sum(
            self.directions * self.gates * self.hidden_size * (size + self.hidden_size)
            for size in [n_in] + [width] * (self.num_layers - 1)
        )
        return Inferred(
            shape=out,
            args={"input_size": n_in, "seq_len": seq},
            params=params,
            macs=macs,
            explain=explain,
        )

    def init_source(self, inferred: Inferred) -> str:
        return call(
            self.torch_class,
            [inferred.args["input_size"], self.hidden_size],
            **self.changed(*self.own_args, "num_layers", "bias"),
            batch_first=True,
            **self.changed("dropout", "bidirectional"),
        )

    def forward_source(
        self, attr: str, args: list[str], out: str, inferred: Inferred
    ) -> SourceLines:
        """``x, _ = self.lstm(x)`` then, for ``output: last``, the final step(s)."""
        width = self.directions * self.hidden_size
        lines: SourceLines = [(f"{out}, _ = {attr}({args[0]})", (inferred.args["seq_len"], width))]
        if self.output == "last":
            h = self.hidden_size
            if self.bidirectional:
                code = f"{out} = torch.cat([{out}[:, -1, :{h}], {out}[:, 0, {h}:]], dim=-1)"
            else:
                code = f"{out} = {out}[:, -1]"
            lines.append((code, inferred.shape))
        return lines


class RNN(_Recurrent):
    """``nn.RNN`` (Elman): ``[seq, input_size] -> [seq, D*hidden_size]`` or ``[D*hidden_size]``."""

    type: Literal["rnn"]
    nonlinearity: Literal["tanh", "relu"] = "tanh"
    gates = 1
    torch_class = "nn.RNN"
    own_args = ("nonlinearity",)


class LSTM(_Recurrent):
    """``nn.LSTM``: ``[seq, input_size] -> [seq, D*hidden_size]`` or ``[D*hidden_size]``."""

    type: Literal["lstm"]
    gates = 4
    torch_class = "nn.LSTM"


class GRU(_Recurrent):
    """``nn.GRU``: ``[seq, input_size] -> [seq, D*hidden_size]`` or ``[D*hidden_size]``."""

    type: Literal["gru"]
    gates = 3
    torch_class = "nn.GRU"
