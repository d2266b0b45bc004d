"""Checkpoints from the previous version: flat ``state_dict`` keys -> dotted ones.

Before blocks stayed blocks, a use ``res`` with ``repeat: 2`` was expanded into flat layers
``res_1_conv1`` ... ``res_2_out``; its weights were ``res_1_conv1.weight``. Now the same
weight is ``res.0.conv1.weight``. :func:`upgrade_keys` renames such keys, and only when
every key of the checkpoint then names a key of the model, so a checkpoint is loaded whole
or not at all (``load_state_dict(strict=True)`` then reports what does not fit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from specc.ir import Graph, Node

__all__ = ["legacy_names", "upgrade_keys"]


def _legacy_name(node: Node) -> str | None:
    """The flat name the previous version gave a layer of a top-level use, or None."""
    scope = node.scope
    if scope is None or scope.kind != "copy" or node.key.isdigit():
        return None
    parent = scope.parent
    if parent is None:
        return f"{scope.key}_{node.key}"
    if parent.kind == "repeat" and parent.parent is None and scope.key.isdigit():
        return f"{parent.key}_{int(scope.key) + 1}_{node.key}"
    return None


def legacy_names(graph: Graph) -> dict[str, str]:
    """Old flat layer name -> dotted path, for the layers the previous version could name."""
    names = {}
    for path, node in graph.leaves():
        old = _legacy_name(node)
        if old is not None:
            names[old] = path
    return names


def upgrade_keys(graph: Graph, state: dict[str, Any], expected: set[str]) -> dict[str, Any]:
    """``state`` with flat keys renamed to dotted ones when that makes it fit ``expected``;
    otherwise ``state`` unchanged."""
    if set(state) == expected:
        return state
    names = legacy_names(graph)
    renamed = {}
    for key, value in state.items():
        layer, _, rest = key.partition(".")
        new = f"{names[layer]}.{rest}" if layer in names and rest else key
        renamed[new] = value
    return renamed if set(renamed) == expected else state
