"""The graph IR: one node per layer, with its inputs, inferred shape and spec line.

:func:`lower` turns validated layers into a :class:`Graph`, inferring every shape in plain
Python (no torch) and collecting located problems instead of stopping at the first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from specc.ops.base import Inferred, Layer, Shape, ShapeError

__all__ = ["Graph", "Node", "Scope", "infer_layer", "lower"]

INPUT = "input"


@dataclass(eq=False)
class Scope:
    """A module that holds other layers: one copy of a block, a repeated use (its copies),
    or a ``sequential``. Scopes nest; the model itself is the root scope (``kind`` model).

    Attributes:
        path: dotted path from the model (``layer1.0``); ``state_dict`` keys start with it.
        key: the name within its parent (``0``, ``layer1``, ``denselayer1``).
        kind: ``copy`` (one block copy), ``repeat`` (the copies of a use), ``sequential``
            or ``model``.
        block: the block a copy instantiates.
        line: spec line of the use or sequential.
        parent: the enclosing scope (None at the top level).
        named: members of a repeat/sequential keyed by name (else by position).
        env: a copy's parameter values.
        absent: names of a copy's conditional layers whose ``when`` was false.
        input: dotted path of the value the scope reads (``input``: the model input).
        output: dotted path of the node whose output is the scope's output.
        children: nodes and scopes directly inside, in execution order.
    """

    path: str
    key: str
    kind: str
    block: str | None
    line: int
    parent: Scope | None = field(repr=False)
    named: bool = False
    env: dict[str, Any] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)
    input: str = INPUT
    output: str = ""
    children: list[Node | Scope] = field(default_factory=list, repr=False)

    def chain(self) -> str:
        """``block 'basic' at layer2.0 (line 40)``, outermost use first, for messages."""
        parts: list[str] = []
        scope: Scope | None = self
        while scope is not None:
            if scope.kind == "copy":
                parts.append(f"block '{scope.block}' at {scope.path} (line {scope.line})")
            scope = scope.parent
        return ", in ".join(parts)


@dataclass
class Node:
    """One layer in the graph.

    Attributes:
        name: unique dotted path (``layer1.0.conv1``; the ``state_dict`` prefix).
        layer: the validated layer arguments.
        inputs: names of the nodes feeding it (``input`` is the model input).
        inferred: shape inference result; ``inferred.shape`` is per sample.
        index: position in ``model.layers`` (after block expansion).
        line: spec line the layer was written on.
    """

    name: str
    layer: Layer
    inputs: list[str]
    inferred: Inferred
    index: int
    line: int
    scope: Scope | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        """The name within its scope (``conv1``, ``0``)."""
        return self.name.rsplit(".", 1)[-1]

    @property
    def shape(self) -> Shape:
        """Output shape per sample."""
        return self.inferred.shape

    @property
    def kind(self) -> str:
        """The layer's ``type``."""
        return self.layer.kind


@dataclass
class Graph:
    """A lowered model: input, nodes in execution order, output names."""

    input_shape: Shape
    input_dtype: str
    nodes: list[Node]
    outputs: list[str]
    _by_name: dict[str, Node] = field(default_factory=dict, repr=False)
    root: Scope = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self._by_name = {node.name: node for node in self.nodes}
        if self.root is None:
            self.root = _tree(self.nodes)

    def leaves(self) -> Iterator[tuple[str, Node]]:
        """``(dotted path, node)`` for every layer, in execution order."""
        for node in self.nodes:
            yield node.name, node

    def scopes(self) -> Iterator[Scope]:
        """Every scope below the root, parents before children."""
        stack = list(reversed([c for c in self.root.children if isinstance(c, Scope)]))
        while stack:
            scope = stack.pop()
            yield scope
            stack += reversed([c for c in scope.children if isinstance(c, Scope)])

    def node(self, name: str) -> Node:
        """The node called ``name``."""
        return self._by_name[name]

    def shape_of(self, name: str) -> Shape:
        """Per-sample shape of a node's output, or of the model input."""
        return self.input_shape if name == INPUT else self._by_name[name].shape

    def consumers(self, name: str) -> list[Node]:
        """Nodes that read ``name``'s output."""
        return [node for node in self.nodes if name in node.inputs]

    @property
    def output_shapes(self) -> list[Shape]:
        """Per-sample shapes of the outputs, in ``outputs`` order."""
        return [self.shape_of(name) for name in self.outputs]

    @property
    def params(self) -> int:
        """Total number of parameters."""
        return sum(node.inferred.params for node in self.nodes)

    @property
    def macs(self) -> int:
        """Multiply-accumulates per sample."""
        return sum(node.inferred.macs for node in self.nodes)


def _tree(nodes: list[Node]) -> Scope:
    """The root scope, with every node and scope attached to its parent in order."""
    root = Scope("", "", "model", None, 0, None, output=nodes[-1].name if nodes else INPUT)
    attached: set[int] = set()
    for node in nodes:
        chain: list[Scope] = []
        scope = node.scope
        while scope is not None:
            chain.append(scope)
            scope = scope.parent
        parent = root
        for scope in reversed(chain):
            if id(scope) not in attached:
                attached.add(id(scope))
                scope.children = []
                parent.children.append(scope)
            parent = scope
        parent.children.append(node)
    return root


# A problem: (index of the layer or None for model-level, key (or key path) within it or None,
# message, code: a key of specc.codes.CODES)
Problem = tuple[int | None, str | tuple | None, str, str]


