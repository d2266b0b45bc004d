"""The Jinja environment for generated files (``templates/*.jinja``).

Templates only lay files out; Python builds every expression and every piece of text
(user text enters only as a validated identifier, a ``repr()`` literal or
:func:`specc.backends.naming.safe_text`). Nothing is escaped inside templates.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

__all__ = ["render_template", "templates_dir"]


def templates_dir() -> Path:
    """The folder holding the templates.

    In a wheel they are shipped as ``specc/templates``; in a source checkout (editable
    install) they live in the repository's top-level ``templates/``.
    """
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / "model.py.jinja").is_file():
            return candidate
    raise FileNotFoundError(f"specc templates not found near {package}")


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_template(name: str, **context: object) -> str:
    """Render ``templates/<name>`` with ``context`` (undefined names raise)."""
    return _environment().get_template(name).render(**context)
