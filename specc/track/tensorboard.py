"""``train.log: [tensorboard]``: event files in ``RUN_DIR/tensorboard/``.

Written with ``torch.utils.tensorboard``: one scalar per metric and epoch (``train/loss``,
``val/accuracy``, ``lr``), and at the end the hyperparameters (the spec's scalar values by
key path) with the best epoch's and the test metrics. View with
``tensorboard --logdir RUN_DIR/tensorboard``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

__all__ = ["TensorBoardTracker", "scalar_tag"]


def scalar_tag(key: str) -> str:
    """``train_loss`` -> ``train/loss``, ``val_accuracy`` -> ``val/accuracy``, ``lr`` -> ``lr``."""
    split, _, name = key.partition("_")
    return f"{split}/{name}" if name and split in ("train", "val", "test") else key


class TensorBoardTracker:
    """Writes one run's TensorBoard events (see the module docstring)."""

    def __init__(self, name: str, params: dict[str, Any], text: str) -> None:
        self.params = params
        self.writer: SummaryWriter | None = None

    def attach(self, run_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))

    def epoch(self, row: dict[str, Any]) -> None:
        assert self.writer is not None, "attach() first"
        for key, value in row.items():
            if key not in ("epoch", "seconds") and isinstance(value, (int, float)):
                self.writer.add_scalar(scalar_tag(key), value, row["epoch"])
        self.writer.flush()

    def finish(self, summary: dict[str, Any]) -> None:
        if self.writer is None:
            return
        metrics = {
            f"best/{k}": v
            for k, v in (summary.get("best") or {}).items()
            if k != "epoch" and isinstance(v, float)
        }
        metrics |= {
            f"test/{k}": v for k, v in (summary.get("test") or {}).items() if isinstance(v, float)
        }
        hparams = {
            k: v if isinstance(v, (int, float, str, bool)) else str(v)
            for k, v in self.params.items()
        }
        self.writer.add_hparams(hparams, metrics, run_name=".")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
