"""Safe YAML loading that keeps the line and column of every node.

Only YAML's standard tags are accepted (no ``!!python/...``: nothing is constructed or
run), duplicate keys are errors, and every key and value keeps its source position so later
stages can point at the exact spot of a mistake.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import yaml

from specc.errors import SpecError

__all__ = ["MAX_DEPTH", "MAX_NODES", "Loaded", "Positions", "load_text", "load_value"]

MAX_DEPTH = 64  # nesting of mappings and lists; a spec needs about 6
MAX_NODES = 200_000  # values after YAML aliases are expanded (a "billion laughs" stops here)
INT64 = 2**63

_SAFE_TAGS = {
    "tag:yaml.org,2002:" + t
    for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "binary")
}

Pos = tuple[int, int]


@dataclass
class Positions:
    """Source positions keyed by key path (a tuple of dict keys and list indices).

    ``value[path]`` is where the value at ``path`` starts; ``key[path]`` is where its key
    is written (for mapping entries). ``aliases`` redirect an expanded path (a layer made
    from a block) to the path it was made from.
    """

    value: dict[tuple, Pos] = field(default_factory=dict)
    key: dict[tuple, Pos] = field(default_factory=dict)
    aliases: dict[tuple, tuple] = field(default_factory=dict)

    def _resolve(self, path: tuple) -> tuple:
        for length in range(len(path), 0, -1):
            target = self.aliases.get(path[:length])
            if target is not None:
                return target + path[length:]
        return path

    def locate(self, path: tuple, *, at_key: bool = False) -> Pos:
        """Best position for ``path``: the key (if asked and known), else the value,
        else the nearest enclosing node that has a position."""
        path = self._resolve(tuple(path))
        for length in range(len(path), -1, -1):
            prefix = path[:length]
            if at_key and length == len(path) and prefix in self.key:
                return self.key[prefix]
            if prefix in self.value:
                return self.value[prefix]
        return (1, 1)


@dataclass
class Loaded:
    """The result of loading: plain data, positions and the text it came from."""

    data: dict[str, Any]  # the top level is always a mapping (anything else is E008)
    positions: Positions
    source: str
    path: str
    layout: Any = None  # specc.spec.blocks.Layout, set when blocks are expanded


def _pos(mark: yaml.Mark) -> Pos:
    return (mark.line + 1, mark.column + 1)


class _TooDeep(yaml.composer.ComposerError):
    """The spec nests deeper than :data:`MAX_DEPTH` (code E901)."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with a nesting limit: its composer recurses once per level, so a
    spec nested 10^5 deep would end in a RecursionError instead of a located error."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.CollectionStartEvent):
            if self._depth >= MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _TooDeep(
                    None, None, f"the spec is nested more than {MAX_DEPTH} levels deep", mark
                )
            self._depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1
        return super().compose_node(parent, index)


def _first_repeated(nodes: list[yaml.Node]) -> yaml.Node | None:
    """The first node that occurs twice in ``nodes`` (an alias inside its anchor), or None."""
    seen: set[int] = set()
    for node in nodes:
        if id(node) in seen:
            return node
        seen.add(id(node))
    return None


