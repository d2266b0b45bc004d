"""``specc build --emit DIR``: write the standalone files for a spec into a folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from specc.backends.source import render_model_source

if TYPE_CHECKING:
    from specc.spec.schema import Spec

__all__ = ["emit"]


def emit(spec: Spec, out_dir: str | Path) -> list[Path]:
    """Create ``out_dir`` if needed and write ``model.py`` into it, and ``train.py`` when
    the spec has loss, optimizer and data; return the written paths.

    Raises:
        OSError: when the folder or a file cannot be written.
        SpecErrors: (exit 2) the spec uses something the standalone train.py cannot
            reproduce (augmentation, early stopping...), located at its line; model.py is
            written first, train.py is not written.
    """
    from specc.backends.train_source import (
        needs_train_script,
        render_train_source,
        train_problems,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_py = out / "model.py"
    model_py.write_text(render_model_source(spec), encoding="utf-8")
    if not needs_train_script(spec):
        return [model_py]
    problems = train_problems(spec)
    if problems:
        _refuse(spec, problems, model_py)
    train_py = out / "train.py"
    train_py.write_text(render_train_source(spec, out), encoding="utf-8")
    return [model_py, train_py]


def _refuse(spec: Spec, problems: list[tuple[tuple, str]], model_py: Path) -> None:
    """Raise one located error per feature train.py does not support."""
    from specc.data.problems import located
    from specc.errors import SpecErrors

    errors = [
        located(
            spec,
            key,
            f"the standalone train.py does not support {what}, so it "
            f"was not written ({model_py} was)",
            hint="train this spec with `specc train`",
            code="E605",
        )
        for key, what in problems
    ]
    raise SpecErrors(errors, spec.source)
