"""Epoch metrics computed with torch on accumulated predictions.

Classification: ``accuracy``, ``precision``, ``recall``, ``f1`` (macro averages, as
scikit-learn computes them: over the labels present in the targets or the predictions; a
class with no predicted (or no true) sample counts 0) and the confusion matrix (rows: true
class, columns: predicted class). Regression: ``mse``, ``mae`` and ``r2`` (averaged
uniformly over output columns, like scikit-learn's default).

During an epoch the loop only keeps one small tensor per batch (:meth:`Predictor.reduce`:
the argmax for multiclass outputs, the raw output otherwise); everything else happens once,
at the end of the epoch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from specc.spec.sections import METRICS

__all__ = [
    "CLASSIFICATION",
    "REGRESSION",
    "Predictor",
    "classification_scores",
    "compute_metrics",
    "confusion_matrix",
    "regression_scores",
]

CLASSIFICATION = tuple(n for n, m in METRICS.items() if m.task == "classification")
REGRESSION = tuple(n for n, m in METRICS.items() if m.task == "regression")


class Predictor:
    """Turns model outputs into predictions for the metrics of one task.

    Args:
        task: "binary", "multiclass" or "regression".
        threshold: the binary decision boundary of the loss's output (0.5 for the
            probabilities of ``bce``, 0 for logits).
    """

    def __init__(self, task: str, threshold: float) -> None:
        self.task = task
        self.threshold = threshold

    def reduce(self, out: torch.Tensor) -> torch.Tensor:
        """Per batch: ``out`` (B, C) -> (B,) class indices for multiclass, else ``out``."""
        return out.argmax(1) if self.task == "multiclass" else out

    def finish(self, parts: list[torch.Tensor]) -> torch.Tensor:
        """Concatenate the reduced batches: (N,) int64 class indices, or (N, k) floats."""
        pred = torch.cat(parts)
        if self.task == "binary":
            return (pred.reshape(-1) > self.threshold).long()
        return pred.float() if self.task == "regression" else pred


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(K, K) int64 counts; entry [i, j] counts samples of true class i predicted as j.

    Args:
        pred: (N,) predicted class indices.
        target: (N,) or (N, 1) true class indices (any dtype holding integers).
    """
    target = target.reshape(-1).long()
    flat = target * num_classes + pred.reshape(-1).long()
    return (
        torch.bincount(flat, minlength=num_classes * num_classes)
        .reshape(num_classes, num_classes)
        .cpu()
    )


def classification_scores(cm: torch.Tensor) -> dict[str, float]:
    """Accuracy and macro precision, recall and F1 from a (K, K) confusion matrix."""
    cm = cm.double()
    tp = cm.diagonal()
    true = cm.sum(1)
    predicted = cm.sum(0)
    present = (true + predicted) > 0
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), 0.0)[present]
    recall = torch.where(true > 0, tp / true.clamp(min=1), 0.0)[present]
    denominator = true + predicted
    f1 = torch.where(denominator > 0, 2 * tp / denominator.clamp(min=1), 0.0)[present]
    total = cm.sum()
    return {
        "accuracy": float(tp.sum() / total) if total > 0 else 0.0,
        "precision": float(precision.mean()) if present.any() else 0.0,
        "recall": float(recall.mean()) if present.any() else 0.0,
        "f1": float(f1.mean()) if present.any() else 0.0,
    }


def regression_scores(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """MSE, MAE and R² of (N, k) predictions against (N, k) targets (uniform over k)."""
    pred = pred.double().reshape(pred.shape[0], -1)
    target = target.double().reshape(target.shape[0], -1)
    error = pred - target
    sse = (error**2).sum(0)
    sst = ((target - target.mean(0)) ** 2).sum(0)
    r2 = torch.where(sst > 0, 1 - sse / sst.clamp(min=1e-300), (sse == 0).double())
    return {
        "mse": float((error**2).mean()),
        "mae": float(error.abs().mean()),
        "r2": float(r2.mean()),
    }


def compute_metrics(
    names: Sequence[str],
    task: str,
    pred: torch.Tensor,
    target: torch.Tensor,
    num_classes: int | None,
) -> tuple[dict[str, float], torch.Tensor | None]:
    """The requested metrics (and the confusion matrix for classification).

    Args:
        names: metric names, all valid for ``task``.
        pred: output of :meth:`Predictor.finish`.
        target: (N,) class indices, (N, 1) binary labels or (N, k) regression targets.
        num_classes: the number of classes (2 for binary).
    """
    if task == "regression":
        scores = regression_scores(pred, target)
        return {name: scores[name] for name in names}, None
    k = num_classes or 2
    cm = confusion_matrix(pred, target, k)
    scores = classification_scores(cm)
    return {name: scores[name] for name in names}, cm
