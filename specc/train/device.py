"""Device and precision resolution for training.

``auto`` picks cuda, then mps, then cpu. An explicit device that is not available, or a
precision the device cannot run, is a :class:`RunError` (one line, exit status 1).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch

from specc.errors import RunError

__all__ = ["Precision", "resolve_device", "resolve_precision"]


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str) -> torch.device:
    """The torch device for a spec's ``train.device`` (``auto``, ``cpu``, ``cuda[:N]``, ``mps``).

    Raises:
        RunError: the device is not available on this machine.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RunError(
                f"device '{name}' is not available: torch sees no CUDA GPU "
                "(use --device cpu or device: auto)"
            )
        index = int(name[5:]) if ":" in name else 0
        count = torch.cuda.device_count()
        if index >= count:
            raise RunError(
                f"device '{name}' is not available: this machine has {count} "
                f"CUDA device{'s' if count != 1 else ''} (cuda:0..cuda:{count - 1})"
            )
        return torch.device("cuda", index)
    if name == "mps":
        if not _mps_available():
            raise RunError(
                "device 'mps' is not available on this machine (use --device cpu or device: auto)"
            )
        return torch.device("mps")
    raise RunError(f"unknown device '{name}'")


@dataclass(frozen=True)
class Precision:
    """How the forward pass runs: ``dtype`` for autocast (None: fp32) and whether a
    GradScaler is used (fp16 on CUDA)."""

    name: str
    device_type: str
    dtype: Any = None
    use_scaler: bool = False

    def autocast(self):
        """The context manager to run forward and loss under."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def scaler(self):
        """A ``torch.amp.GradScaler`` for fp16 on CUDA, else None."""
        return torch.amp.GradScaler(self.device_type) if self.use_scaler else None


def resolve_precision(name: str, device: torch.device) -> Precision:
    """Check that ``device`` can run ``precision`` (fp32, bf16, fp16) and describe how.

    Raises:
        RunError: fp16 on CPU, bf16 on a GPU without bf16 support.
    """
    kind = device.type
    if name == "fp32":
        return Precision(name, kind)
    if name == "fp16":
        if kind == "cpu":
            raise RunError("precision fp16 needs a GPU (cuda or mps); on CPU use bf16 or fp32")
        return Precision(name, kind, torch.float16, use_scaler=kind == "cuda")
    if name == "bf16":
        if kind == "cuda" and not torch.cuda.is_bf16_supported():
            gpu = torch.cuda.get_device_name(device)
            raise RunError(f"precision bf16 is not supported by {gpu}; use fp16 or fp32")
        return Precision(name, kind, torch.bfloat16)
    raise RunError(f"unknown precision '{name}'")
