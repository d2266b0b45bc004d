"""The validation pipeline: load -> expand blocks -> pydantic -> graph and loss checks.

Every stage collects :class:`SpecError` values; :func:`check_text` returns them all at once
and :func:`load_spec` raises them together as :class:`SpecErrors`. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from specc.errors import SpecError, SpecErrors, escape_control
from specc.ir import Graph, Problem, lower
from specc.ops.base import Layer
from specc.spec.blocks import normalize_layers
from specc.spec.checks import loss_problems, wiring_problems
from specc.spec.load import Loaded, load_text
from specc.spec.pydantic_errors import translate
from specc.spec.schema import ModelSpec, Spec
from specc.spec.sections import schedule_problem

__all__ = [
    "MAX_ELEMENTS",
    "MAX_LAYERS",
    "check_file",
    "check_text",
    "layer_budget",
    "load_spec",
    "validate_data",
]

MAX_LAYERS = 10_000  # layers after blocks are expanded
MAX_ELEMENTS = 2**40  # values in one sample of any layer's output (4 TB of float32)


def load_spec(path: str | Path) -> Spec:
    """Load and fully validate a spec file.

    Raises:
        SpecErrors: every problem found, located at its line and column.
    """
    spec, errors, source = check_file(path)
    if errors or spec is None:  # check_file returns a spec exactly when it found no error
        raise SpecErrors(errors, source)
    return spec


def check_file(path: str | Path) -> tuple[Spec | None, list[SpecError], str]:
    """Validate a spec file; return ``(spec, errors, source text)``."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [SpecError(name, 0, 0, "no such file", code="E001")], ""
    except (OSError, UnicodeDecodeError) as exc:
        return None, [SpecError(name, 0, 0, f"cannot read the spec: {exc}", code="E001")], ""
    spec, errors = check_text(text, name)
    return spec, errors, text


def check_text(text: str, path: str = "<spec>") -> tuple[Spec | None, list[SpecError]]:
    """Validate spec text; return ``(spec, errors)`` with ``spec`` None on any error."""
    loaded, errors = load_text(text, path)
    if loaded is None:
        return None, [_one_line(e) for e in errors]
    spec, errors = validate_data(loaded)
    return spec, [_one_line(e) for e in _unique(errors)]


def _one_line(error: SpecError) -> SpecError:
    """Escape line breaks and control characters that spec text brought into a message,
    so that every ``path:line:col: error[E101]: message`` header stays one line."""
    message = escape_control(error.message, keep_tab=False)
    return error if message == error.message else replace(error, message=message)


def _unique(errors: list[SpecError]) -> list[SpecError]:
    """Errors in source order, each once (a block used twice reports its mistake once)."""
    seen: dict[tuple, SpecError] = {}
    for error in errors:
        # the same mistake inside a repeated block differs only in the layer label and chain
        core = error.message.split("': ", 1)[-1].split(" (in block '", 1)[0]
        seen.setdefault((error.line, error.col, error.code, core), error)
    return sorted(seen.values(), key=lambda e: (e.line, e.col))


def validate_data(loaded: Loaded) -> tuple[Spec | None, list[SpecError]]:
    """Validate loaded data (mutates ``loaded.data`` to expand blocks)."""
    positions = loaded.positions
    too_many = layer_budget(loaded.data)
    if too_many:  # refused before the expansion would build them all
        return None, [
            _located(loaded, path, message, "E903", at_key=True) for path, message in too_many
        ]
    problems, layout = normalize_layers(loaded.data, positions)
    loaded.layout = layout
    errors = [
        SpecError(loaded.path, line, col, message, tuple(path), code=code)
        for path, message, code, (line, col) in problems
    ]
    try:
        spec = Spec.model_validate(loaded.data)
    except ValidationError as exc:
        errors += [
            _located(loaded, path, message, code, at_key)
            for path, message, code, at_key in translate(exc, loaded.data)
            if not (problems and tuple(path) == ("model", "layers"))
        ]  # all failed
        return None, errors + _model_errors_alone(loaded, errors)
    if errors:
        return None, errors
    return _check_semantics(spec, loaded)


def layer_budget(data: Any) -> list[tuple[tuple, str]]:
    """``[(key path, message)]`` when the raw layers and block ``repeat`` counts would
    expand to more than :data:`MAX_LAYERS` layers; [] otherwise. Reads the raw data only,
    so that ``repeat: 1000000`` is refused at once instead of after the expansion."""
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or not isinstance(model.get("layers"), list):
        return []
    layers: list[Any] = model["layers"]
    blocks = model.get("blocks")
    blocks = blocks if isinstance(blocks, dict) else {}
    total = 0
    for index, layer in enumerate(layers):
        total += _expanded_size(layer, blocks, 0)
        if total > MAX_LAYERS:
            at = ("model", "layers", index, *_budget_key(layer))
            return [
                (
                    at,
                    f"the model expands to more than {MAX_LAYERS:,} layers "
                    f"(at least {total:,} by layer {index + 1}); specc refuses larger models",
                )
            ]
    return []


def _uses_block(layer: Any) -> bool:
    return isinstance(layer, dict) and layer.get("type") == "block"


def _stacked(layer: Any) -> int:
    """The layers one module holds: ``num_layers`` of a transformerencoder or an lstm."""
    count = layer.get("num_layers", 1) if isinstance(layer, dict) else 1
    return count if type(count) is int and count >= 1 else 1


