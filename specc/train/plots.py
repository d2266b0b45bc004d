"""``curves.png``: loss and each metric per epoch, train against validation (matplotlib Agg)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["plot_curves"]


def plot_curves(rows: list[dict], metrics: list[str], path: Path) -> None:
    """Draw one panel for the loss and one per metric; write a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    names = ["loss", *metrics]
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), squeeze=False)
    epochs = [row["epoch"] for row in rows]
    for ax, name in zip(axes[0], names, strict=True):
        for split in ("train", "val"):
            key = f"{split}_{name}"
            values = [row.get(key) for row in rows]
            if any(isinstance(v, float) for v in values):
                ax.plot(
                    epochs,
                    [v if isinstance(v, float) else float("nan") for v in values],
                    marker="o",
                    markersize=3,
                    label=split,
                )
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    from specc.paths import temp_beside

    with temp_beside(path) as tmp:  # a symlink planted at curves.png is replaced
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
