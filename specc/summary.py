"""Per-layer summary of a spec: name, type, output shape, parameters, spec line; totals.

The per-layer numbers come from static shape inference (no torch needed); the totals come
from the real module when one is given (tests check that the two agree for every spec).
Used by ``specc build`` and by anything else that prints a model overview.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from specc.ir import Node, Scope

if TYPE_CHECKING:
    import torch

    from specc.ir import Graph
    from specc.spec.schema import Spec

__all__ = ["LayerRow", "Summary", "TreeRow", "summarize", "tree_rows"]

BYTES_PER_PARAM = 4  # float32


@dataclass
class LayerRow:
    """One layer: ``output_shape`` is per sample (no batch dimension)."""

    name: str
    type: str
    output_shape: list[int]
    params: int
    line: int
    explain: list[str] = field(default_factory=list)


@dataclass
class Summary:
    """A model overview. ``output_shape`` is a list of lists when there are several outputs
    (in ``outputs`` order: the output layer names).

    ``size_mb`` is the memory of parameters and buffers in megabytes (10**6 bytes).
    """

    name: str
    class_name: str
    input_shape: list[int]
    input_dtype: str
    output_shape: list[int] | list[list[int]]
    outputs: list[str]
    params: int
    trainable_params: int
    size_mb: float
    macs: int
    layers: list[LayerRow]

    def to_json(self, explain: bool = False) -> dict[str, Any]:
        """The ``specc build --json`` object; ``explain`` keeps each layer's arithmetic."""
        data = asdict(self)
        if not explain:
            for layer in data["layers"]:
                del layer["explain"]
        return data


def summarize(spec: Spec, model: torch.nn.Module | None = None) -> Summary:
    """Summarize a validated spec; with ``model``, totals are counted on the real module."""
    from specc.backends.source import class_name

    graph = spec.graph
    rows = [
        LayerRow(
            n.name,
            n.kind,
            list(n.shape),
            n.inferred.params,
            n.line,
            list(dict.fromkeys(n.inferred.explain)),
        )
        for n in graph.nodes
    ]
    outputs = [list(s) for s in graph.output_shapes]
    params = trainable = graph.params
    size = graph.params * BYTES_PER_PARAM
    if model is not None:
        params = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        tensors = [*model.parameters(), *model.buffers()]
        size = sum(t.numel() * t.element_size() for t in tensors)
    return Summary(
        name=spec.name,
        class_name=class_name(spec),
        input_shape=list(graph.input_shape),
        input_dtype=graph.input_dtype,
        output_shape=outputs[0] if len(outputs) == 1 else outputs,
        outputs=list(graph.outputs),
        params=params,
        trainable_params=trainable,
        size_mb=round(size / 1e6, 3),
        macs=graph.macs,
        layers=rows,
    )


@dataclass
class TreeRow:
    """One row of the nested layer table: a layer, or a block copy, repeated use or
    sequential holding layers (``params`` then counts everything inside it). ``depth`` is
    how many such scopes enclose the row; ``key`` is its name within the enclosing one."""

    depth: int
    key: str
    type: str
    output_shape: list[int]
    params: int
    line: int
    scope: bool = False


def tree_rows(graph: Graph) -> list[TreeRow]:
    """The layers of a graph nested the way the generated module nests them
    (``layer1`` > ``0`` > ``conv1``), in execution order, each scope before its members."""
    rows: list[TreeRow] = []

    def walk(scope: Scope, depth: int) -> None:
        for child in scope.children:
            if isinstance(child, Node):
                shape, params = list(child.shape), child.inferred.params
                rows.append(TreeRow(depth, child.key, child.kind, shape, params, child.line))
                continue
            shape = list(graph.shape_of(child.output))
            params = sum(n.inferred.params for n in _leaves(child))
            kind = _scope_type(child)
            rows.append(TreeRow(depth, child.key, kind, shape, params, child.line, scope=True))
            walk(child, depth + 1)

    walk(graph.root, 0)
    return rows


def _leaves(scope: Scope) -> list[Node]:
    out: list[Node] = []
    for child in scope.children:
        out += [child] if isinstance(child, Node) else _leaves(child)
    return out


def _scope_type(scope: Scope) -> str:
    """``basic`` (a block copy), ``2 x basic`` (a repeated use), ``sequential``."""
    if scope.kind == "copy":
        return str(scope.block)
    if scope.kind == "repeat":
        blocks = {c.block for c in scope.children if isinstance(c, Scope)}
        name = blocks.pop() if len(blocks) == 1 else "block"
        return f"{len(scope.children)} x {name}"
    return scope.kind
