"""Names and text that reach generated code: the class name, comment-safe text and the
variable each node's output is held in.

Layer names are validated identifiers (:func:`specc.ops.base.check_layer_name`); everything
else (file names, paths) passes through :func:`safe_text` before it reaches a comment or a
docstring, so no character that could end one (newline, quote, backslash) ever does.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Generic, Protocol, TypeVar

from specc.ir import INPUT

__all__ = ["ForwardStep", "camel_case", "plan_forward", "safe_text", "spec_label"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._/+-]")
_MAX_LABEL = 60


def safe_text(text: str, limit: int = _MAX_LABEL) -> str:
    """Text that can sit inside a comment or docstring and stay inert.

    Every character outside ``A-Z a-z 0-9 . _ / + -`` becomes ``_`` (so newlines, quotes,
    backslashes and non-ASCII are gone); long text is cut to ``limit`` characters.
    """
    cleaned = _UNSAFE.sub("_", text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def spec_label(source_path: str) -> str:
    """The file name used in ``# lenet.yaml:9`` comments: the base name, made safe."""
    parts = re.split(r"[\\/]", source_path)
    name = PurePath(parts[-1] or "spec").name or "spec"
    return safe_text(name, limit=40)


def camel_case(name: str) -> str:
    """``lenet5 -> Lenet5``, ``digits-resnet -> DigitsResnet``; always a safe class name.

    A name that would start with a digit, be empty, or equal a keyword or builtin
    (``none -> None``) gets ``Model`` added.
    """
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", name) if p]
    camel = "".join(p[:1].upper() + p[1:] for p in parts)
    if not camel or camel[0].isdigit():
        camel = "Model" + camel
    if (
        keyword.iskeyword(camel)
        or hasattr(builtins, camel)
        or camel in TAKEN_CLASS_NAMES
        or camel.upper() == camel
    ):  # all capitals: train.py's constants (HERE, SEED...)
        camel += "Model"
    return camel


#: Names generated files import or define at module level, which a class may not take.
TAKEN_CLASS_NAMES = frozenset(
    {
        "Module",
        "Tensor",
        "Path",
        "SimpleImputer",
        "OneHotEncoder",
        "OrdinalEncoder",
        "StandardScaler",
        "MinMaxScaler",
    }
)


class _Planned(Protocol):
    """What plan_forward reads of a node: its name, the names it reads, its position."""

    @property
    def name(self) -> str: ...
    @property
    def inputs(self) -> list[str]: ...
    @property
    def index(self) -> int: ...


N = TypeVar("N", bound=_Planned)
N_co = TypeVar("N_co", bound=_Planned, covariant=True)


class ForwardGraph(Protocol[N_co]):
    """A graph plan_forward can plan: an ``ir.Graph``, or one scope's children (hierarchy.py)."""

    @property
    def nodes(self) -> Sequence[N_co]: ...
    @property
    def outputs(self) -> list[str]: ...
    def node(self, name: str) -> N_co: ...


@dataclass
class ForwardStep(Generic[N]):
    """One node in ``forward``: the variables it reads and the one it writes.

    ``out`` is None for a node whose output reaches no model output (it is not computed).
    """

    node: N
    args: list[str]
    out: str | None


def _live(graph: ForwardGraph[_Planned]) -> set[str]:
    """Names of the nodes whose outputs reach a model output."""
    live: set[str] = set()
    stack = list(graph.outputs)
    while stack:
        name = stack.pop()
        if name in live or name == INPUT:
            continue
        live.add(name)
        stack.extend(graph.node(name).inputs)
    return live


def _readers(graph: ForwardGraph[_Planned], live: set[str]) -> dict[str, set[int]]:
    readers: dict[str, set[int]] = {INPUT: set()}
    for node in graph.nodes:
        readers.setdefault(node.name, set())
        if node.name in live:
            for ref in node.inputs:
                readers[ref].add(node.index)
    return readers


def _fresh(base: str, taken: set[str]) -> str:
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def plan_forward(graph: ForwardGraph[N]) -> tuple[list[ForwardStep[N]], list[str]]:
    """Decide the variable of every node output; return the steps and the returned names.

    A value read only by the very next layer (a plain chain) reuses one variable, ``x``;
    a value read later, read twice, or that is one of several outputs keeps its own
    variable, named after its layer. The input is ``x``; when it is read after the first
    layer, the chain uses another name so that ``x`` is not overwritten.
    """
    live = _live(graph)
    readers = _readers(graph, live)
    position = {node.name: node.index for node in graph.nodes}
    position[INPUT] = -1
    last = len(graph.nodes) - 1
    single_output = graph.outputs[0] if len(graph.outputs) == 1 else None

    def chained(name: str) -> bool:
        after = readers[name]
        if name in graph.outputs:
            return name == single_output and not after and position[name] == last
        return after == {position[name] + 1}

    taken = {node.name for node in graph.nodes} | {"x"}
    chain = "x" if chained(INPUT) or not readers[INPUT] else _fresh("h", taken)
    var = {INPUT: "x"}
    steps: list[ForwardStep[N]] = []
    for node in graph.nodes:
        if node.name not in live:
            steps.append(ForwardStep(node, [], None))
            continue
        var[node.name] = chain if chained(node.name) else node.name
        steps.append(ForwardStep(node, [var[ref] for ref in node.inputs], var[node.name]))
    return steps, [var[name] for name in graph.outputs]
