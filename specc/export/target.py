"""What to export: a spec (fresh weights, or a checkpoint's) or a training run directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specc.rundir import (
    BEST_CHECKPOINT,
    ONNX_FILE,
    load_checkpoint,
    load_run,
    load_run_spec,
    require_state_dict,
)

__all__ = ["ExportTarget", "resolve_target"]


@dataclass
class ExportTarget:
    """A model ready to export, with the spec it came from.

    Attributes:
        spec: the validated spec.
        model: ``specc.build_model(spec)`` in eval mode, with the checkpoint's weights if any.
        checkpoint: the training checkpoint dict, or None for fresh weights.
        default_output: where the ONNX file goes when no ``-o`` is given.
    """

    spec: Any
    model: Any
    checkpoint: dict[str, Any] | None
    default_output: Path


def _load_run(run_dir: Path, spec_only: bool = False):
    """A run folder's spec and its ``best.pt`` (no checkpoint with ``spec_only``)."""
    if spec_only:  # --checkpoint names the weights: best.pt is not read at all
        return load_run_spec(run_dir), None
    spec, checkpoint = load_run(run_dir)
    return spec, require_state_dict(checkpoint, run_dir / BEST_CHECKPOINT)


def resolve_target(path: Path, checkpoint_path: Path | None = None) -> ExportTarget:
    """A run directory (its ``best.pt``, or ``checkpoint_path``) or a spec file.

    A spec without a checkpoint is built with fresh weights seeded by the spec's ``seed``.

    Raises:
        SpecErrors: the spec is invalid (exit 2).
        RunError: a missing path, or a checkpoint that does not fit the spec (exit 1).
    """
    import torch

    import specc
    from specc.errors import RunError

    if path.is_dir():
        spec, checkpoint = _load_run(path, spec_only=checkpoint_path is not None)
        default = path / ONNX_FILE
    elif path.is_file():
        spec, checkpoint = specc.load_spec(path), None
        default = Path(f"{spec.name}.onnx")
    else:
        raise RunError(f"no spec file or run directory at {path}")
    if checkpoint_path is not None:
        checkpoint = require_state_dict(load_checkpoint(checkpoint_path), checkpoint_path)
    from specc.limits import check_model_memory

    check_model_memory(spec, 2, "exporting")  # the module and its ONNX copy
    torch.manual_seed(spec.seed)
    model = specc.build_model(spec)
    if checkpoint is not None:
        from specc.backends.keys import upgrade_keys

        state = upgrade_keys(spec.graph, checkpoint["model"], set(model.state_dict()))
        try:
            model.load_state_dict(state, strict=True)
        except (RuntimeError, TypeError, AttributeError, ValueError) as exc:
            detail = " ".join(str(exc).split())[:300]
            raise RunError(f"the checkpoint does not fit spec '{spec.name}': {detail}") from exc
    return ExportTarget(spec, model.eval(), checkpoint, default)