class _Builder:
    """Turns a composed YAML node tree into plain Python data, collecting errors."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.positions = Positions()
        self.errors: list[SpecError] = []
        self._scalars = yaml.SafeLoader("")
        self.budget = MAX_NODES
        self._open: list[yaml.Node] = []  # the mappings and lists being built, outermost first

    def spend(self, node: yaml.Node, key_path: tuple) -> bool:
        """Count one built value; False (and one error) once aliases made too many."""
        self.budget -= 1
        if self.budget == -1:
            self.error(
                node.start_mark,
                f"the spec expands to more than {MAX_NODES:,} values "
                "(YAML aliases repeated inside aliases?)",
                key_path,
                "E902",
            )
        return self.budget >= 0

    def _too_deep(self, key_path: tuple) -> None:
        """One E901 at the anchor whose alias sits inside it (else where the nesting got too
        deep), and no more building."""
        looped = _first_repeated(self._open)
        where = "a YAML alias used inside its own anchor" if looped else "YAML aliases"
        self.error(
            (looped or self._open[-1]).start_mark,
            f"the spec is nested more than {MAX_DEPTH} levels deep ({where})",
            key_path[:MAX_DEPTH],
            "E901",
        )
        self.budget = -2  # stops every loop; E902 is not reported on top

    def error(self, mark: yaml.Mark, message: str, key_path: tuple, code: str) -> None:
        line, col = _pos(mark)
        self.errors.append(SpecError(self.path, line, col, message, key_path, code=code))

    def build(self, node: yaml.Node, key_path: tuple) -> object:
        if not self.spend(node, key_path):
            return None
        if len(self._open) >= MAX_DEPTH:  # only aliases get here: &a [*a], or chains
            self._too_deep(key_path)
            return None
        self.positions.value[key_path] = _pos(node.start_mark)
        if node.tag not in _SAFE_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            self.error(
                node.start_mark, f"YAML tag '{tag}' is not allowed in a spec", key_path, "E005"
            )
            return None
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            self._open.append(node)
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, key_path)
                return [self.build(item, (*key_path, i)) for i, item in enumerate(node.value)]
            finally:
                self._open.pop()
        try:
            value = self._scalars.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            self.error(
                node.start_mark,
                f"invalid YAML value: {' '.join(str(exc).split())}",
                key_path,
                "E003",
            )
            return None
        if type(value) is float and not math.isfinite(value):
            kind = "not a number" if math.isnan(value) else "infinite"
            self.error(
                node.start_mark,
                f"{_short(node.value)} is {kind}; a spec takes finite numbers only",
                key_path,
                "E003",
            )
            return None
        if type(value) is int and not -INT64 <= value < INT64:
            self.error(
                node.start_mark,
                f"the integer {_short(node.value)} is out of range (at most 2**63 - 1)",
                key_path,
                "E003",
            )
            return None
        return value

    def _mapping(self, node: yaml.MappingNode, key_path: tuple) -> dict:
        result: dict = {}
        for key_node, value_node in node.value:
            if self.budget < 0:
                break
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.error(
                    key_node.start_mark,
                    "YAML merge keys ('<<') are not supported",
                    key_path,
                    "E005",
                )
                continue
            key = self.build(key_node, (*key_path, "<key>"))
            if self.budget < 0:
                break
            if not isinstance(key, str):
                self._bad_key(key_node, key, key_path)
                continue
            if key in result:
                first = self.positions.key[(*key_path, key)]
                self.error(
                    key_node.start_mark,
                    f"duplicate key '{key}' (first written at line {first[0]})",
                    (*key_path, key),
                    "E004",
                )
                continue
            self.positions.key[(*key_path, key)] = _pos(key_node.start_mark)
            result[key] = self.build(value_node, (*key_path, key))
        self.positions.value.pop((*key_path, "<key>"), None)
        return result

    def _bad_key(self, node: yaml.Node, key: object, key_path: tuple) -> None:
        if isinstance(node, yaml.ScalarNode):
            shown = _short(node.value) or "(empty)"
            kind = _KINDS.get(type(key), "a value")
            message = f"the key {shown} reads as {kind}; keys must be names (quote it: '{shown}')"
        else:
            message = "a mapping key must be a plain value (a name), not a mapping or a list"
        self.error(node.start_mark, message, key_path, "E006")


def _short(text: object, limit: int = 40) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


_NULL = "tag:yaml.org,2002:null"
_KINDS = {type(None): "null", bool: "a boolean", int: "an integer", float: "a number"}


def load_text(text: str, path: str) -> tuple[Loaded | None, list[SpecError]]:
    """Parse spec text safely.

    Args:
        text: the YAML source.
        path: the file name used in error locations.

    Returns:
        ``(loaded, errors)``; ``loaded`` is None when the text cannot be used at all.
    """
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = _pos(mark) if mark else (1, 1)
        problem = exc.problem or str(exc)
        message = f"invalid YAML: {problem}" + (f" ({exc.context})" if exc.context else "")
        code = "E901" if isinstance(exc, _TooDeep) else "E002"
        return None, [SpecError(path, line, col, message, code=code)]
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        message = f"invalid YAML: the character {char!r} is not allowed in a spec"
        return None, [SpecError(path, line, col, message, code="E002")]
    except yaml.YAMLError as exc:
        return None, [
            SpecError(path, 1, 1, "invalid YAML: " + " ".join(str(exc).split()), code="E002")
        ]
    if node is None:
        message = "the spec is empty; it needs at least version, name and model"
        return None, [SpecError(path, 1, 1, message, code="E007")]
    builder = _Builder(path)
    data = builder.build(node, ())
    if builder.errors:
        return None, builder.errors
    if not isinstance(data, dict):
        line, col = _pos(node.start_mark)
        kind = type(data).__name__ if data is not None else "null"
        message = f"the top level of a spec must be a mapping of sections, not a {kind}"
        return None, [SpecError(path, line, col, message, code="E008")]
    return Loaded(data, builder.positions, text, path), []


def load_value(text: str, where: str) -> tuple[object, list[SpecError]]:
    """One YAML value (a ``--set`` value), with the spec's limits and allowed tags.

    Returns:
        ``(value, errors)``; ``where`` names the text in the errors.
    """
    if not text.strip():
        return None, []
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        code = "E901" if isinstance(exc, _TooDeep) else "E002"
        return None, [SpecError(where, 0, 0, f"invalid YAML: {problem}", code=code)]
    if node is None:
        return None, []
    builder = _Builder(where)
    value = builder.build(node, ())
    return value, [SpecError(where, 0, 0, e.message, code=e.code) for e in builder.errors]
