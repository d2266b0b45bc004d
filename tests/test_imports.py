"""Layering: the library never loads the command line, and packages import one way.

The static graph: one node per subpackage or top-level module of ``specc`` (``specc.train``,
``specc.workflow``; ``specc`` itself is the facade in ``__init__.py``), an edge for every
``import`` in ``specc/**/*.py`` that crosses from one node to another, relative imports
resolved and imports inside functions (and under ``TYPE_CHECKING``) included.
"""

from __future__ import annotations

import ast
import graphlib
import itertools
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI = {"specc.cli", "specc.commands", "specc.__main__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _node(module: str) -> str:
    """``specc.train.session`` -> ``specc.train``; ``specc`` stays ``specc``."""
    return ".".join(module.split(".")[:2])


def _imported(tree: ast.Module, module: str, is_package: bool, modules: set[str]):
    """Every specc module named by an import anywhere in ``tree`` (functions included)."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            source = ".".join([*base, *([node.module] if node.module else [])])
            yield source
            yield from (f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in modules)


def import_graph() -> dict[str, dict[str, str]]:
    """``{node: {imported node: "one module -> module import that makes the edge"}}``."""
    paths = sorted((ROOT / "specc").rglob("*.py"))
    modules = {_module_name(p) for p in paths}
    graph: dict[str, dict[str, str]] = defaultdict(dict)
    for path in paths:
        module = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for target in _imported(tree, module, path.name == "__init__.py", modules):
            if target.split(".")[0] == "specc" and _node(target) != _node(module):
                graph[_node(module)].setdefault(_node(target), f"{module} -> {target}")
    return graph


def test_the_graph_sees_relative_and_function_level_imports():
    graph = import_graph()
    assert "specc.rundir" in graph["specc.train"]  # train/api.py, at module level
    assert "specc.export" in graph["specc.workflow"]  # inside a function
    assert "specc.train" in graph["specc.commands"]


def test_packages_import_without_cycles():
    graph = import_graph()
    try:
        graphlib.TopologicalSorter({k: set(v) for k, v in graph.items()}).prepare()
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        steps = [graph[a][b] for a, b in itertools.pairwise(cycle)]
        pytest.fail("import cycle " + " -> ".join(cycle) + ":\n  " + "\n  ".join(steps))


def test_only_the_command_line_imports_the_command_line():
    graph = import_graph()
    wrong = [
        edge
        for node, out in graph.items()
        if node not in CLI
        for t, edge in out.items()
        if t in CLI
    ]
    assert not wrong, wrong


def test_training_and_export_meet_only_in_the_workflow():
    graph = import_graph()
    assert "specc.export" not in graph["specc.train"], graph["specc.train"]["specc.export"]
    assert "specc.train" not in graph["specc.export"], graph["specc.export"]["specc.train"]
    lower = ("specc.rundir", "specc.report", "specc.track", "specc.data")
    for node in lower:
        assert not {"specc.train", "specc.export", "specc.workflow", "specc.tune"} & set(
            graph[node]
        )


@pytest.mark.parametrize(
    "module",
    [
        "specc",
        "specc.train.session",
        "specc.train.distributed",
        "specc.export",
        "specc.data.pipeline",
        "specc.predict",
        "specc.rundir",
        "specc.workflow",
        "specc.report.html",
        "specc.track",
        "specc.tune",
    ],
)
def test_library_does_not_import_typer(module):
    code = f"import sys, {module}; print('typer' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"
