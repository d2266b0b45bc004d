"""Verification of an exported model: the ONNX checker, then onnxruntime against torch.

Parity runs the eval-mode torch module and an onnxruntime session on the same fresh random
inputs at several batch sizes (1, 7, 64) and, for a dynamic sequence dimension, two sequence
lengths; it reports the largest absolute difference over every output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from specc.export.onnx_export import example_input

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

__all__ = ["BATCH_SIZES", "Parity", "check", "parity"]

BATCH_SIZES = (1, 7, 64)


@dataclass
class Parity:
    """Largest absolute difference between onnxruntime and torch.

    Attributes:
        max_abs_diff: over every case and output (inf when onnxruntime failed or the
            difference is not finite).
        cases: ``(batch, seq or None, max_abs_diff)`` per input tried.
        error: the first onnxruntime failure, if any.
    """

    max_abs_diff: float = 0.0
    cases: list[tuple[int, int | None, float]] = field(default_factory=list)
    error: str | None = None

    def broken_at_other_seq(self, atol: float) -> bool:
        """Right at the example's sequence length but wrong (or failing) at the other one."""
        seqs = [seq for _, seq, _ in self.cases]
        if not seqs or seqs[0] is None:
            return False
        first = [diff for _, seq, diff in self.cases if seq == seqs[0]]
        other = [diff for _, seq, diff in self.cases if seq != seqs[0]]
        return max(first) <= atol and bool(other) and max(other) > atol

    def describe(self) -> str:
        """``batch 1: 2.4e-07, batch 7: ...`` for the log."""
        return "; ".join(f"{_where(batch, seq)}: {diff:.2e}" for batch, seq, diff in self.cases)


def _where(batch: int, seq: int | None) -> str:
    """``batch 7`` or ``batch 7, seq 14``."""
    return f"batch {batch}" + (f", seq {seq}" if seq is not None else "")


def check(path: Path) -> None:
    """``onnx.checker.check_model(full_check=True)`` on the saved file (raises on failure)."""
    import onnx

    onnx.checker.check_model(str(path), full_check=True)


def seq_lengths(seq: int) -> tuple[int, int]:
    """The spec's sequence length and a second, different one."""
    return (seq, seq // 2 if seq > 2 else seq + 3)


def parity(
    path: Path,
    module: nn.Module,
    input_shape: tuple[int, ...],
    input_dtype: str,
    *,
    dynamic_seq: bool = False,
    high: int = 2,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    seed: int = 1234,
) -> Parity:
    """Compare onnxruntime on ``path`` with ``module`` on fresh random inputs.

    Args:
        path: the saved ONNX file (one input).
        module: the torch module in eval mode; forward maps ``(B, *input_shape)`` to one
            tensor or a tuple of tensors.
        input_shape / input_dtype: one sample of the ONNX input.
        dynamic_seq: also try a second sequence length (first per-sample dimension).
        high: exclusive bound of random token ids for int64 inputs.
        transform: optional ``numpy -> numpy`` applied to the random ``float32`` inputs (for
            example to draw raw features on their natural scale).
    """
    import numpy as np
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.log_severity_level = 4  # failures are reported in Parity.error, not logged
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    seqs = seq_lengths(input_shape[0]) if dynamic_seq else (None,)
    result = Parity()
    for k, (batch, seq) in enumerate((b, s) for s in seqs for b in BATCH_SIZES):
        x = example_input(input_shape, input_dtype, batch=batch, seq=seq, high=high, seed=seed + k)
        if transform is not None:
            x = torch.from_numpy(np.ascontiguousarray(transform(x.numpy()), dtype=np.float32))
        with torch.no_grad():
            expected = module(x)
        expected = expected if isinstance(expected, (tuple, list)) else (expected,)
        try:
            actual = session.run(None, {name: x.numpy()})
            diff = max(
                float(np.max(np.abs(a - e.numpy()), initial=0.0))
                for a, e in zip(actual, expected, strict=True)
            )
        except Exception as exc:  # onnxruntime rejects this batch/sequence length
            detail = " ".join(str(exc).split())[:300]
            result.error = result.error or f"{_where(batch, seq)}: {detail}"
            diff = float("inf")
        diff = diff if np.isfinite(diff) else float("inf")
        result.cases.append((batch, seq, diff))
        result.max_abs_diff = max(result.max_abs_diff, diff)
    return result
