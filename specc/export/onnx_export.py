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
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import onnx
    import torch
    from torch import nn

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

    proto: onnx.ModelProto
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
        with (
            contextlib.redirect_stdout(buffer),
            contextlib.redirect_stderr(buffer),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            yield buffer
    finally:
        logger.setLevel(level)


def example_input(
    input_shape: tuple[int, ...],
    input_dtype: str,
    *,
    batch: int = EXAMPLE_BATCH,
    seq: int | None = None,
    high: int = 2,
    seed: int = 0,
) -> torch.Tensor:
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
def _export_patches(while_loops: bool):
    """The patches torch.onnx itself applies for dynamic shapes (private torch API, so optional).

    ``backed_size_oblivious`` keeps a dimension of size 0/1 symbolic. With ``while_loops``,
    LSTM, GRU (torch's own) and RNN (:mod:`specc.export.rnn_loop`) get while-loop
    decompositions instead of a Python loop over the time steps, which would fix the
    sequence length while capturing.
    """
    with contextlib.ExitStack() as stack:
        for patch in _patches(while_loops):
            try:
                stack.enter_context(patch())
            except (ImportError, AttributeError):  # an older or newer torch: go without
                pass
        yield


def _patches(while_loops: bool) -> list[Callable[[], AbstractContextManager[Any]]]:
    def size_oblivious() -> AbstractContextManager[Any]:
        import torch.fx.experimental._config as fx_config

        # patch() is installed at import by torch's config module, unseen by its stubs
        return fx_config.patch(backed_size_oblivious=True)  # type: ignore[attr-defined]

    def lstm() -> AbstractContextManager[Any]:
        from torch.export._patches import register_lstm_while_loop_decomposition

        return register_lstm_while_loop_decomposition()

    def gru() -> AbstractContextManager[Any]:
        from torch.export._patches import register_gru_while_loop_decomposition

        return register_gru_while_loop_decomposition()

    def rnn() -> AbstractContextManager[Any]:
        from specc.export.rnn_loop import register_rnn_while_loop_decompositions

        return register_rnn_while_loop_decompositions()

    return [size_oblivious, lstm, gru, rnn, _fresh_dispatch] if while_loops else [size_oblivious]


@contextlib.contextmanager
def _fresh_dispatch():
    """Clear the recurrent ops' dispatch caches on entry and exit.

    The patches swap ``py_kernels`` entries directly, which does not clear the cache that
    ``OpOverload`` keeps; without this, a second export in the same process would use the
    kernel cached by the first and fix the sequence length again.
    """
    import torch

    ops = [
        torch.ops.aten.lstm.input,
        torch.ops.aten.gru.input,
        torch.ops.aten.rnn_tanh.input,
        torch.ops.aten.rnn_relu.input,
    ]

    def clear() -> None:
        for op in ops:
            cache = getattr(op, "_dispatch_cache", None)
            if cache is not None:
                cache.clear()

    clear()
    try:
        yield
    finally:
        clear()


def _translations() -> dict:
    """Extra op translations: the Elman RNN to the ONNX RNN op (see :mod:`rnn_onnx`), adaptive
    max pooling to slices and ReduceMax (see :mod:`pool_onnx`)."""
    table = {}
    try:
        from specc.export.rnn_onnx import rnn_translations

        table.update(rnn_translations())
    except (ImportError, AttributeError):  # no onnxscript opset 18 or no aten.rnn_* op
        pass
    try:
        from specc.export.pool_onnx import adaptive_pool_translations

        table.update(adaptive_pool_translations())
    except (ImportError, AttributeError):
        pass
    return table


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

    def export(shapes: Any) -> torch.export.ExportedProgram:
        return torch.export.export(
            module,
            (example,),
            dynamic_shapes=shapes,
            strict=False,
            prefer_deferred_runtime_asserts_over_guards=True,
        )

    with _export_patches(while_loops=dynamic_seq):
        try:
            return export((dims,))
        except torch._dynamo.exc.UserError as exc:
            try:
                refined = refine_dynamic_shapes_from_suggested_fixes(exc.msg, (dims,))
            except Exception:
                raise exc from None
            return export(refined)


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


def export_module(
    module: nn.Module,
    input_shape: tuple[int, ...],
    input_dtype: str,
    *,
    opset: int,
    input_name: str,
    output_names: list[str],
    dynamic_seq: bool = False,
    high: int = 2,
    optimize: bool = True,
) -> Exported:
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
        optimize: run the ONNX optimizer (onnxscript's) after conversion.

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
                program,
                (example,),
                dynamo=True,
                opset_version=opset,
                verbose=False,
                optimize=optimize,
                custom_translation_table=_translations(),
            )
        except Exception as exc:
            layer = _layer_from_program(exc, program, layers)
            raise ExportFailure(_conversion_message(exc), layer) from exc
    assert onnx_program is not None  # None only from the legacy exporter (dynamo=False)
    proto = onnx_program.model_proto
    set_io_names(proto, input_name, output_names)
    return _checked(proto, input_shape, dynamic_seq, note)


def _checked(proto, input_shape: tuple[int, ...], dynamic_seq: bool, note: str | None) -> Exported:
    """What stayed symbolic in the ONNX input: the batch must; a fixed sequence gets a note."""
    dynamic = _dynamic_dims(proto)
    if not dynamic[0]:
        raise ExportFailure("torch.export fixed the batch dimension; a layer depends on it")
    seq_ok = dynamic_seq and len(dynamic) > 1 and dynamic[1]
    if dynamic_seq and not seq_ok:
        note = note or (
            "torch.export specialized it: a layer needs a fixed length (a "
            "flatten after the sequence, or nn.RNN, whose decomposition unrolls "
            "the time steps)"
        )
        note = f"the sequence length is fixed at {input_shape[0]}: {note}"
    return Exported(proto, seq_ok, note)


def _graphs(graph):
    """``graph`` and every subgraph inside it (Loop/If bodies), recursively."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from _graphs(sub)


def _rename(proto, mapping: dict[str, str]) -> None:
    """Rename values everywhere (subgraphs read outer values by name, so rename globally)."""
    for graph in _graphs(proto.graph):
        for node in graph.node:
            node.input[:] = [mapping.get(n, n) for n in node.input]
            node.output[:] = [mapping.get(n, n) for n in node.output]
        for value in (*graph.input, *graph.output, *graph.value_info, *graph.initializer):
            value.name = mapping.get(value.name, value.name)


def set_io_names(proto: onnx.ModelProto, input_name: str, output_names: list[str]) -> None:
    """Name the graph's input and outputs, first moving internal values that hold the names.

    (torch.onnx's own ``output_names`` can clash with a value of the same name inside a Loop
    body, which breaks SSA form.)
    """
    graph = proto.graph
    current = [graph.input[0].name, *(o.name for o in graph.output)]
    wanted = [input_name, *output_names]
    used = {n for g in _graphs(graph) for node in g.node for n in (*node.input, *node.output)}
    used |= {v.name for g in _graphs(graph) for v in (*g.input, *g.output, *g.initializer)}
    clashes = {name: f"{name}__internal" for name in wanted if name in used and name not in current}
    clashes.update(
        {
            name: f"{name}__internal"
            for name in wanted
            if name in current and current.index(name) != wanted.index(name)
        }
    )
    _rename(proto, clashes)
    moved = [clashes.get(name, name) for name in current]
    _rename(proto, {old: new for old, new in zip(moved, wanted, strict=False) if old != new})


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