def lower(
    input_shape: Sequence[int],
    input_dtype: str,
    layers: Sequence[Layer],
    outputs: str | list[str] | None,
    lines: Sequence[int],
    paths: Sequence[str] | None = None,
    scopes: Sequence[Scope | None] | None = None,
) -> tuple[Graph | None, list[Problem]]:
    """Lower validated layers into a graph with inferred shapes.

    Args:
        input_shape: one sample's shape (no batch dimension).
        input_dtype: ``float32`` or ``int64``.
        layers: layers in order, each with a ``name``.
        outputs: output layer name(s); default the last layer.
        lines: spec line of each layer.
        paths: dotted path of each layer (default its name).
        scopes: the scope each layer sits in (default none: a flat model).

    Returns:
        ``(graph, problems)``; graph is None when any problem was found.
    """
    problems: list[Problem] = []
    known: dict[str, tuple[Shape, str] | None] = {INPUT: (tuple(input_shape), input_dtype)}
    nodes: list[Node] = []
    previous = INPUT
    names = list(paths) if paths is not None else [_name(layer) for layer in layers]
    later = set(names)
    for index, layer in enumerate(layers):
        name = names[index]
        refs = _refs(layer, previous)
        node = _infer_node(index, layer, name, refs, known, later, problems, lines[index])
        if node is not None and scopes is not None:
            node.scope = scopes[index]
        if name in known:
            problems.append((index, "name", f"duplicate layer name '{name}'", "E205"))
        known[name] = (node.shape, node.inferred.dtype) if node else None
        if node:
            nodes.append(node)
        previous = name
    out_names = _outputs(outputs, previous, known, problems)
    if problems:
        return None, problems
    return Graph(tuple(input_shape), input_dtype, nodes, out_names), []


def _name(layer: Layer) -> str:
    if layer.name is None:  # spec/blocks.py names every layer before lowering
        raise ValueError(f"lower() needs named layers, got an unnamed {layer.kind}")
    return layer.name


def _refs(layer: Layer, previous: str) -> list[str]:
    if layer.inputs is None:
        return [previous]
    return [layer.inputs] if isinstance(layer.inputs, str) else list(layer.inputs)


def _infer_node(
    index: int,
    layer: Layer,
    name: str,
    refs: list[str],
    known: dict,
    all_names: set[str],
    problems: list[Problem],
    line: int,
) -> Node | None:
    """Check a layer's inputs and infer its output; None (and a problem) when it cannot."""
    low, high = layer.arity
    if not low <= len(refs) <= (high if high is not None else len(refs)):
        want = f"{low}" if low == high else f"at least {low}"
        problems.append((index, "inputs", f"takes {want} input(s), got {len(refs)}", "E402"))
        return None
    for i, ref in enumerate(refs):
        if ref not in known:
            where = "itself" if ref == name else "a later layer"
            detail = f"'{ref}' is {where}" if ref in all_names else f"there is no layer '{ref}'"
            key = ("inputs", i) if isinstance(layer.inputs, list) else "inputs"
            problems.append(
                (
                    index,
                    key,
                    f"unknown input '{ref}': {detail}; only 'input' "
                    f"and earlier layers can be inputs{_suggest(ref, known)}",
                    "E203",
                )
            )
            return None
    if any(known[ref] is None for ref in refs):
        return None  # an input already failed; do not cascade errors
    shapes = [known[ref][0] for ref in refs]
    dtypes = [known[ref][1] for ref in refs]
    try:
        inferred = infer_layer(layer, shapes, dtypes)
    except ShapeError as exc:
        problems.append((index, None, str(exc), "E401"))
        return None
    return Node(name, layer, refs, inferred, index, line)


def infer_layer(layer: Layer, shapes: Sequence[Shape], dtypes: Sequence[str]) -> Inferred:
    """Every check lowering makes on one layer, given its inputs' per-sample shapes and dtypes:
    float input unless the layer takes token ids, the layer's own shape inference, written
    inferable arguments, and no zero-size output dimension.

    Raises:
        ShapeError: the first problem found.
    """
    if "int64" in dtypes and not layer.accepts_int:
        raise ShapeError(
            f"{layer.kind} needs a float32 input, but its input is int64 (token "
            "ids); an embedding layer turns ids into vectors, or set "
            "model.input.dtype: float32"
        )
    inferred = layer.infer(shapes, dtypes)
    layer.check_written(inferred)
    if any(dim < 1 for dim in inferred.shape):
        raise ShapeError(f"the output shape {list(inferred.shape)} has a zero-size dimension")
    return inferred


def _suggest(ref: str, known: dict) -> str:
    from specc.errors import did_you_mean

    return did_you_mean(ref, [k for k in known if known[k] is not None])


def _outputs(
    outputs: str | list[str] | None, last: str, known: dict, problems: list[Problem]
) -> list[str]:
    names = [last] if outputs is None else [outputs] if isinstance(outputs, str) else list(outputs)
    if not names:
        problems.append(
            (
                None,
                "outputs",
                "model.outputs is empty; name at least one layer "
                "(or leave it out: the last layer is the output)",
                "E403",
            )
        )
    for i, name in enumerate(names):
        if name == INPUT:
            where = ("outputs", i) if isinstance(outputs, list) else "outputs"
            problems.append(
                (
                    None,
                    where,
                    f"model.outputs cannot be the model's '{INPUT}'; name a layer",
                    "E403",
                )
            )
        elif name not in known:
            where = ("outputs", i) if isinstance(outputs, list) else "outputs"
            problems.append(
                (
                    None,
                    where,
                    f"model.outputs names unknown layer '{name}'{_suggest(name, known)}",
                    "E204",
                )
            )
    if len(set(names)) != len(names):
        problems.append((None, "outputs", "model.outputs lists a layer twice", "E403"))
    return names
