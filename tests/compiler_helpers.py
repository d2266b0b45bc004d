"""Helpers shared by the compiler tests: load specs from text, import generated files,
run them where ``specc`` cannot be imported, and check their AST."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import uuid
from pathlib import Path

from specc.spec.validate import check_text

ROOT = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).parent / "ruff"

# Run files as __main__ with every import of specc refused.
_BLOCKED_RUNNER = """
import runpy, sys
class _NoSpecc:
    def find_spec(self, name, path=None, target=None):
        if name == "specc" or name.startswith("specc."):
            raise ImportError("specc is blocked in this process")
sys.meta_path.insert(0, _NoSpecc())
try:
    import specc
except ImportError:
    pass
else:
    raise SystemExit("the blocker failed: specc was imported")
for path in sys.argv[1:]:
    runpy.run_path(path, run_name="__main__")
"""

ALLOWED_CALL_ROOTS = {"torch", "nn", "self", "super", "print", "tuple", "model"}
FORBIDDEN_NAMES = {
    "eval",
    "exec",
    "compile",
    "open",
    "getattr",
    "setattr",
    "__import__",
    "globals",
    "locals",
    "vars",
    "input",
    "breakpoint",
    "os",
    "sys",
    "subprocess",
}


def spec_from_text(text: str, path: str = "test.yaml"):
    """Validate spec text; fail the test with the errors if it is invalid."""
    spec, errors = check_text(text, path)
    assert not errors, "\n".join(e.message for e in errors)
    return spec


def import_file(path: Path):
    """Import a generated model.py as a fresh module (not as __main__)."""
    module_spec = importlib.util.spec_from_file_location(f"gen_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def run_without_specc(paths: list[Path], cwd: Path) -> subprocess.CompletedProcess:
    """Run each of ``paths`` as a script, in one subprocess in which ``import specc`` fails."""
    return subprocess.run(
        [sys.executable, "-I", "-c", _BLOCKED_RUNNER, *map(str, paths)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _root_name(func: ast.expr) -> str | None:
    while isinstance(func, (ast.Attribute, ast.Subscript, ast.Call)):
        func = func.func if isinstance(func, ast.Call) else func.value
    return func.id if isinstance(func, ast.Name) else None


def check_generated_ast(source: str, class_name: str) -> ast.Module:
    """Assert the generated file only imports torch (and collections.OrderedDict), only
    calls torch/nn/self/a few builtins/its own classes, and names nothing dangerous; the
    model class comes last, after one nn.Module class per block."""
    tree = ast.parse(source)
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    own = {c.name for c in classes}
    # tensors held in forward's own variables (x, h, a layer's name) may have methods called
    # (``h.permute(0, 2, 1)``); they are only ever assigned from the calls checked here
    local = {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)} | {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert [a.name for a in node.names] == ["torch"], ast.dump(node)
        elif isinstance(node, ast.ImportFrom):
            assert (node.module, [a.name for a in node.names]) in (
                ("torch", ["nn"]),
                ("collections", ["OrderedDict"]),
            ), ast.dump(node)
        elif isinstance(node, ast.Call):
            root = _root_name(node.func)
            assert root in ALLOWED_CALL_ROOTS | own | {"OrderedDict"} | local, ast.unparse(node)
        elif isinstance(node, ast.Name):
            assert node.id not in FORBIDDEN_NAMES, node.id
        elif isinstance(node, ast.Attribute):
            assert node.attr == "__init__" or not node.attr.startswith("__"), ast.unparse(node)
    assert classes and classes[-1].name == class_name
    for cls in classes:
        assert [ast.unparse(b) for b in cls.bases] == ["nn.Module"], cls.name
    return tree


def ruff(*args: str) -> subprocess.CompletedProcess:
    """Run ruff with its default settings (``--isolated``)."""
    return subprocess.run(
        [str(RUFF), *args, "--isolated"], capture_output=True, text=True, timeout=120
    )
