"""ONNX translation of adaptive max pooling (``aten.adaptive_max_pool1d/2d``).

torch.onnx has no translation for these ops. With static spatial sizes (specc's are: only the
batch is dynamic) each output position's window is known: along an axis of length ``L`` pooled
to ``n``, output ``i`` covers ``[floor(i*L/n), ceil((i+1)*L/n))``, torch's rule. The 2-D windows
are products of 1-D ones, so a 2-D pool is the 1-D pool along the width, then the height; each
1-D pool is one ``Slice`` + ``ReduceMax`` per output position, concatenated.

The ops also return the argmax indices; ``nn.AdaptiveMaxPool*d`` (``return_indices=False``,
the only form specc writes) discards them, so the translation returns a placeholder for that
output, which the exported graph never reads.
"""

from __future__ import annotations

__all__ = ["adaptive_pool_translations", "adaptive_windows"]


def adaptive_windows(length: int, out: int) -> list[tuple[int, int]]:
    """torch's adaptive pooling windows: ``(start, end)`` of each of ``out`` outputs."""
    return [(i * length // out, -(-(i + 1) * length // out)) for i in range(out)]


def _pool_axis(op, x, axis: int, length: int, out: int):
    """Adaptive max pool of ``x`` along ``axis`` (static ``length``) to ``out`` positions."""
    parts = [
        op.ReduceMax(op.Slice(x, [start], [end], [axis]), [axis], keepdims=1)
        for start, end in adaptive_windows(length, out)
    ]
    return parts[0] if len(parts) == 1 else op.Concat(*parts, axis=axis)


def _adaptive_max_pool(ndim: int):
    def translate(self, output_size):
        """``aten.adaptive_max_pool{ndim}d``: (B, C, *spatial) -> (values, indices)."""
        from onnxscript.onnx_opset import opset18 as op

        rank = len(self.shape)
        x = self
        for k in reversed(range(ndim)):  # the last axis first
            axis = rank - ndim + k
            x = _pool_axis(op, x, axis, int(self.shape[axis]), int(output_size[k]))
        return x, op.Cast(x, to=7)  # placeholder indices (INT64), never read

    return translate


def adaptive_pool_translations() -> dict:
    """``{torch op: translation}`` for ``torch.onnx.export(custom_translation_table=...)``."""
    import torch

    return {
        torch.ops.aten.adaptive_max_pool1d.default: _adaptive_max_pool(1),
        torch.ops.aten.adaptive_max_pool2d.default: _adaptive_max_pool(2),
    }
