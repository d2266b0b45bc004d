"""A classifier's figures and per-class scores, written at the end of each run.

- ``confusion_matrix.png``: counts, true class on the rows, predicted class on the columns,
  class names on both axes.
- ``errors.png`` (image data only): a grid of up to 32 misclassified validation images, each
  titled ``true -> predicted``.
- the per-class precision, recall, F1 and support (scikit-learn's
  ``precision_recall_fscore_support``), returned for ``summary.json``.

Both come from scikit-learn, so this package needs nothing from :mod:`specc.train`
(whose torch ``confusion_matrix`` a test holds equal to scikit-learn's).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from specc.rundir import CONFUSION_FIGURE, ERRORS_FIGURE

__all__ = [
    "MAX_ERRORS",
    "class_names",
    "per_class_scores",
    "plot_confusion",
    "plot_errors",
    "write_class_report",
]

MAX_ERRORS = 32


def class_names(num_classes: int, labels: list | None) -> list[str]:
    """The K class names: the data's labels when known, else ``"0"``..``"K-1"``."""
    if labels and len(labels) == num_classes:
        return [str(label) for label in labels]
    return [str(i) for i in range(num_classes)]


def per_class_scores(pred: np.ndarray, target: np.ndarray, names: list[str]) -> dict:
    """``{name: {"precision", "recall", "f1", "support"}}`` for (N,) class indices."""
    from sklearn.metrics import precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        target, pred, labels=list(range(len(names))), zero_division=0
    )
    return {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
    }


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(cm: np.ndarray, names: list[str], path: Path) -> None:
    """Draw the (K, K) count matrix ``cm`` with ``names`` on both axes; write a PNG."""
    plt = _pyplot()
    k = len(names)
    size = min(4 + 0.45 * k, 16)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(k), names, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 30:
        limit = cm.max() / 2 if cm.size else 0
        for (i, j), count in np.ndenumerate(cm):
            ax.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if count > limit else "black",
            )
    ax.set_title("confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _displayable(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) float -> (H, W) or (H, W, 3) in [0, 1], rescaled per image (the data may be
    normalised)."""
    image = image.detach().float().cpu()
    low, high = image.min(), image.max()
    image = (image - low) / (high - low) if high > low else torch.zeros_like(image)
    return image[0].numpy() if image.shape[0] != 3 else image.permute(1, 2, 0).numpy()


def plot_errors(
    x: torch.Tensor, pred: np.ndarray, target: np.ndarray, names: list[str], path: Path
) -> int:
    """A grid of the first :data:`MAX_ERRORS` misclassified images of ``x`` (N, C, H, W);
    write a PNG and return how many it shows (0: nothing written)."""
    wrong = np.flatnonzero(pred != target)[:MAX_ERRORS]
    if len(wrong) == 0:
        return 0
    plt = _pyplot()
    cols = min(8, len(wrong))
    rows = -(-len(wrong) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, index in zip(axes.flat, wrong, strict=False):
        ax.imshow(_displayable(x[index]), cmap="gray")
        ax.set_title(f"{names[target[index]]} -> {names[pred[index]]}", fontsize=7)
    fig.suptitle("misclassified (true -> predicted)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return len(wrong)


def write_class_report(
    run_dir: Path,
    pred: torch.Tensor,
    target: torch.Tensor,
    x: torch.Tensor,
    num_classes: int,
    labels: list | None,
) -> dict:
    """Write the figures of one evaluated split into ``run_dir``; return its per-class scores.

    Args:
        pred: (N,) predicted class indices (:meth:`Predictor.finish`).
        target: (N,) or (N, 1) true class indices.
        x: the split's inputs; (N, C, H, W) images also get ``errors.png``.
    """
    from sklearn.metrics import confusion_matrix

    names = class_names(num_classes, labels)
    pred_np = pred.reshape(-1).long().cpu().numpy()
    target_np = target.reshape(-1).long().cpu().numpy()
    cm = confusion_matrix(target_np, pred_np, labels=list(range(num_classes)))
    plot_confusion(cm, names, Path(run_dir) / CONFUSION_FIGURE)
    if x.dim() == 4:
        plot_errors(x, pred_np, target_np, names, Path(run_dir) / ERRORS_FIGURE)
    return per_class_scores(pred_np, target_np, names)
