"""Pre-validation rewriting of ``model.layers``: bare names, automatic names, block uses
and ``sequential`` layers.

Runs on the plain loaded data, before pydantic, so every later stage sees one list of real
layers in execution order. Each layer keeps its local ``name`` and gets, in a
:class:`Layout`, its dotted path (``layer1.0.conv1``) and the :class:`~specc.ir.Scope` it
belongs to; every ``inputs`` reference is rewritten to a dotted path. Expanded layers keep
pointing at the lines they were written on through :attr:`Positions.aliases`.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from specc.errors import did_you_mean
from specc.ir import INPUT, Scope
from specc.ops.base import check_layer_name
from specc.spec.expr import ExprError, evaluate, parse
from specc.spec.load import Positions

LAYERS = ("model", "layers")
MAX_DEPTH = 32
USE_KEYS = {"type", "block", "args", "repeat", "name", "inputs", "first", "copy_names", "when"}
SEQ_KEYS = {"type", "name", "layers", "inputs", "when"}
Problem = tuple[tuple, str, str]  # (key path, message, code)
_ABSENT = object()  # a sequential member whose ``when`` is false


@dataclass
class Layout:
    """Where each expanded layer sits: ``paths[i]`` and ``scopes[i]`` for ``model.layers[i]``."""

    paths: list[str] = field(default_factory=list)
    scopes: list[Scope | None] = field(default_factory=list)


@dataclass
class _Body:
    """One list of layers being expanded: a block copy, a sequential, or the top level."""

    scope: Scope | None
    prefix: str
    source: str
    env: dict[str, Any]
    block: str | None
    stack: tuple[str, ...]
    local: dict[str, str] = field(default_factory=dict)


class _Expander:
    def __init__(self, blocks: dict, positions: Positions) -> None:
        self.blocks = blocks
        self.positions = positions
        self.problems: list[Problem] = []
        self.layers: list[Any] = []
        self.layout = Layout()
        self.legacy: dict[str, str] = {}  # flat name of a use's output -> its path
        self.aliases: dict[tuple, tuple] = {}  # applied once expansion is over

    def problem(self, path: tuple, message: str, code: str) -> None:
        """Record a problem at ``path``; ``code`` is its :data:`specc.codes.CODES` key."""
        self.problems.append((path, message, code))

    def emit(self, layer: Any, origin: tuple, path: str, scope: Scope | None) -> None:
        index = len(self.layers)
        if origin != (*LAYERS, index):
            self.aliases[(*LAYERS, index)] = origin
        self.layers.append(layer)
        self.layout.paths.append(path)
        self.layout.scopes.append(scope)


def normalize_layers(data: dict, positions: Positions) -> tuple[list[tuple], Layout]:
    """Expand blocks and sequentials in ``data['model']['layers']``; name every layer.

    Unnamed layers are named ``<type>_<k>``, k counting layers of that type from 1.
    Returns the problems found (unknown block, missing argument...) as
    ``(key path, message, code, (line, col))``, and the layout.
    """
    model = data.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("layers"), list):
        return [], Layout()
    written = model.get("blocks")
    ex = _Expander(written if isinstance(written, dict) else {}, positions)
    top = _Body(None, "", INPUT, {}, None, ())
    _expand_body(ex, model["layers"], LAYERS, top)
    model["layers"] = ex.layers
    # located now: once aliases redirect expanded indices, model.layers[i] means another layer
    located = [
        (path, message, code, positions.locate(path, at_key=True))
        for path, message, code in ex.problems
    ]
    positions.aliases.update(ex.aliases)
    outputs = model.get("outputs")
    if isinstance(outputs, str):
        model["outputs"] = _top_ref(ex, top, outputs, ("model", "outputs"))
    elif isinstance(outputs, list):
        model["outputs"] = [
            _top_ref(ex, top, o, ("model", "outputs", i)) for i, o in enumerate(outputs)
        ]
    return located, ex.layout


def _as_mapping(layer: Any) -> Any:
    return {"type": layer} if isinstance(layer, str) else layer


def _auto_names(layers: list[Any]) -> list[Any]:
    counts: Counter[str] = Counter()
    out = []
    for layer in layers:
        layer = copy.deepcopy(_as_mapping(layer))
        if isinstance(layer, dict) and isinstance(layer.get("type"), str):
            counts[layer["type"]] += 1
            if layer.get("name") is None:  # `name: null` is no name
                layer["name"] = f"{layer['type']}_{counts[layer['type']]}"
        out.append(layer)
    return out


def _expand_body(ex: _Expander, items: list[Any], origin: tuple, body: _Body) -> str:
    """Expand one list of layers (top level or a block copy); return its output path."""
    previous = body.source
    seen: dict[str, int] = {}
    for j, item in enumerate(_auto_names(items)):
        at = (*origin, j)
        if not isinstance(item, dict):
            ex.emit(item, at, f"{body.prefix}{j}", body.scope)  # pydantic reports it
            continue
        name = item.get("name")
        if isinstance(name, str) and name in seen:
            _clash(ex, item, at, body, seen[name], origin)
        elif isinstance(name, str):
            seen[name] = j
        if body.block is not None:
            item = _substitute(ex, item, body, at)
            if item is None:
                continue
        if "when" in item:
            if not _present(ex, item, body, at):
                refs = _read_refs(ex, item, at, body, previous)
                if isinstance(name, str):
                    body.local[name] = refs[0] if refs else previous
                    if body.scope is not None:
                        body.scope.absent.append(name)
                continue
            item = {k: v for k, v in item.items() if k != "when"}
        previous = _expand_item(ex, item, at, body, previous)
        if isinstance(name, str):
            body.local[name] = previous
    return previous


def _clash(ex: _Expander, item: dict, at: tuple, body: _Body, other: int, origin: tuple) -> None:
    """Two layers or uses with one name; two plain top-level layers are left to lowering."""
    structural = item.get("type") in ("block", "sequential")
    if body.block is None and body.scope is None and not structural:
        return
    line = ex.positions.locate((*origin, other))[0]
    ex.problem(
        (*at, "name"),
        f"duplicate layer name '{item['name']}': the layer or use on line {line} has it too",
        "E205",
    )


def _present(ex: _Expander, item: dict, body: _Body, at: tuple) -> bool:
    when = item["when"]
    if body.block is None:
        ex.problem((*at, "when"), "'when' is allowed only on layers inside a block", "E306")
        return True
    if isinstance(when, bool):
        return when
    ex.problem(
        (*at, "when"),
        f"when must be a condition over the block's parameters, got {when!r}",
        "E306",
    )
    return True


def _expand_item(ex: _Expander, item: dict, at: tuple, body: _Body, previous: str) -> str:
    kind = item.get("type")
    if kind == "block":
        return _expand_use(ex, item, at, body, previous)
    if kind == "sequential":
        return _expand_sequential(ex, item, at, body, previous)
    refs = _read_refs(ex, item, at, body, previous)
    layer = dict(item)
    written = item.get("inputs")
    layer["inputs"] = refs if isinstance(written, list) else refs[0]
    path = f"{body.prefix}{item.get('name')}"
    ex.emit(layer, at, path, body.scope)
    return path


def _read_refs(ex: _Expander, item: dict, at: tuple, body: _Body, previous: str) -> list[str]:
    """The dotted paths of a layer's inputs (its previous layer when it names none)."""
    written = item.get("inputs")
    if written is None:
        return [previous]
    refs = [written] if isinstance(written, str) else written
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        return refs if isinstance(refs, list) else [written]  # pydantic reports the type

    def key(i: int) -> tuple:
        return (*at, "inputs", i) if isinstance(written, list) else (*at, "inputs")

    if body.block is None and body.scope is None:
        return [_top_ref(ex, body, r, key(i)) for i, r in enumerate(refs)]
    out = []
    for i, ref in enumerate(refs):
        if ref == INPUT:
            out.append(body.source)
        elif ref in body.local:
            out.append(body.local[ref])
        else:
            known = [INPUT, *body.local]
            ex.problem(
                key(i),
                f"unknown input '{ref}': a layer in block '{body.block}' reads "
                f"only 'input' and the block's earlier layers{did_you_mean(ref, known)}",
                "E203",
            )
            out.append(body.source)
    return out


