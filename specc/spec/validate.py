"""The validation pipeline: load -> expand blocks -> pydantic -> graph and loss checks.

Every stage collects :class:`SpecError` values; :func:`check_text` returns them all at once
and :func:`load_spec` raises them together as :class:`SpecErrors`. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from specc.errors import SpecError, SpecErrors
from specc.ir import lower
from specc.spec.blocks import normalize_layers
from specc.spec.checks import loss_problems
from specc.spec.load import Loaded, load_text
from specc.spec.pydantic_errors import translate
from specc.spec.schema import ModelSpec, Spec

__all__ = ["check_file", "check_text", "load_spec", "validate_data"]


def load_spec(path: str | Path) -> Spec:
    """Load and fully validate a spec file.

    Raises:
        SpecErrors: every problem found, located at its line and column.
    """
    spec, errors, source = check_file(path)
    if errors:
        raise SpecErrors(errors, source)
    return spec


def check_file(path: str | Path) -> tuple[Spec | None, list[SpecError], str]:
    """Validate a spec file; return ``(spec, errors, source text)``."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [SpecError(name, 0, 0, "no such file")], ""
    except (OSError, UnicodeDecodeError) as exc:
        return None, [SpecError(name, 0, 0, f"cannot read the spec: {exc}")], ""
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
    so that every ``path:line:col: error: message`` header stays one line."""
    message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in error.message)
    return error if message == error.message else replace(error, message=message)


def _unique(errors: list[SpecError]) -> list[SpecError]:
    """Errors in source order, each once (a block used twice reports its mistake once)."""
    seen: dict[tuple, SpecError] = {}
    for error in errors:
        # the same mistake inside a repeated block differs only in the layer label and chain
        core = error.message.split("': ", 1)[-1].split(" (in block '", 1)[0]
        seen.setdefault((error.line, error.col, core), error)
    return sorted(seen.values(), key=lambda e: (e.line, e.col))


def validate_data(loaded: Loaded) -> tuple[Spec | None, list[SpecError]]:
    """Validate loaded data (mutates ``loaded.data`` to expand blocks)."""
    positions = loaded.positions
    problems, layout = normalize_layers(loaded.data, positions)
    loaded.layout = layout
    errors = [SpecError(loaded.path, line, col, message, tuple(path))
              for path, message, (line, col) in problems]
    try:
        spec = Spec.model_validate(loaded.data)
    except ValidationError as exc:
        errors += [_located(loaded, path, message, at_key)
                   for path, message, at_key in translate(exc, loaded.data)
                   if not (problems and tuple(path) == ("model", "layers"))]  # all failed
        return None, errors + _model_errors_alone(loaded, errors)
    if errors:
        return None, errors
    return _check_semantics(spec, loaded)


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


def _lower(model: ModelSpec, loaded: Loaded) -> tuple[Any, list[SpecError]]:
    layers = model.layers
    lines = [loaded.positions.locate(("model", "layers", i))[0] for i in range(len(layers))]
    layout = loaded.layout
    graph, problems = lower(model.input.shape, model.input.dtype, layers, model.outputs, lines,
                            layout.paths, layout.scopes)
    return graph, [_layer_error(loaded, layers, index, key, message)
                   for index, key, message in problems]


def _check_semantics(spec: Spec, loaded: Loaded) -> tuple[Spec | None, list[SpecError]]:
    layers = spec.model.layers
    graph, errors = _lower(spec.model, loaded)
    if graph is not None:
        errors += [_layer_error(loaded, layers, index, key, message)
                   for index, key, message in loss_problems(spec, graph)]
    if errors:
        return None, errors
    spec._source_path = loaded.path
    spec._source = loaded.source
    spec._positions = loaded.positions
    spec._graph = graph
    return spec, []


def _layer_error(loaded: Loaded, layers: list, index: int | None, key: str | tuple | None,
                 message: str) -> SpecError:
    suffix = key if isinstance(key, tuple) else (key,) if key else ()
    if index is None:
        return _located(loaded, ("model", *suffix), message, at_key=False)
    layer = layers[index]
    path = ("model", "layers", index, *suffix)
    name = loaded.layout.paths[index]
    scope = loaded.layout.scopes[index]
    chain = scope.chain() if scope is not None else ""
    where = f" (in {chain})" if chain else ""
    return _located(loaded, path, f"{layer.kind} '{name}': {message}{where}", at_key=False)


def _located(loaded: Loaded, path: tuple, message: str, at_key: bool) -> SpecError:
    line, col = loaded.positions.locate(path, at_key=at_key)
    return SpecError(loaded.path, line, col, message, tuple(path))
