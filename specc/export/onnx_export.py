"""Torch module -> ONNX graph with a dynamic batch (and sequence) dimension.

Two steps, done separately so a failure can be pinned on a spec layer:
``torch.export.export`` with explicit ``dynamic_shapes`` (example batch of 3, since a batch of
1 would silently fix the batch size), then ``torch.onnx.export`` of that ExportedProgram
(the dynamo exporter) at the requested opset.

A dynamic sequence length is asked for when the model has recurrent layers (per-sample input
``[seq, features]``, or ``[seq]`` token ids for an embedding). When torch cannot keep it
symbolic (for example ``nn.RNN``, whose decomposition unrolls over the time steps, or layers
after the recurrent one that depend on the length), the export falls back to the spec's fixed
sequence length and says so in :attr:`Exported.seq_note`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import traceback
import warnings
from dataclasses import dataclass
from typing import Any

__all__ = ["EXAMPLE_BATCH", "ExportFailure", "Exported", "export_module"]

#: Batch size of the example input (>= 2, so the batch dimension stays symbolic).
EXAMPLE_BATCH = 3


class ExportFailure(Exception):
    """The exporter could not convert the model; ``layer`` names the culprit when known."""

    def __init__(self, message: str, layer: str | None = None) -> None:
        super().__init__(message)
        self.layer = layer


@dataclass
class Exported:
    """The exported ONNX model and what became dynamic.

    Attributes:
        proto: the ``onnx.ModelProto``.
        dynamic_seq: the sequence dimension is symbolic in the ONNX input.
        seq_note: why the sequence length stayed fixed, when it was asked for but failed.
    """

    proto: Any
    dynamic_seq: bool
    seq_note: str | None = None


@contextlib.contextmanager
def _quiet():
    """Silence the exporter's progress prints, warnings and log lines; keep them for errors."""
    buffer = io.StringIO()
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with (contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer),
              warnings.catch_warnings()):
            warnings.simplefilter("ignore")
            yield buffer
    finally:
        logger.setLevel(level)


def example_input(input_shape: tuple[int, ...], input_dtype: str, *, batch: int = EXAMPLE_BATCH,
                  seq: int | None = None, high: int = 2, seed: int = 0):
    """A random ``(batch, *input_shape)`` tensor; ``seq`` replaces the first sample dimension.

    int64 inputs are token ids drawn from ``[0, high)``; float inputs are standard normal.
    """
    import torch

    shape = list(input_shape)
    if seq is not None:
        shape[0] = seq
    generator = torch.Generator().manual_seed(seed)
    if input_dtype == "int64":
        return torch.randint(0, high, (batch, *shape), generator=generator)
    return torch.randn((batch, *shape), generator=generator)


@contextlib.contextmanager
def _dynamic_rnn_patches():
    """The patches torch.onnx itself applies for dynamic shapes (private torch API, so optional).

    LSTM and GRU get while-loop decompositions (an ONNX ``Loop``) instead of a Python loop
    over the time steps, which would fix the sequence length; ``backed_size_oblivious`` keeps
    a dimension of size 0/1 symbolic.
    """
    with contextlib.ExitStack() as stack:
        try:
            import torch.fx.experimental._config as fx_config
            from torch.export._patches import (
                register_gru_while_loop_decomposition,
                register_lstm_while_loop_decomposition,
            )
        except ImportError:  # an older or newer torch: export without them
            yield
            return
        stack.enter_context(register_lstm_while_loop_decomposition())
        stack.enter_context(register_gru_while_loop_decomposition())
        stack.enter_context(fx_config.patch(backed_size_oblivious=True))
        yield


def _torch_export(module, example, dynamic_seq: bool):
    """``torch.export`` with a symbolic batch (and seq); refined as torch.onnx does.

    Guards on a dynamic dimension (such as ``batch != 1`` from the LSTM decomposition)
    become runtime asserts rather than failures (as in torch.onnx); when torch suggests a
    fix it is applied, which can make a dimension static (``nn.RNN`` fixes the sequence
    length): :func:`_dynamic_dims` detects that afterwards in the ONNX input, and parity at
    batch 1 and two sequence lengths checks the result.
    """
    import torch
    from torch.export import Dim
    from torch.export.dynamic_shapes import refine_dynamic_shapes_from_suggested_fixes

    dims = {0: Dim("batch")}
    if dynamic_seq:
        dims[1] = Dim("seq")
    options = {"strict": False, "prefer_deferred_runtime_asserts_over_guards": True}
    with _dynamic_rnn_patches():
        try:
            return torch.export.export(module, (example,), dynamic_shapes=(dims,), **options)
        except torch._dynamo.exc.UserError as exc:
            try:
                refined = refine_dynamic_shapes_from_suggested_fixes(exc.msg, (dims,))
            except Exception:
                raise exc from None
            return torch.export.export(module, (example,), dynamic_shapes=refined, **options)


