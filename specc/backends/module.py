"""Validated spec -> live ``nn.Module``: the generated ``model.py`` source, compiled and run.

This is torch.fx's approach: the module *is* the generated class, so it cannot drift from
the emitted file, and a traceback points at generated lines (registered with
:mod:`linecache`), each of which carries its ``# lenet.yaml:12`` comment.
"""

from __future__ import annotations

import hashlib
import linecache
import types
from typing import TYPE_CHECKING

from specc.backends.naming import spec_label
from specc.backends.source import class_name, render_model_source

if TYPE_CHECKING:
    import torch

    from specc.spec.schema import Spec

__all__ = ["build_model", "compile_model_class", "generated_filename"]


def generated_filename(spec: Spec, source: str) -> str:
    """The pseudo file name of a spec's generated code: ``<specc:lenet.yaml:1a2b3c4d>``.

    The short hash of the source keeps two different builds from sharing a linecache entry.
    """
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:8]
    return f"<specc:{spec_label(spec.source_path)}:{digest}>"


def compile_model_class(spec: Spec) -> type[torch.nn.Module]:
    """Compile and execute the generated source; return the ``nn.Module`` subclass."""
    import torch  # noqa: F401  (the generated code imports it; fail early and clearly)

    source = render_model_source(spec)
    filename = generated_filename(spec, source)
    code = compile(source, filename, "exec")
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    cls = class_name(spec)
    module = types.ModuleType(f"specc_generated.{cls}")
    module.__file__ = filename
    exec(code, module.__dict__)  # our own generated text: names validated, literals repr()'d
    return module.__dict__[cls]


def build_model(spec: Spec) -> torch.nn.Module:
    """Build the ``nn.Module`` for a validated spec.

    The forward takes a ``(B, *model.input.shape)`` tensor and returns one tensor, or a tuple
    in ``model.outputs`` order. Construction draws from the global RNG exactly as the
    generated class does (nothing is seeded here), so ``torch.manual_seed(s)`` before either
    gives identical weights.
    """
    return compile_model_class(spec)()
