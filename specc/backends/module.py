"""Validated spec -> live ``nn.Module``: the generated ``model.py`` source, compiled and run.

This is torch.fx's approach: the module *is* the generated class, so it cannot drift from
the emitted file, and a traceback points at generated lines (registered with
:mod:`linecache`), each of which carries its ``# lenet.yaml:12`` comment.

Generated classes are stable and picklable, as torch.fx's ``GraphModule`` is: one class per
source digest, kept for the life of the process and registered in :data:`sys.modules` as
``specc_generated._<digest>`` (so ``isinstance(build_model(s), type(build_model(s)))`` holds
and pickle finds the class in this process); each class reduces to its own source text, so
``pickle``, ``torch.save(model)``, ``copy.deepcopy`` and spawned processes rebuild the class
from the text and restore the instance's state exactly.
"""

from __future__ import annotations

import hashlib
import linecache
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from specc.backends.naming import spec_label
from specc.backends.source import class_name, render_model_source

if TYPE_CHECKING:
    import torch

    from specc.spec.schema import Spec

__all__ = ["build_model", "compile_model_class", "generated_filename"]

PACKAGE = "specc_generated"


def generated_filename(spec: Spec, source: str) -> str:
    """The pseudo file name of a spec's generated code: ``<specc:lenet.yaml:1a2b3c4d>``.

    The short hash of the source keeps two different builds from sharing a linecache entry.
    """
    return _filename(spec_label(spec.source_path), source)


def _filename(label: str, source: str) -> str:
    return f"<specc:{label}:{_digest(source)[:8]}>"


def _digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def compile_model_class(spec: Spec) -> type[torch.nn.Module]:
    """The ``nn.Module`` subclass of the spec's generated source (compiled once per source)."""
    import torch  # noqa: F401  (the generated code imports it; fail early and clearly)

    source = render_model_source(spec)
    module = _generated_module(source, spec_label(spec.source_path))
    return getattr(module, class_name(spec))


def _generated_module(source: str, label: str) -> types.ModuleType:
    """The module executing ``source``: made on first use, then the same object every time."""
    name = f"{PACKAGE}._{_digest(source)[:16]}"
    module = sys.modules.get(name)
    if module is not None:
        return module
    filename = _filename(label, source)
    code = compile(source, filename, "exec")
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    exec(code, module.__dict__)  # our own generated text: names validated, literals repr()'d
    for value in list(module.__dict__.values()):
        if isinstance(value, type) and value.__module__ == name:
            # pickle's hook, set on a class made at run time (mypy forbids assigning a method)
            value.__reduce__ = _reducer(source, label, value.__qualname__)  # type: ignore[method-assign, assignment]
    sys.modules[name] = module
    return module


def _reducer(source: str, label: str, qualname: str) -> Callable[[Any], tuple]:
    """A ``__reduce__`` for a generated class: rebuild the class from ``source``, then the
    instance from its ``__dict__`` (as pickle does for any ``nn.Module``)."""

    def reduce(self: Any) -> tuple:
        return _new_instance, (source, label, qualname), self.__dict__.copy()

    return reduce


def _new_instance(source: str, label: str, qualname: str) -> Any:
    """An empty instance of the generated class ``qualname``; pickle then sets its state."""
    cls = getattr(_generated_module(source, label), qualname)
    return cls.__new__(cls)


def build_model(spec: Spec) -> torch.nn.Module:
    """Build the ``nn.Module`` for a validated spec.

    The forward takes a ``(B, *model.input.shape)`` tensor and returns one tensor, or a tuple
    in ``model.outputs`` order. Construction draws from the global RNG exactly as the
    generated class does (nothing is seeded here), so ``torch.manual_seed(s)`` before either
    gives identical weights.
    """
    return compile_model_class(spec)()