def _export_program(module, example, want_seq: bool, layers: dict[str, Any]):
    """The ExportedProgram, asking for a dynamic seq first when ``want_seq``."""
    if want_seq:
        try:
            return _torch_export(module, example, True), None
        except Exception as exc:  # the seq dimension could not stay symbolic
            note = f"torch.export could not keep the sequence length symbolic ({_first_line(exc)})"
    else:
        note = None
    try:
        return _torch_export(module, example, False), note
    except Exception as exc:
        raise ExportFailure(_first_line(exc), _layer_from_traceback(exc, layers)) from exc


def _dynamic_dims(proto) -> list[bool]:
    """Whether each dimension of the first ONNX graph input is symbolic."""
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    return [dim.HasField("dim_param") or not dim.HasField("dim_value") for dim in dims]


def export_module(module, input_shape: tuple[int, ...], input_dtype: str, *, opset: int,
                  input_name: str, output_names: list[str], dynamic_seq: bool = False,
                  high: int = 2) -> Exported:
    """Export an eval-mode module whose forward takes one ``(B, *input_shape)`` tensor.

    Args:
        module: the model; put into eval mode here.
        input_shape: one sample's shape; ``input_dtype`` is ``float32`` or ``int64``.
        opset: ONNX opset version.
        input_name / output_names: names in the ONNX graph.
        dynamic_seq: also make the first per-sample dimension dynamic (recurrent models).
            Layer names for errors are the children of ``module._specc_inner`` when it has one
            (a preprocessing wrapper), else of ``module``.
        high: exclusive bound of example token ids for int64 inputs.

    Raises:
        ExportFailure: with the failing layer's name when it can be found.
    """
    import torch

    module.eval()
    layers = dict(getattr(module, "_specc_inner", module).named_children())
    example = example_input(input_shape, input_dtype, high=high)
    with _quiet(), torch.no_grad():
        program, note = _export_program(module, example, dynamic_seq, layers)
        try:
            onnx_program = torch.onnx.export(
                program, (example,), dynamo=True, opset_version=opset, verbose=False,
                input_names=[input_name], output_names=output_names, optimize=True,
            )
        except Exception as exc:
            layer = _layer_from_program(exc, program, layers)
            raise ExportFailure(_conversion_message(exc), layer) from exc
    proto = onnx_program.model_proto
    dynamic = _dynamic_dims(proto)
    if not dynamic[0]:
        raise ExportFailure("torch.export fixed the batch dimension; a layer depends on it")
    seq_ok = dynamic_seq and len(dynamic) > 1 and dynamic[1]
    if dynamic_seq and not seq_ok:
        note = note or ("torch.export specialized it: a layer needs a fixed length (a "
                        "flatten after the sequence, or nn.RNN, whose decomposition unrolls "
                        "the time steps)")
        note = f"the sequence length is fixed at {example.shape[1]}: {note}"
    return Exported(proto, seq_ok, note)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


_NODE = re.compile(r"translating node %(\w+)")
_SUMMARY = re.compile(r"<class '[\w.]+'>: (.+)")


def _conversion_message(exc: BaseException) -> str:
    """The useful line of a torch.onnx conversion error (the exception summary)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    match = _SUMMARY.search(text)
    return match.group(1).strip() if match else _first_line(exc)


def _layer_from_program(exc: BaseException, program, layers: dict[str, Any]) -> str | None:
    """Map 'Error when translating node %x' back to the spec layer owning FX node x."""
    match = None
    chained: BaseException | None = exc
    while chained is not None and match is None:
        match = _NODE.search(str(chained))
        chained = chained.__cause__ or chained.__context__
    if match is None:
        return None
    for node in program.graph.nodes:
        if node.name == match.group(1):
            return _owner(node.meta.get("nn_module_stack") or {}, layers)
    return None


def _owner(stack: dict, layers: dict[str, Any]) -> str | None:
    """The outermost module path in an ``nn_module_stack`` that is a spec layer."""
    for path, _cls in stack.values():
        for part in str(path).split("."):
            if part in layers:
                return part
    return None


def _layer_from_traceback(exc: BaseException, layers: dict[str, Any]) -> str | None:
    """The spec layer whose own ``forward`` (or a call inside it) raised, from the traceback."""
    owners = {id(child): name for name, child in layers.items()}
    found = None
    for frame, _lineno in traceback.walk_tb(exc.__traceback__):
        owner = owners.get(id(frame.f_locals.get("self")))
        if owner is not None:
            found = owner  # keep the innermost
    return found
