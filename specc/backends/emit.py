"""``specc build --emit DIR``: write the standalone files for a spec into a folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from specc.backends.source import render_model_source

if TYPE_CHECKING:
    from specc.spec.schema import Spec

__all__ = ["emit"]


def emit(spec: Spec, out_dir: str | Path) -> list[Path]:
    """Create ``out_dir`` if needed and write ``model.py`` into it; return the written paths.

    The trainer adds ``train.py`` here for specs that have loss, optimizer and data.

    Raises:
        OSError: when the folder or a file cannot be written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_py = out / "model.py"
    model_py.write_text(render_model_source(spec), encoding="utf-8")
    return [model_py]
