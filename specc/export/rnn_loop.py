"""A ``while_loop`` decomposition of ``nn.RNN`` (tanh and relu), used while capturing.

torch's default decomposition of ``aten.rnn_tanh`` / ``aten.rnn_relu`` is a Python loop over
the time steps; ``torch.export`` runs it to infer shapes, which fixes the sequence length.
torch ships while-loop versions for LSTM and GRU only (``torch.export._patches``, which
torch.onnx applies itself); this is the same for the Elman RNN, on the same private helpers,
so the captured program keeps a symbolic sequence length. The op itself stays in the
program and becomes an ONNX ``RNN`` (:mod:`specc.export.rnn_onnx`). All of this is private
torch API: when it is missing the export falls back to a fixed length.
"""

from __future__ import annotations

import contextlib
from functools import partial

__all__ = ["register_rnn_while_loop_decompositions"]


def _one_layer(inp, hidden, params, has_biases, reverse=False, *, nonlinearity):
    """One layer, one direction: ``inp`` (seq, B, in) -> ((seq, B, H), (B, H))."""
    import torch
    from torch._higher_order_ops.while_loop import while_loop
    from torch.export._patches import _clone_tensors_that_alias

    ih_weight, hh_weight = params[0], params[1]
    ih_bias = params[2] if has_biases else None
    hh_bias = params[3] if has_biases else None
    steps = torch.nn.functional.linear(inp, ih_weight, ih_bias)
    steps = steps.flip(0) if reverse else steps
    hh_weight, hh_bias = _clone_tensors_that_alias((hh_weight, hh_bias))
    state = hidden.unsqueeze(0)
    out = torch.empty(steps.size(0), *state.shape[1:], dtype=state.dtype, device=state.device)

    def cond_fn(idx, out, state):
        return idx < steps.size(0)

    def body_fn(idx, out, state):
        i = idx.item()
        torch._check_is_size(i)
        torch._check_is_size(i, max=steps.size(0) - 1)
        state = nonlinearity(torch.nn.functional.linear(state, hh_weight, hh_bias) + steps[i])
        out = out.clone()
        out[i] = state.squeeze(0)
        return idx + 1, out, state

    count = torch.tensor(0, dtype=torch.int64)
    _, out, final = while_loop(cond_fn, body_fn, [count, out, state])
    return (out.flip(0) if reverse else out), final.squeeze(0)


def _impl(nonlinearity):
    def rnn(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
        import torch
        from torch._decomp.decompositions import _rnn_helper, gather_params

        out, finals = _rnn_helper(
            input,
            list(hx.unbind(0)),
            gather_params(params, has_biases, False),
            has_biases,
            num_layers,
            dropout,
            train,
            bidirectional,
            batch_first,
            partial(_one_layer, nonlinearity=nonlinearity),
        )
        return out, torch.stack(finals, 0)

    return rnn


@contextlib.contextmanager
def register_rnn_while_loop_decompositions():
    """Within the block, ``aten.rnn_tanh`` and ``aten.rnn_relu`` decompose to a while loop."""
    import torch
    from torch.export._patches import (
        _clone_tensors_that_alias,  # noqa: F401 - fail early when it is gone
        _register_rnn_while_loop_decomposition,
    )

    ops = torch.ops.aten
    with (
        _register_rnn_while_loop_decomposition(ops.rnn_tanh.input, _impl(torch.tanh)),
        _register_rnn_while_loop_decomposition(ops.rnn_relu.input, _impl(torch.relu)),
    ):
        yield
