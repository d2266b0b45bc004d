"""Which copies of one block can share a generated class.

A copy is seen through its children's keys, the local wiring between them (which key reads
which, ``input`` for the copy's input) and a skeleton of each child's statements (its
constructor call with torch's defaults written out, integers and booleans as ``#``). Copies
share a class when their skeletons agree key by key and their wiring is one wiring, up to
*optional* children: a conditional layer (``when:``) absent from a copy, whose readers there
read what the layer itself would have read (ResNet's ``downsample``). :func:`group_copies`
puts each copy in the first group it fits, merging the children of the group's copies into
one ordered list (the :class:`Union`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from specc.ir import INPUT, Node

if TYPE_CHECKING:
    from specc.ir import Scope

__all__ = ["CopyPlan", "Union", "group_copies"]


@dataclass
class CopyPlan:
    """One copy of a block, as grouping reads it.

    Attributes:
        scope: the copy.
        keys: its children's keys, in order.
        edges: per key, the keys it reads (``input``: the copy's input).
        output: the key whose output is the copy's output (``input`` when it passes through).
        shapes: per key, the skeleton of the child's statements.
    """

    scope: Scope
    keys: list[str]
    edges: dict[str, list[str]]
    output: str
    shapes: dict[str, tuple]

    @property
    def absent(self) -> set[str]:
        """Names of the copy's conditional layers whose ``when`` was false."""
        return set(self.scope.absent)


@dataclass
class Union:
    """The children of a group of copies: every key any of them has, in order.

    ``edges`` and ``children`` come from the first copy that has the key; ``optional``
    are the keys some copy lacks.
    """

    keys: list[str] = field(default_factory=list)
    edges: dict[str, list[str]] = field(default_factory=dict)
    children: dict[str, Node | Scope] = field(default_factory=dict)
    output: str = INPUT
    members: list[CopyPlan] = field(default_factory=list)

    @property
    def optional(self) -> list[str]:
        return [k for k in self.keys if any(k not in m.edges for m in self.members)]

    def bypass(self, ref: str, missing: set[str]) -> str:
        """What ``ref`` stands for in a copy that lacks the keys ``missing``."""
        while ref in missing:
            ref = self.edges[ref][0]
        return ref


def copy_plan(scope: Scope, shapes: dict[str, tuple]) -> CopyPlan:
    """A copy's keys and local wiring (``shapes``: per key, its statements' skeleton)."""
    owner: dict[str, str] = {scope.input: INPUT}
    edges: dict[str, list[str]] = {}
    for child in scope.children:
        refs = child.inputs if isinstance(child, Node) else [child.input]
        edges[child.key] = [owner.get(r, INPUT) for r in refs]
        owner[child.name if isinstance(child, Node) else child.output] = child.key
    keys = [c.key for c in scope.children]
    return CopyPlan(scope, keys, edges, owner.get(scope.output, INPUT), shapes)


def group_copies(plans: list[CopyPlan]) -> list[Union]:
    """Groups of copies that can share a class, in the order of their first copies.

    Copies with more children are placed first: a group then learns the wiring of an
    optional child from a copy that has it before meeting the copies that read past it.
    """
    groups: list[Union] = []
    for plan in sorted(plans, key=lambda p: -len(p.keys)):
        for g, group in enumerate(groups):
            merged = _merged(group, plan)
            if merged is not None:
                groups[g] = merged
                break
        else:
            groups.append(_merged(Union(), plan) or _alone(plan))
    order = {id(p): i for i, p in enumerate(plans)}
    for group in groups:
        group.members.sort(key=lambda p: order[id(p)])
    return sorted(groups, key=lambda g: order[id(g.members[0])])


def _alone(plan: CopyPlan) -> Union:
    children = {c.key: c for c in plan.scope.children}
    return Union(list(plan.keys), dict(plan.edges), children, plan.output, [plan])


def _merged(group: Union, plan: CopyPlan) -> Union | None:
    """``group`` with ``plan`` added, or None when it does not fit."""
    for member in group.members:
        if any(plan.shapes[k] != member.shapes[k] for k in plan.keys if k in member.shapes):
            return None
    lines = {k: c.line for k, c in group.children.items()}
    lines.update((c.key, c.line) for c in plan.scope.children)
    keys = _merge_order(group.keys, plan.keys, lines)
    if keys is None:
        return None
    union = Union(keys, dict(group.edges), dict(group.children), group.output, group.members)
    union.members = [*group.members, plan]
    for child in plan.scope.children:
        edges = plan.edges[child.key]
        if child.key not in union.edges or any(r not in group.keys for r in edges if r != INPUT):
            union.edges[child.key] = edges  # it reads a child the group's copies lack
        union.children.setdefault(child.key, child)
    for output in dict.fromkeys([group.output, plan.output] if group.members else [plan.output]):
        union.output = output
        if all(_fits(union, m) for m in union.members):
            break
    else:
        return None
    return union


def _merge_order(a: list[str], b: list[str], line: dict[str, int]) -> list[str] | None:
    """One order holding both key lists, each in its own order; where each list has a key
    the other lacks, the one written first in the spec (``line``) goes first. None if the
    lists cross or the spec line does not tell."""
    out: list[str] = []
    i = j = 0
    while i < len(a) or j < len(b):
        here, there = (a[i] if i < len(a) else None), (b[j] if j < len(b) else None)
        if here is not None and here == there:
            out.append(here)
            i, j = i + 1, j + 1
            continue
        own = here is not None and here not in b
        other = there is not None and there not in a
        if own and other and line[str(here)] == line[str(there)]:
            return None
        if own and (not other or line[str(here)] < line[str(there)]):
            out.append(str(here))
            i += 1
        elif other:
            out.append(str(there))
            j += 1
        else:
            return None
    return out


def _fits(union: Union, plan: CopyPlan) -> bool:
    """The copy is the union without its missing keys, which are conditional layers absent
    from it, its readers reading through them."""
    missing = set(union.keys) - set(plan.keys)
    if not missing <= plan.absent:
        return False
    for key in plan.keys:
        if plan.edges[key] != [union.bypass(r, missing) for r in union.edges[key]]:
            return False
    return plan.output == union.bypass(union.output, missing)
