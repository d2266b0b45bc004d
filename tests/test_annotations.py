"""Every public function and method in specc/ annotates its parameters .

A function is public when neither it nor its class has a leading underscore and it is not
nested in another function; ``__init__`` counts (it is the class's public constructor).
``self`` and ``cls`` need no annotation. Run this file (``python tests/test_annotations.py``)
for the counts: unannotated parameters per package, and their share over all functions.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "specc"


@dataclass(frozen=True)
class Gap:
    """One parameter without an annotation."""

    module: str  # specc/train/api.py
    line: int
    function: str  # Class.method or function
    parameter: str
    public: bool

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.function}({self.parameter})"


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    """Every parameter in order: positional, ``*args``, keyword-only, ``**kwargs``."""
    args = node.args
    rest = [args.vararg, *args.kwonlyargs, args.kwarg]
    return [*args.posonlyargs, *args.args, *(arg for arg in rest if arg is not None)]


def _scan(tree: ast.AST, module: str) -> tuple[int, list[Gap]]:
    """``(parameters counted, gaps)`` of every function in one module's syntax tree."""
    counted, gaps = 0, []

    def visit(node: ast.AST, owner: str, public: bool, in_function: bool) -> None:
        nonlocal counted
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visible = public and not child.name.startswith("_") and not in_function
                visit(child, f"{owner}{child.name}.", visible, in_function)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = child.name
                visible = public and not in_function and (name == "__init__" or name[0] != "_")
                for index, arg in enumerate(_parameters(child)):
                    if index == 0 and owner and arg.arg in ("self", "cls"):
                        continue
                    counted += 1
                    if arg.annotation is None:
                        gaps.append(Gap(module, arg.lineno, owner + name, arg.arg, visible))
                visit(child, f"{owner}{name}.", visible, True)
            else:
                visit(child, owner, public, in_function)

    visit(tree, "", True, False)
    return counted, gaps


def scan_package() -> tuple[int, list[Gap]]:
    """``(parameters counted, gaps)`` over every module in specc/."""
    total, gaps = 0, []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE.parent).as_posix()
        counted, found = _scan(ast.parse(path.read_text(encoding="utf-8")), module)
        total += counted
        gaps += found
    return total, gaps


def test_public_functions_annotate_their_parameters() -> None:
    _, gaps = scan_package()
    missing = [str(g) for g in gaps if g.public]
    assert not missing, "unannotated parameters in public functions:\n" + "\n".join(missing)


def test_the_scan_finds_an_unannotated_parameter() -> None:
    """The scanner itself: a public gap is found, self/cls and nested functions are not."""
    source = (
        "def f(a: int, b, *args, **kw: int) -> None:\n"
        "    def inner(c): ...\n"
        "class K:\n"
        "    def m(self, d): ...\n"
        "    @classmethod\n"
        "    def c(cls, e: int) -> None: ...\n"
        "def _private(g): ...\n"
    )
    counted, gaps = _scan(ast.parse(source), "m.py")
    assert counted == 8
    assert {(g.function, g.parameter, g.public) for g in gaps} == {
        ("f", "b", True),
        ("f", "args", True),
        ("f.inner", "c", False),
        ("K.m", "d", True),
        ("_private", "g", False),
    }


def _report() -> None:
    total, gaps = scan_package()
    public = [g for g in gaps if g.public]
    print(f"all functions: {len(gaps)} of {total} parameters unannotated ({len(gaps) / total:.1%})")
    print(f"public functions: {len(public)} unannotated")
    areas: dict[str, int] = {}
    for gap in public:
        area = gap.module.rsplit("/", 1)[0] if gap.module.count("/") > 1 else gap.module
        areas[area] = areas.get(area, 0) + 1
    for area, count in sorted(areas.items(), key=lambda item: -item[1]):
        print(f"  {count:4d}  {area}")
    if "-v" in sys.argv:
        print("\n".join(str(g) for g in public))


if __name__ == "__main__":
    _report()
