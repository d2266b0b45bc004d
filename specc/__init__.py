"""specc: a declarative model-spec compiler for PyTorch.

Public API (importing ``specc`` never imports torch; the functions that need it do)::

    spec = specc.load_spec("specs/lenet.yaml")     # validate: raises SpecErrors
    model = specc.build_model(spec)                # torch.nn.Module
    text = specc.render_source(spec)               # standalone model.py source
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from specc.errors import SpecError, SpecErrors
from specc.spec.validate import load_spec

__version__ = "0.1.0"

__all__ = ["SpecError", "SpecErrors", "__version__", "build_model", "load_spec", "render_source"]

if TYPE_CHECKING:
    import torch

    from specc.spec.schema import Spec


def build_model(spec: Spec) -> torch.nn.Module:
    """Compile a validated spec into an ``nn.Module`` (the generated class, executed).

    Does not seed or otherwise touch the global random generator beyond the draws that
    constructing the layers makes, so ``torch.manual_seed(s)`` before this call and before
    constructing the generated class gives identical weights.
    """
    from specc.backends.module import build_model as _build

    return _build(spec)


def render_source(spec: Spec) -> str:
    """The standalone ``model.py`` text for a validated spec (imports torch only)."""
    from specc.backends.source import render_model_source

    return render_model_source(spec)
