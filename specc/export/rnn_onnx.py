"""ONNX translation of ``nn.RNN`` (``aten.rnn_tanh`` / ``aten.rnn_relu``) to the ONNX ``RNN`` op.

torch.onnx translates LSTM and GRU to the native ONNX ``LSTM``/``GRU`` ops, but has no
translation for the Elman RNN: it decomposes it into a Python loop over the time steps,
unrolled at the example's length, which is wrong for any other length. This module gives the
exporter a translation (``custom_translation_table``) in the same style as onnxscript's own
``aten_gru``: one ONNX ``RNN`` per layer, weights stacked per direction, batch-first input
transposed to and from ONNX's ``[seq, batch, features]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

__all__ = ["rnn_translations"]


def _layer_weights(
    op, params: Sequence, first: int, per_direction: int, directions: int, has_biases: bool
):
    """ONNX ``W`` [D, H, in], ``R`` [D, H, H] and ``B`` [D, 2H] (or None) of one layer."""
    ws, rs, bs = [], [], []
    for d in range(directions):
        start = first + d * per_direction
        ws.append(op.Unsqueeze(params[start], [0]))
        rs.append(op.Unsqueeze(params[start + 1], [0]))
        if has_biases:
            bias = op.Concat(params[start + 2], params[start + 3], axis=0)
            bs.append(op.Unsqueeze(bias, [0]))

    def stack(items):
        return op.Concat(*items, axis=0) if len(items) > 1 else items[0]

    return stack(ws), stack(rs), (stack(bs) if has_biases else None)


def _rnn(activation: str) -> Callable[..., tuple[Any, Any]]:
    """The translation of ``aten.rnn_tanh`` (``activation`` ``Tanh``) or ``aten.rnn_relu``
    (``Relu``); the exporter calls it with onnxscript's traced tensors."""

    def translate(
        input: Any,
        hx: Any,
        params: Sequence[Any],
        has_biases: bool,
        num_layers: int,
        dropout: float,
        train: bool,
        bidirectional: bool,
        batch_first: bool,
    ) -> tuple[Any, Any]:
        """``aten.rnn_*.input``: (B, seq, in) or (seq, B, in) -> (output, h_n)."""
        from onnxscript import INT64
        from onnxscript.onnx_opset import opset18 as op

        directions = 2 if bidirectional else 1
        per_direction = 4 if has_biases else 2
        x = op.Transpose(input, perm=[1, 0, 2]) if batch_first else input
        finals = []
        for layer in range(num_layers):
            w, r, b = _layer_weights(
                op,
                params,
                layer * per_direction * directions,
                per_direction,
                directions,
                has_biases,
            )
            first, last = [layer * directions], [(layer + 1) * directions]
            # onnxscript turns a list of ints into an INT64 constant when it traces the call
            h0 = op.Slice(hx, first, last, axes=[0])  # type: ignore[type-var]
            hidden = params[1].shape[1]
            y, y_h = op.RNN(
                x,
                w,
                r,
                b,
                None,
                h0,
                activations=[activation] * directions,
                direction="bidirectional" if bidirectional else "forward",
                hidden_size=hidden,
            )
            # y: (seq, D, B, H) -> (seq, B, D*H)
            y = op.Transpose(y, perm=[0, 2, 1, 3])
            shape = cast(INT64, op.Constant(value_ints=[0, 0, directions * hidden]))
            x = op.Reshape(y, shape)
            finals.append(y_h)
        h_n = op.Concat(*finals, axis=0) if len(finals) > 1 else finals[0]
        out = op.Transpose(x, perm=[1, 0, 2]) if batch_first else x
        return out, h_n

    return translate


def rnn_translations() -> dict[Any, Callable[..., tuple[Any, Any]]]:
    """``{torch op: translation}`` for ``torch.onnx.export(custom_translation_table=...)``."""
    import torch

    return {
        torch.ops.aten.rnn_tanh.input: _rnn("Tanh"),
        torch.ops.aten.rnn_relu.input: _rnn("Relu"),
    }
