"""The scopes of a graph as Python: one ``nn.Module`` class per block, ``nn.Sequential``
for repeated uses and ``sequential`` layers, and the statements of each class body.

Classes are made bottom-up (a block's inner blocks first). The instances of one block that
render the same statements up to integers share one class, whose varying integers become
constructor parameters (:mod:`specc.backends.unify`); instances that differ in more (a
conditional layer present in some only, another inner class) get a class of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from specc.backends.copies import Union, copy_plan, group_copies
from specc.backends.defaults import drop_defaults, fill_defaults, torch_params
from specc.backends.naming import camel_case, plan_forward
from specc.backends.pyformat import format_statement
from specc.backends.unify import statement_skeleton, unify
from specc.ir import INPUT, Node, Scope
from specc.ops.base import fmt_shape

if TYPE_CHECKING:
    from specc.ir import Graph

__all__ = ["BlockClass", "Hierarchy"]

BODY = 8
Statement = tuple[str, str | None, str | None]  # (one-line code, comment, guard)


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
        plans = [copy_plan(s, self._shapes(s)) for s in instances]
        for union in group_copies(plans):
            self._block_class(block, union)

    def _block_class(self, block: str, union: Union) -> None:
        """One class for a group of copies; each copy's call passes its values."""
        name = self._class_name(block)
        optional = set(union.optional)
        modules = [k for k in union.keys if self._expr(union.children[k]) is not None]
        guards = {k: f"self.{k}" + " is not None" * (k in modules) for k in optional}
        steps, returned = plan_forward(_union_graph(union))
        statements, forward = [], []
        for member in union.members:
            own = {c.key: c for c in member.scope.children}
            init = [self._init_code(own[k]) if k in own else None for k in modules]
            forward = self._copy_forward(steps, returned, own, union.children, guards)
            statements.append([*init, *(c for c, _, _ in forward)])
        unified = unify(statements, [m.scope.env for m in union.members], self._arg_name)
        gates = _gate_names(union.keys, optional, unified.params)
        init_rows = self._init_rows(
            union, dict(zip(modules, unified.statements, strict=False)), gates
        )
        shared = unified.statements[len(modules) :]
        forward_rows: list[Statement] = [
            (c, None, g) for c, (_, _, g) in zip(shared, forward, strict=True)
        ]
        params = [*unified.params, *gates.values()]
        for j, member in enumerate(union.members):
            values = [*unified.values[j], *(k in member.keys for k in gates)]
            self.calls[id(member.scope)] = f"{name}({', '.join(map(repr, values))})"
        self.signatures[name] = params
        more = f" and {len(union.members) - 1} more" if len(union.members) > 1 else ""
        doc = f"Block '{block}': {union.members[0].scope.path}{more}."
        self.classes.append(BlockClass(name, doc, params, _lines(init_rows), _lines(forward_rows)))

    def _init_rows(self, union: Union, codes: dict[str, str], gates: dict[str, str]) -> list:
        """``__init__`` of a group's class: an optional module is None unless its gate
        parameter is true; an optional layer without a module keeps its gate as a flag."""
        rows: list[Statement] = []
        for key in union.keys:
            where = self._where(union.children[key])
            if key in codes and key in gates:
                rows.append((f"self.{key} = None", where, None))
                rows.append((drop_defaults(codes[key]), None, gates[key]))
            elif key in codes:
                rows.append((drop_defaults(codes[key]), where, None))
            elif key in gates:
                rows.append((f"self.{key} = {gates[key]}", where, None))
        return rows

    def _copy_forward(
        self, steps: list, returned: list[str], own: dict, union_children: dict, guards: dict
    ) -> list[Statement]:
        """A copy's ``forward`` over the group's wiring: an optional child runs under its
        guard, its output first set to what it reads (every copy runs the same lines; one
        lacking the child is written from the group's copy of it)."""
        forward: list[Statement] = []
        for step in steps:
            if step.out is None:
                continue
            key = step.node.name
            lines = self._forward(own.get(key, union_children[key]), step.args, step.out)
            guard = guards.get(key)
            if guard is not None and step.out != step.args[0]:
                forward.append((f"{step.out} = {step.args[0]}", None, None))
            forward += [(text, None, guard) for text, _ in lines]
        forward.append((f"return {', '.join(returned)}", None, None))
        return forward

    def _init_code(self, child: Node | Scope) -> str:
        """``self.key = <constructor>`` with torch's defaults written out (for unify)."""
        return fill_defaults(f"self.{child.key} = {self._expr(child)}")

    def _shapes(self, scope: Scope) -> dict[str, tuple]:
        """Per child key, the skeleton of its ``__init__`` and ``forward`` statements."""
        shapes = {}
        for child in scope.children:
            expr = self._expr(child)
            init = statement_skeleton(self._init_code(child)) if expr is not None else ()
            reads = len(child.inputs) if isinstance(child, Node) else 1
            lines = self._forward(child, [f"_a{i}" for i in range(reads)], "_out")
            shapes[child.key] = (init, tuple(statement_skeleton(t) for t, _ in lines))
        return shapes

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
            params = torch_params(callee)
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
                init.append((f"self.{child.key} = {expr}", self._where(child), None))
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
                            None,
                        )
                    )
                continue
            for text, shape in self._forward(child, step.args, step.out):
                note = f"{fmt_shape(shape)}  {self._where(child)}" if shapes else None
                forward.append((text, note, None))
        forward.append((f"return {', '.join(returned)}", None, None))
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
    """Formatted lines; a guarded statement goes under its own ``if guard:``."""
    out: list[str] = []
    for code, comment, guard in statements:
        if guard is None:
            out += format_statement(code, BODY, comment)
        else:
            out += format_statement(f"if {guard}:", BODY, comment)
            out += format_statement(code, BODY + 4)
    return out


def _union_graph(union: Union) -> _LocalGraph:
    """The wiring of a group of copies over its keys (an optional child included)."""
    nodes = [_Local(k, union.edges[k], i, union.children[k]) for i, k in enumerate(union.keys)]
    return _LocalGraph(nodes, [union.output])


def _gate_names(keys: list[str], optional: set[str], params: list[str]) -> dict[str, str]:
    """Per optional key, the boolean constructor parameter that says whether it is there
    (the key itself, unless a parameter already has that name)."""
    taken = set(params)
    gates = {}
    for key in (k for k in keys if k in optional):
        name, k = key, 2
        while name in taken:
            name, k = f"{key}_{k}", k + 1
        taken.add(name)
        gates[key] = name
    return gates


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
