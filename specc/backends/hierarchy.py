"""The scopes of a graph as Python: one ``nn.Module`` class per block, ``nn.Sequential``
for repeated uses and ``sequential`` layers, and the statements of each class body.

Classes are made bottom-up (a block's inner blocks first). The instances of one block that
render the same statements up to integers share one class, whose varying integers become
constructor parameters (:mod:`specc.backends.unify`); instances that differ in more (a
conditional layer present in some only, another inner class) get a class of their own.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from specc.backends.naming import camel_case, plan_forward
from specc.backends.pyformat import format_statement
from specc.backends.unify import skeleton, unify
from specc.ir import INPUT, Node, Scope
from specc.ops.base import fmt_shape

if TYPE_CHECKING:
    from specc.ir import Graph

__all__ = ["BlockClass", "Hierarchy"]

BODY = 8
Statement = tuple[str, str | None]  # (one-line code, comment)


@dataclass
class BlockClass:
    """A generated block class: name, docstring, constructor parameters and body lines."""

    name: str
    doc: str
    params: list[str]
    init_lines: list[str]
    forward_lines: list[str]


@dataclass
class _Local:
    name: str
    inputs: list[str]
    index: int
    item: Node | Scope


@dataclass
class _LocalGraph:
    """One scope's children as a graph over local names, the shape plan_forward reads."""

    nodes: list[_Local]
    outputs: list[str]
    _by: dict[str, _Local] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by = {n.name: n for n in self.nodes}

    def node(self, name: str) -> _Local:
        return self._by[name]


class Hierarchy:
    """Renders a graph's scopes; ``classes`` and ``root_body()`` are what the template lays out."""

    def __init__(self, graph: Graph, label: str, model_class: str) -> None:
        self.graph = graph
        self.label = label
        self.taken = {model_class, "OrderedDict", "Module", "Sequential"}
        self.calls: dict[int, str] = {}
        self.signatures: dict[str, list[str]] = {}
        self.classes: list[BlockClass] = []
        self.ordered_dict = False
        for block, instances in _by_height(graph):
            self._block(block, instances)

    def root_body(self) -> tuple[list[str], list[str]]:
        """The model class's ``__init__`` and ``forward`` lines (with shape comments)."""
        init, forward = self._statements(self.graph.root, self.graph.outputs, shapes=True)
        return _lines(init), _lines(forward)

    def _block(self, block: str, instances: list[Scope]) -> None:
        bodies = [self._statements(s, [s.output], shapes=False) for s in instances]
        groups: dict[tuple, list[int]] = {}
        for j, (init, forward) in enumerate(bodies):
            groups.setdefault(skeleton([c for c, _ in init + forward]), []).append(j)
        for members in groups.values():
            name = self._class_name(block)
            init, forward = bodies[members[0]]
            statements = [[c for c, _ in bodies[j][0] + bodies[j][1]] for j in members]
            unified = unify(statements, [instances[j].env for j in members], self._arg_name)
            comments = [m for _, m in init + forward]
            done = list(zip(unified.statements, comments, strict=True))
            for j, values in zip(members, unified.values, strict=True):
                self.calls[id(instances[j])] = f"{name}({', '.join(map(repr, values))})"
            self.signatures[name] = unified.params
            more = f" and {len(members) - 1} more" if len(members) > 1 else ""
            doc = f"Block '{block}': {instances[members[0]].path}{more}."
            self.classes.append(
                BlockClass(
                    name, doc, unified.params, _lines(done[: len(init)]), _lines(done[len(init) :])
                )
            )

    def _class_name(self, block: str) -> str:
        base = camel_case(block)
        name, k = base, 2
        while name in self.taken:
            name, k = f"{base}{k}", k + 1
        self.taken.add(name)
        return name

    def _arg_name(self, tokens: list, index: int) -> str:
        """A name for a new constructor parameter filling the integer ``tokens[index]``."""
        if index >= 2 and tokens[index - 1].string == "=":
            return tokens[index - 2].string
        depth, position = 0, 0
        for k in range(index - 1, -1, -1):
            text = tokens[k].string
            if text in ")]":
                depth += 1
            elif text in "([":
                if depth == 0:
                    return self._positional(tokens, k, position) if text == "(" else "size"
                depth -= 1
            elif text == "," and depth == 0:
                position += 1
        return "value"

    def _positional(self, tokens: list, paren: int, position: int) -> str:
        callee = tokens[paren - 1].string if paren else ""
        if callee in self.signatures:
            params = self.signatures[callee]
        else:
            params = _torch_params(callee)
        return params[position] if position < len(params) else f"arg{position}"

    def _statements(
        self, scope: Scope, outputs: list[str], shapes: bool
    ) -> tuple[list[Statement], list[Statement]]:
        """``__init__`` and ``forward`` statements of a copy scope or of the root."""
        local = _local_graph(scope, outputs)
        init: list[Statement] = []
        for child in scope.children:
            expr = self._expr(child)
            if expr is not None:
                init.append((f"self.{child.key} = {expr}", self._where(child)))
        steps, returned = plan_forward(local)
        forward: list[Statement] = []
        for step in steps:
            child = step.node.item
            if step.out is None:
                if shapes:
                    forward.append(
                        (
                            f"# {child.key} ({self._where(child)}) is skipped: no output uses it",
                            None,
                        )
                    )
                continue
            for text, shape in self._forward(child, step.args, step.out):
                note = f"{fmt_shape(shape)}  {self._where(child)}" if shapes else None
                forward.append((text, note))
        forward.append((f"return {', '.join(returned)}", None))
        return init, forward

    def _where(self, child: Node | Scope) -> str:
        return f"{self.label}:{child.line}"

    def _forward(self, child: Node | Scope, args: list[str], out: str) -> list:
        if isinstance(child, Node):
            return child.layer.forward_source(f"self.{child.key}", args, out, child.inferred)
        shape = self.graph.shape_of(child.output)
        return [(f"{out} = self.{child.key}({', '.join(args)})", shape)]

    def _expr(self, child: Node | Scope) -> str | None:
        """The constructor expression of a child: a layer, a block class, a Sequential."""
        if isinstance(child, Node):
            return child.layer.init_source(child.inferred)
        if child.kind == "copy":
            return self.calls[id(child)]
        parts = [self._expr(c) or "nn.Identity()" for c in child.children]
        if child.named:
            self.ordered_dict = True
            pairs = ", ".join(
                f"({c.key!r}, {p})" for c, p in zip(child.children, parts, strict=True)
            )
            return f"nn.Sequential(OrderedDict([{pairs}]))"
        return f"nn.Sequential({', '.join(parts)})"