def _budget_key(layer: Any) -> tuple[str, ...]:
    """The key an over-budget layer is reported at: its ``repeat`` or ``num_layers``."""
    if _uses_block(layer):
        return ("repeat",)
    return ("num_layers",) if _stacked(layer) > 1 else ()


def _expanded_size(layer: Any, blocks: dict, depth: int) -> int:
    """How many layers ``layer`` stands for once its block (and blocks inside) expand."""
    if depth > 8:
        return 1
    if isinstance(layer, dict) and layer.get("type") == "sequential":
        members = layer.get("layers")
        if not isinstance(members, list):
            return 1
        return sum(_expanded_size(m, blocks, depth + 1) for m in members) or 1
    if not _uses_block(layer):
        return _stacked(layer)
    repeat = layer.get("repeat", 1)
    repeat = repeat if type(repeat) is int and repeat >= 1 else 1
    block = blocks.get(layer.get("block")) if isinstance(layer.get("block"), str) else None
    inner = block.get("layers") if isinstance(block, dict) else None
    if not isinstance(inner, list):
        return repeat
    size = 0
    for item in inner:
        size += _expanded_size(item, blocks, depth + 1)
        if size > MAX_LAYERS:
            break
    return repeat * max(size, 1)


def _size_problems(graph: Graph) -> list[Problem]:
    """Layers whose output holds more than :data:`MAX_ELEMENTS` values per sample."""
    import math

    problems: list[Problem] = []
    if math.prod(graph.input_shape) > MAX_ELEMENTS:
        problems.append(
            (
                None,
                "input",
                f"the input holds {math.prod(graph.input_shape):,} "
                f"values per sample, more than specc supports ({MAX_ELEMENTS:,})",
                "E904",
            )
        )
    for node in graph.nodes[:0] if problems else graph.nodes:  # the first culprit only
        count = math.prod(node.inferred.shape)
        if count > MAX_ELEMENTS:
            problems.append(
                (
                    node.index,
                    None,
                    f"its output holds {count:,} values per "
                    f"sample, more than specc supports ({MAX_ELEMENTS:,})",
                    "E904",
                )
            )
            break
    return problems


def _model_errors_alone(loaded: Loaded, errors: list[SpecError]) -> list[SpecError]:
    """Shape and graph errors too, when the schema failed only outside ``model``."""
    model = loaded.data.get("model") if isinstance(loaded.data, dict) else None
    if not isinstance(model, dict) or any(e.key_path[:1] == ("model",) for e in errors):
        return []
    try:
        checked = ModelSpec.model_validate(model)
    except ValidationError:
        return []
    return _lower(checked, loaded)[1]


def _leaf_layers(model: ModelSpec) -> list[Layer] | None:
    """The model's layers once every block use and sequential is expanded into leaf layers
    (:func:`normalize_layers` did that); None if one is left, which nothing can lower."""
    layers = [layer for layer in model.layers if isinstance(layer, Layer)]
    return layers if len(layers) == len(model.layers) else None


def _lower(model: ModelSpec, loaded: Loaded) -> tuple[Graph | None, list[SpecError]]:
    """Lower the model to its graph; its shape and wiring problems as located errors."""
    layers = _leaf_layers(model)
    if layers is None:
        return None, []
    lines = [loaded.positions.locate(("model", "layers", i))[0] for i in range(len(layers))]
    layout = loaded.layout
    graph, lowered = lower(
        model.input.shape,
        model.input.dtype,
        layers,
        model.outputs,
        lines,
        layout.paths,
        layout.scopes,
    )
    problems: list[Problem] = lowered if graph is None else [*wiring_problems(graph)]
    return graph, [_layer_error(loaded, layers, *problem) for problem in problems]


def _check_semantics(spec: Spec, loaded: Loaded) -> tuple[Spec | None, list[SpecError]]:
    graph, errors = _lower(spec.model, loaded)
    layers = _leaf_layers(spec.model)
    if graph is not None and layers is not None:  # a graph means leaf layers
        problems = [*_size_problems(graph), *loss_problems(spec, graph)]
        errors += [_layer_error(loaded, layers, *problem) for problem in problems]
    problem = schedule_problem(spec.optimizer, spec.scheduler)
    if problem is not None:
        errors.append(_located(loaded, ("scheduler", "type"), problem, "E406", at_key=False))
    if errors:
        return None, errors
    spec._source_path = loaded.path
    spec._source = loaded.source
    spec._positions = loaded.positions
    spec._graph = graph
    return spec, []


def _layer_error(
    loaded: Loaded,
    layers: Sequence[Layer],
    index: int | None,
    key: str | tuple | None,
    message: str,
    code: str,
) -> SpecError:
    """A graph problem ``(index, key, message, code)`` located at its layer (or at
    ``model.<key>`` for index None), the message naming the layer and its block chain."""
    suffix = key if isinstance(key, tuple) else (key,) if key else ()
    if index is None:
        return _located(loaded, ("model", *suffix), message, code, at_key=False)
    layer = layers[index]
    path = ("model", "layers", index, *suffix)
    name = loaded.layout.paths[index]
    scope = loaded.layout.scopes[index]
    chain = scope.chain() if scope is not None else ""
    where = f" (in {chain})" if chain else ""
    message = f"{layer.kind} '{name}': {message}{where}"
    return _located(loaded, path, message, code, at_key=False)


def _located(loaded: Loaded, path: tuple, message: str, code: str, at_key: bool) -> SpecError:
    line, col = loaded.positions.locate(path, at_key=at_key)
    return SpecError(loaded.path, line, col, message, tuple(path), code=code)
