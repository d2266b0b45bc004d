"""Pre-validation rewriting of ``model.layers``: bare names, automatic names and blocks.

Runs on the plain loaded data, before pydantic, so every later stage sees one flat list
of named layers. Expanded layers keep pointing at the lines they were written on through
:attr:`Positions.aliases`.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from specc.errors import did_you_mean
from specc.spec.load import Positions

LAYERS = ("model", "layers")
Problem = tuple[tuple, str]  # (key path, message)


def normalize_layers(data: dict, positions: Positions) -> list[Problem]:
    """Expand blocks and give every layer a ``name`` in ``data['model']['layers']``.

    Unnamed layers are named ``<type>_<k>``, k counting layers of that type from 1.
    Returns problems found while expanding (unknown block, missing argument...).
    """
    model = data.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("layers"), list):
        return []
    layers = [_as_mapping(layer) for layer in model["layers"]]
    _assign_auto_names(layers)
    blocks = model.get("blocks") if isinstance(model.get("blocks"), dict) else {}
    problems: list[Problem] = []
    expanded: list[Any] = []
    for index, layer in enumerate(layers):
        start = len(expanded)
        if isinstance(layer, dict) and layer.get("type") == "block":
            previous = _name_of(expanded[-1]) if expanded else "input"
            made = _expand_use(layer, index, blocks, previous, problems)
        else:
            made = [(layer, (*LAYERS, index))]
        for offset, (new_layer, origin) in enumerate(made):
            if origin != (*LAYERS, start + offset):
                positions.aliases[(*LAYERS, start + offset)] = origin
            expanded.append(new_layer)
    model["layers"] = expanded
    return problems


def _as_mapping(layer: Any) -> Any:
    return {"type": layer} if isinstance(layer, str) else layer


def _name_of(layer: Any) -> str | None:
    return layer.get("name") if isinstance(layer, dict) else None


def _assign_auto_names(layers: list[Any]) -> None:
    counts: Counter[str] = Counter()
    for layer in layers:
        if not isinstance(layer, dict) or not isinstance(layer.get("type"), str):
            continue
        kind = layer["type"]
        counts[kind] += 1
        if layer.get("name") is None:  # `name: null` is no name
            layer["name"] = f"{kind}_{counts[kind]}"


def _expand_use(use: dict, index: int, blocks: dict, previous: str | None,
                problems: list[Problem]) -> list[tuple[Any, tuple]]:
    """The layers one ``{type: block}`` entry stands for, renamed and rewired, each with
    the key path of the block layer it was made from."""
    path = (*LAYERS, index)
    block_name = use.get("block")
    if not isinstance(block_name, str) or block_name not in blocks:
        names = [str(b) for b in blocks]
        hint = did_you_mean(str(block_name), names) if blocks else ""
        known = f"; defined blocks: {', '.join(names)}" if blocks else "; model.blocks is empty"
        problems.append(((*path, "block"), f"unknown block '{block_name}'{hint}{known}"))
        return [(use, path)]  # kept as is: pydantic still checks its other keys
    block = blocks[block_name]
    if not isinstance(block, dict) or not isinstance(block.get("layers"), list):
        return [(use, path)]
    args = _block_args(block, use, path, problems)
    repeat = use.get("repeat", 1)
    if type(repeat) is not int or repeat < 1 or not isinstance(use.get("name"), str):
        return [(use, path)]  # pydantic reports the bad repeat
    if args is None:
        return [(use, path)]
    source = use.get("inputs") or previous or "input"
    out: list[tuple[Any, tuple]] = []
    for r in range(1, repeat + 1):
        prefix = use["name"] if repeat == 1 else f"{use['name']}_{r}"
        inner = _instantiate(block, prefix, source, args)
        out += [(layer, ("model", "blocks", block_name, "layers", j))
                for j, layer in enumerate(inner)]
        last = inner[-1] if inner and isinstance(inner[-1], dict) else {}
        source = last["name"] if isinstance(last.get("name"), str) else source
    return out


def _block_args(block: dict, use: dict, path: tuple, problems: list[Problem]) -> dict | None:
    params = block.get("params") or {}
    given = use.get("args") or {}
    if not isinstance(params, dict) or not isinstance(given, dict):
        return None
    ok = True
    for key in given:
        if key not in params:
            problems.append(((*path, "args", key),
                             f"block '{use.get('block')}' has no parameter '{key}'"
                             f"{did_you_mean(str(key), [str(p) for p in params])}"))
            ok = False
    args = {**params, **given}
    for key, value in args.items():
        if value is None:
            problems.append(((*path,), f"block '{use.get('block')}' needs a value for '{key}'"))
            ok = False
    return args if ok else None


def _instantiate(block: dict, prefix: str, source: Any, args: dict) -> list[Any]:
    """One copy of a block's layers with ``$param`` substituted and names prefixed."""
    layers = [copy.deepcopy(_as_mapping(layer)) for layer in block["layers"]]
    _assign_auto_names(layers)
    local = {layer["name"] for layer in layers
             if isinstance(layer, dict) and isinstance(layer.get("name"), str)}

    def rename(ref: Any) -> Any:
        if ref == "input":
            return source
        return f"{prefix}_{ref}" if isinstance(ref, str) and ref in local else ref

    result = []
    for j, layer in enumerate(layers):
        if not isinstance(layer, dict):
            result.append(layer)
            continue
        layer = _substitute(layer, args)
        if "inputs" in layer:
            refs = layer["inputs"]
            layer["inputs"] = [rename(r) for r in refs] if isinstance(refs, list) else rename(refs)
        elif j == 0:
            layer["inputs"] = source
        if isinstance(layer.get("name"), str):  # anything else: pydantic reports it
            layer["name"] = f"{prefix}_{layer['name']}"
        result.append(layer)
    return result


def _substitute(value: Any, args: dict) -> Any:
    if isinstance(value, str) and value.startswith("$") and value[1:] in args:
        return args[value[1:]]
    if isinstance(value, dict):
        return {k: _substitute(v, args) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, args) for v in value]
    return value
