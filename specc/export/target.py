"""What to export: a spec (fresh weights, or a checkpoint's) or a training run directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ExportTarget", "load_checkpoint", "resolve_target"]


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


def load_checkpoint(path: Path) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)``; a RunError for a missing or unreadable file."""
    import torch

    from specc.commands.common import RunError

    if not path.is_file():
        raise RunError(f"no checkpoint at {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise RunError(f"cannot read checkpoint {path}: {str(exc).splitlines()[0]}") from exc
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        raise RunError(f"{path} is not a specc checkpoint (no 'model' state_dict)")
    return checkpoint


def _load_run(run_dir: Path):
    from specc.commands.common import RunError

    try:
        from specc.train import load_run
    except ImportError as exc:
        raise RunError(f"cannot read run directory {run_dir}: specc.train is missing") from exc
    return load_run(run_dir)


def resolve_target(path: Path, checkpoint_path: Path | None = None) -> ExportTarget:
    """A run directory (its ``best.pt``, or ``checkpoint_path``) or a spec file.

    A spec without a checkpoint is built with fresh weights seeded by the spec's ``seed``.

    Raises:
        SpecErrors: the spec is invalid (exit 2).
        RunError: a missing path, or a checkpoint that does not fit the spec (exit 1).
    """
    import torch

    import specc
    from specc.commands.common import RunError

    if path.is_dir():
        spec, checkpoint = _load_run(path)
        default = path / "model.onnx"
    elif path.is_file():
        spec, checkpoint = specc.load_spec(path), None
        default = Path(f"{spec.name}.onnx")
    else:
        raise RunError(f"no spec file or run directory at {path}")
    if checkpoint_path is not None:
        checkpoint = load_checkpoint(checkpoint_path)
    torch.manual_seed(spec.seed)
    model = specc.build_model(spec)
    if checkpoint is not None:
        from specc.backends.keys import upgrade_keys

        state = upgrade_keys(spec.graph, checkpoint["model"], set(model.state_dict()))
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            detail = " ".join(str(exc).split())[:300]
            raise RunError(f"the checkpoint does not fit spec '{spec.name}': {detail}") from exc
    return ExportTarget(spec, model.eval(), checkpoint, default)