def _lines(statements: list[Statement]) -> list[str]:
    out: list[str] = []
    for code, comment in statements:
        out += format_statement(code, BODY, comment)
    return out


def _local_graph(scope: Scope, outputs: list[str]) -> _LocalGraph:
    """A scope's children over local names: a value from outside is the scope's input."""
    owner: dict[str, str] = {scope.input: INPUT}
    nodes: list[_Local] = []
    for index, child in enumerate(scope.children):
        refs = child.inputs if isinstance(child, Node) else [child.input]
        nodes.append(_Local(child.key, [owner.get(r, INPUT) for r in refs], index, child))
        owner[child.name if isinstance(child, Node) else child.output] = child.key
    return _LocalGraph(nodes, [owner[o] for o in outputs])


def _by_height(graph: Graph) -> list[tuple[str, list[Scope]]]:
    """Each block with its copies, blocks used inside others first."""
    height: dict[int, int] = {}

    def measure(scope: Scope) -> int:
        inner = [measure(c) for c in scope.children if isinstance(c, Scope)]
        height[id(scope)] = 1 + max(inner, default=0)
        return height[id(scope)]

    measure(graph.root)
    blocks: dict[str, list[Scope]] = {}
    for scope in graph.scopes():
        if scope.kind == "copy" and scope.block is not None:
            blocks.setdefault(scope.block, []).append(scope)
    return sorted(blocks.items(), key=lambda kv: max(height[id(s)] for s in kv[1]))


def _torch_params(callee: str) -> list[str]:
    """Positional parameter names of ``nn.<callee>`` (``in_channels, out_channels``)."""
    try:
        from torch import nn

        cls: Any = getattr(nn, callee, None)
        names = list(inspect.signature(cls).parameters) if cls is not None else []
    except (ImportError, TypeError, ValueError):
        names = []
    return [n for n in names if n not in ("self", "args", "kwargs")]
