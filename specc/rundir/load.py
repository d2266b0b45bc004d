"""Reading a run folder: its stored spec and its checkpoints.

A checkpoint is a dict of tensors and plain Python values, read with ``torch.load(path,
weights_only=True)`` (nothing is unpickled as code). Every failure is one ``RunError`` line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from specc.errors import RunError, SpecErrors
from specc.rundir.names import BEST_CHECKPOINT, LAST_CHECKPOINT, SPEC_FILE

__all__ = [
    "checkpoint_failure",
    "load_checkpoint",
    "load_run",
    "load_run_spec",
    "read_spec_text",
    "require_state_dict",
    "spec_from_text",
]


def read_spec_text(run_dir: Path) -> tuple[str, Path]:
    """``(text, path)`` of ``run_dir/spec.yaml``, the resolved spec the run trained with.

    Raises:
        RunError: ``run_dir`` is not a folder, has no ``spec.yaml`` or it cannot be read.
    """
    spec_file = run_dir / SPEC_FILE
    if not run_dir.is_dir():
        raise RunError(f"{run_dir} is not a run directory")
    if not spec_file.is_file():
        raise RunError(f"{run_dir} is not a run directory (no spec.yaml)")
    try:
        return spec_file.read_text(encoding="utf-8"), spec_file
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise RunError(f"cannot read {spec_file}: {reason or exc}") from None


def spec_from_text(text: str, path: str):
    """The validated spec of ``text``, or SpecErrors located in the file ``path``."""
    from specc.spec.validate import check_text

    spec, errors = check_text(text, path)
    if errors:
        raise SpecErrors(errors, text)
    return spec


def load_run_spec(run_dir: str | Path):
    """The validated spec stored in ``run_dir/spec.yaml`` (no checkpoint is read)."""
    text, spec_file = read_spec_text(Path(run_dir))
    return spec_from_text(text, str(spec_file))


def load_run(run_dir: str | Path):
    """A finished (or interrupted) run's spec and checkpoint.

    Returns:
        ``(spec, checkpoint)``: the validated spec stored in ``run_dir/spec.yaml`` and the
        dict of ``best.pt`` (``last.pt`` when there is no best), loaded on the CPU with
        ``weights_only=True``. ``checkpoint["model"]`` is the state_dict;
        ``checkpoint["preprocessing"]`` the fitted preprocessing state.

    Raises:
        RunError: not a run directory, or no readable checkpoint in it.
    """
    run_dir = Path(run_dir)
    spec = load_run_spec(run_dir)
    for name in (BEST_CHECKPOINT, LAST_CHECKPOINT):
        if (run_dir / name).exists():
            return spec, load_checkpoint(run_dir / name)
    raise RunError(f"{run_dir} holds no checkpoint (best.pt or last.pt)")


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint onto the CPU with ``weights_only=True``.

    Raises:
        RunError: no file at ``path``, or one that is truncated, foreign or not torch's.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise RunError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: one clear line
        raise RunError(f"cannot read the checkpoint {path}: {checkpoint_failure(exc)}") from None


def checkpoint_failure(exc: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` failed, in one line (torch's own text is many
    lines and suggests ``weights_only=False``, which would run code from the file)."""
    import pickle

    text = str(exc)
    if "Unsupported global" in text:
        return (
            "it holds objects other than tensors and plain values, which specc does not "
            "load (it is not a specc checkpoint)"
        )
    if (
        isinstance(exc, (EOFError, RuntimeError, pickle.UnpicklingError, ValueError))
        or "Weights only load failed" in text
    ):
        return "it is truncated or not a torch checkpoint"
    return " ".join(text.split())[:200] or type(exc).__name__


def require_state_dict(checkpoint: Any, where: Path) -> dict[str, Any]:
    """``checkpoint`` when it holds a ``model`` state_dict of tensors, else RunError."""
    import torch

    model = checkpoint.get("model") if isinstance(checkpoint, dict) else None
    if not isinstance(model, dict) or not all(isinstance(v, torch.Tensor) for v in model.values()):
        raise RunError(f"{where} is not a specc checkpoint (no 'model' state_dict of tensors)")
    return checkpoint