def _top_ref(ex: _Expander, body: _Body, ref: Any, at: tuple) -> Any:
    """A top-level reference: a layer or use name, or the flat name of a use's output."""
    if not isinstance(ref, str) or ref == INPUT:
        return ref
    if ref in body.local:
        return body.local[ref]
    if ref in ex.legacy:
        path = ex.legacy[ref]
        return path
    return ref  # lowering reports unknown and later names


def _substitute(ex: _Expander, item: dict, body: _Body, at: tuple) -> dict | None:
    """The layer with ``$param`` expressions replaced by values (None on an error)."""
    ok = True

    def sub(value: Any, path: tuple) -> Any:
        nonlocal ok
        if isinstance(value, dict):
            if value.get("type") in ("block", "sequential") and path != at:
                return value  # a nested layer list: substituted when it is expanded
            return {k: sub(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [sub(v, (*path, i)) for i, v in enumerate(value)]
        if not isinstance(value, str) or ("$" not in value and path[-1] != "when"):
            return value
        try:
            return _value(value, body, path[-1] == "when")
        except ExprError as exc:
            ex.problem(path, f"{exc}", "E301")
            ok = False
            return value

    keep = {"layers"} if item.get("type") == "sequential" else set()
    result = {k: (v if k in keep else sub(v, (*at, k))) for k, v in item.items()}
    return result if ok else None


def _value(text: str, body: _Body, condition: bool) -> Any:
    """A ``$name`` (any value) or an integer/boolean expression over the block's params."""

    def lookup(name: str) -> Any:
        if name not in body.env:
            params = ", ".join(body.env) or "none"
            raise ExprError(
                f"'${name}' names no parameter of block '{body.block}'"
                f"{did_you_mean(name, list(body.env))} (its parameters: {params})"
            )
        return body.env[name]

    stripped = text.strip()
    if stripped.startswith("$") and stripped[1:].isidentifier() and not condition:
        return lookup(stripped[1:])
    value = evaluate(parse(text), lookup)
    if condition and not isinstance(value, bool):
        raise ExprError(f"the condition '{text}' gives {value!r}, not true or false")
    return value


def _check_name(ex: _Expander, item: dict, at: tuple) -> str | None:
    name = item.get("name")
    try:
        return check_layer_name(name) if isinstance(name, str) else None
    except ValueError as exc:
        ex.problem((*at, "name"), str(exc), "E207")
        return None


def _expand_use(ex: _Expander, use: dict, at: tuple, body: _Body, previous: str) -> str:
    """The layers one ``{type: block}`` entry stands for; returns the use's output path."""
    block_name = use.get("block")
    extra = set(use) - USE_KEYS
    if extra or not isinstance(block_name, str) or not isinstance(use.get("name"), str):
        if isinstance(block_name, str) and block_name not in ex.blocks:
            _unknown_block(ex, block_name, at)
        ex.emit(use, at, f"{body.prefix}{use.get('name')}", body.scope)  # pydantic reports
        return previous
    name = _check_name(ex, use, at)
    if block_name not in ex.blocks:
        _unknown_block(ex, block_name, at)
        return _raw(ex, use, at, body, previous)
    if block_name in body.stack or len(body.stack) >= MAX_DEPTH:
        chain = " -> ".join([*body.stack, block_name])
        ex.problem((*at, "block"), f"block '{block_name}' uses itself: {chain}", "E304")
        return _raw(ex, use, at, body, previous)
    block = ex.blocks[block_name]
    repeat = use.get("repeat", 1)
    copy_names = use.get("copy_names")
    if not _use_ok(ex, use, at, block, repeat, copy_names) or name is None:
        return _raw(ex, use, at, body, previous)
    source = _read_refs(ex, use, at, body, previous)[0]  # one: _use_ok refuses a list
    line = ex.positions.locate(at)[0]
    container = None
    if repeat > 1 or copy_names is not None:
        container = Scope(
            f"{body.prefix}{name}",
            name,
            "repeat",
            None,
            line,
            body.scope,
            named=copy_names is not None,
            input=source,
        )
    for r in range(repeat):
        env = _block_env(ex, block_name, block, use, at, r == 0)
        if env is None:
            return _raw(ex, use, at, body, previous)
        key = (
            name
            if container is None
            else (
                copy_names.replace("{n}", str(r + 1)).replace("{i}", str(r))
                if copy_names
                else str(r)
            )
        )
        parent = container or body.scope
        path = f"{body.prefix}{key}" if container is None else f"{container.path}.{key}"
        scope = Scope(path, key, "copy", block_name, line, parent, env=env, input=source)
        inner = _Body(scope, f"{path}.", source, env, block_name, (*body.stack, block_name))
        source = _expand_body(ex, block["layers"], ("model", "blocks", block_name, "layers"), inner)
        scope.output = source
    if container is not None:
        container.output = source
    if body.scope is None:
        ex.legacy[
            f"{name}_{repeat}_{_last_name(block)}" if repeat > 1 else f"{name}_{_last_name(block)}"
        ] = source
    return source


def _raw(ex: _Expander, item: dict, at: tuple, body: _Body, previous: str) -> str:
    """Keep a use that could not be expanded as it is, so pydantic checks its keys too."""
    ex.emit(item, at, f"{body.prefix}{item.get('name')}", body.scope)
    return previous


def _last_name(block: dict) -> str:
    layers = _auto_names(block["layers"])
    last = layers[-1] if layers else {}
    return str(last.get("name")) if isinstance(last, dict) else ""


def _unknown_block(ex: _Expander, block_name: Any, at: tuple) -> None:
    names = [str(b) for b in ex.blocks]
    hint = did_you_mean(str(block_name), names) if names else ""
    known = f"; defined blocks: {', '.join(names)}" if names else "; model.blocks is empty"
    ex.problem((*at, "block"), f"unknown block '{block_name}'{hint}{known}", "E206")


def _use_ok(ex: _Expander, use: dict, at: tuple, block: Any, repeat: Any, copy_names: Any) -> bool:
    if not isinstance(block, dict) or not isinstance(block.get("layers"), list):
        return False  # pydantic reports the block definition
    if isinstance(repeat, str):  # the schema takes text for expressions, substituted by now
        where = " (a $parameter expression works only inside a block)" if "$" in repeat else ""
        ex.problem((*at, "repeat"), f"repeat must be a whole number, got {repeat!r}{where}", "E105")
        return False
    if type(repeat) is not int or repeat < 1:
        return False  # pydantic reports it
    if copy_names is not None and (
        not isinstance(copy_names, str) or "{" not in copy_names or not _valid_pattern(copy_names)
    ):
        ex.problem(
            (*at, "copy_names"),
            "copy_names must be a name with {n} (counting from "
            f"1) or {{i}} (from 0), such as 'denselayer{{n}}', got {copy_names!r}",
            "E305",
        )
        return False
    if isinstance(use.get("inputs"), list):
        ex.problem((*at, "inputs"), "a block use reads one input (a block has one 'input')", "E305")
        return False
    return True


def _valid_pattern(pattern: str) -> bool:
    name = pattern.replace("{n}", "1").replace("{i}", "0")
    return name.isidentifier() and name != pattern


def _block_env(
    ex: _Expander, block_name: str, block: dict, use: dict, at: tuple, first: bool
) -> dict | None:
    """The parameter values of one copy: the use's args, ``first`` overrides for copy 0,
    then defaults (which may be expressions over other parameters)."""
    params = block.get("params") or {}
    given = use.get("args") or {}
    overrides = use.get("first") or {}
    if not all(isinstance(d, dict) for d in (params, given, overrides)):
        ex.problem(
            at, f"args, first and the params of block '{block_name}' must be mappings", "E305"
        )
        return None
    ok = True
    for section, values in (("args", given), ("first", overrides)):
        for key in values:
            if key not in params:
                ex.problem(
                    (*at, section, key),
                    f"block '{block_name}' has no parameter '{key}'"
                    f"{did_you_mean(str(key), [str(p) for p in params])}",
                    "E302",
                )
                ok = False
    values = {**given, **(overrides if first else {})}
    env: dict[str, Any] = {}
    for key in params:
        value = _param_value(ex, block_name, params, values, key, env, at, ())
        ok = ok and value is not None
    return env if ok else None


def _param_value(
    ex: _Expander,
    block_name: str,
    params: dict,
    values: dict,
    key: str,
    env: dict,
    at: tuple,
    seen: tuple,
) -> Any:
    if key in env:
        return env[key]
    value = values[key] if key in values else params[key]
    if value is None:
        ex.problem(at, f"block '{block_name}' needs a value for '{key}'", "E303")
        return None
    if isinstance(value, str) and "$" in value and key not in values:
        where = ("model", "blocks", block_name, "params", key)
        if key in seen:
            ex.problem(
                where,
                f"the defaults of block '{block_name}' refer to each other: "
                f"{' -> '.join((*seen, key))}",
                "E304",
            )
            return None

        def lookup(name: str) -> Any:
            if name not in params:
                raise ExprError(
                    f"'${name}' names no parameter of block '{block_name}'"
                    f"{did_you_mean(name, list(params))}"
                )
            got = _param_value(ex, block_name, params, values, name, env, at, (*seen, key))
            if got is None:
                raise ExprError("")
            return got

        try:
            value = (
                evaluate(parse(value), lookup)
                if not value.strip()[1:].isidentifier()
                else lookup(value.strip()[1:])
            )
        except ExprError as exc:
            if str(exc):
                ex.problem(where, str(exc), "E301")
            return None
    env[key] = value
    return value


def _expand_sequential(ex: _Expander, item: dict, at: tuple, body: _Body, previous: str) -> str:
    """A ``{type: sequential, name, layers}``: its members form a chain keyed by position
    (or by their own ``name``); returns the output path."""
    extra = set(item) - SEQ_KEYS
    members = item.get("layers")
    if (
        extra
        or not isinstance(item.get("name"), str)
        or not isinstance(members, list)
        or not members
    ):
        ex.emit(item, at, f"{body.prefix}{item.get('name')}", body.scope)  # pydantic reports
        return previous
    name = _check_name(ex, item, at)
    if name is None:
        return previous
    if isinstance(item.get("inputs"), list):  # as for a block use (_use_ok)
        ex.problem((*at, "inputs"), "a sequential reads one input, a layer name", "E305")
        return previous
    source = _read_refs(ex, item, at, body, previous)[0]
    path = f"{body.prefix}{name}"
    scope = Scope(
        path,
        name,
        "sequential",
        None,
        ex.positions.locate(at)[0],
        body.scope,
        named=any(isinstance(m, dict) and isinstance(m.get("name"), str) for m in members),
        input=source,
    )
    position = absent = 0  # nn.Sequential keys the members present 0, 1, ...
    for k, member in enumerate(members):
        m_at = (*at, "layers", k)
        member = _sequential_member(ex, copy.deepcopy(_as_mapping(member)), m_at, body)
        if member is _ABSENT:
            absent += 1
        if member is None or member is _ABSENT:
            continue
        inner = _Body(scope, f"{path}.", source, body.env, body.block, body.stack)
        source = _member(ex, member, m_at, inner, source, str(position))
        position += 1
    if absent == len(members):
        ex.problem(
            (*at, "layers"),
            f"every layer of sequential '{name}' is absent (their 'when' is false); "
            "put the condition on the sequential itself",
            "E306",
        )
    scope.output = source
    return source


def _sequential_member(ex: _Expander, member: Any, at: tuple, body: _Body) -> Any:
    """A member with its ``$params`` substituted and its ``when`` decided: ``_ABSENT`` when
    its condition is false, None when its values have an error. A member reads the
    previous one: no ``inputs``."""
    if not isinstance(member, dict):
        return member  # pydantic reports it
    if "inputs" in member:
        ex.problem(
            (*at, "inputs"),
            "'inputs' is not allowed inside a sequential: its layers form a chain",
            "E305",
        )
    if body.block is not None:
        member = _substitute(ex, member, body, at)
        if member is None:
            return None
    if "when" in member and not _present(ex, member, body, at):
        return _ABSENT  # the chain passes its input on
    return {k: v for k, v in member.items() if k not in ("inputs", "when")}


def _member(ex: _Expander, member: Any, at: tuple, inner: _Body, source: str, position: str) -> str:
    """One member of a sequential, reading ``source``; returns its output path."""
    if isinstance(member, dict) and member.get("type") in ("block", "sequential"):
        if not isinstance(member.get("name"), str):
            return _positional_use(ex, member, at, inner, source, position)
        return _expand_item(ex, member, at, inner, source)
    if not isinstance(member, dict):
        ex.emit(member, at, f"{inner.prefix}{position}", inner.scope)  # pydantic reports it
        return source
    layer = dict(member)
    layer["inputs"] = source
    key = member["name"] if isinstance(member.get("name"), str) else position
    ex.emit(layer, at, f"{inner.prefix}{key}", inner.scope)
    return f"{inner.prefix}{key}"


def _positional_use(
    ex: _Expander, member: dict, at: tuple, inner: _Body, source: str, position: str
) -> str:
    """A block use keyed by its position in a sequential (``features.3``)."""
    member = dict(member)
    member["name"] = f"p{position}"  # a valid name while expanding; the key is the position
    start = len(ex.layers)
    out = _expand_item(ex, member, at, inner, source)
    old, new = f"{inner.prefix}p{position}", f"{inner.prefix}{position}"
    for i in range(start, len(ex.layers)):
        path = ex.layout.paths[i]
        if path == old or path.startswith(old + "."):
            ex.layout.paths[i] = new + path[len(old) :]
        layer = ex.layers[i]
        if isinstance(layer, dict):
            layer["inputs"] = _rename(layer.get("inputs"), old, new)
    for scope in {s for s in ex.layout.scopes[start:] if s is not None}:
        _rename_scope(scope, old, new, position)
    return _rename(out, old, new)


def _rename(value: Any, old: str, new: str) -> Any:
    if isinstance(value, list):
        return [_rename(v, old, new) for v in value]
    if isinstance(value, str) and (value == old or value.startswith(old + ".")):
        return new + value[len(old) :]
    return value


def _rename_scope(scope: Scope | None, old: str, new: str, position: str) -> None:
    while scope is not None:
        if scope.path == old:
            scope.key = position
        scope.path = _rename(scope.path, old, new)
        scope.output = _rename(scope.output, old, new)
        scope.input = _rename(scope.input, old, new)
        scope = scope.parent
