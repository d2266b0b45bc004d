"""Progress output: a Rich bar with live loss on a terminal, one plain line per epoch
otherwise (CI logs), nothing with ``--quiet``.

The bar reads the running loss at most a few times a second (:meth:`RichProgress.batch`
is throttled), so it adds no per-batch device synchronisation.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import torch
    from rich.progress import TaskID

__all__ = ["PlainProgress", "QuietProgress", "RichProgress", "format_row", "make_progress"]

_SHOWN = ("train_loss", "val_loss")


def format_row(row: dict) -> str:
    """``train_loss 0.1234  val_loss 0.2345  val_accuracy 0.9512`` for one epoch's row."""
    keys = [k for k in row if k.startswith(("train_", "val_"))]
    return "  ".join(f"{k} {row[k]:.4f}" for k in keys if isinstance(row[k], float))


class QuietProgress:
    """Prints nothing. ``batch`` is None so the hot loop skips the call entirely."""

    batch: Callable[[int, torch.Tensor | float, int], None] | None = None

    def start(self, epochs: int, batches: int) -> None:
        pass

    def epoch_start(self, epoch: int) -> None:
        pass

    def epoch_end(self, epoch: int, row: dict, seconds: float) -> None:
        pass

    def close(self) -> None:
        pass

    def message(self, text: str) -> None:
        pass


class PlainProgress(QuietProgress):
    """One line per epoch on ``stream``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.epochs = 0

    def start(self, epochs: int, batches: int) -> None:
        self.epochs = epochs

    def epoch_end(self, epoch: int, row: dict, seconds: float) -> None:
        width = len(str(self.epochs))
        self.message(f"epoch {epoch:>{width}}/{self.epochs}  {format_row(row)}  ({seconds:.1f}s)")

    def message(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


class RichProgress(PlainProgress):
    """A Rich progress bar per epoch with the live training loss."""

    interval = 0.2

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.console = Console(stderr=False)
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[loss]}"),
            console=self.console,
            transient=True,
        )
        self.task: TaskID | None = None
        self.epochs = 0
        self._next = 0.0

    def start(self, epochs: int, batches: int) -> None:
        self.epochs = epochs
        self.batches = batches
        self.bar.start()

    def epoch_start(self, epoch: int) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
        self.task = self.bar.add_task(f"epoch {epoch}/{self.epochs}", total=self.batches, loss="")
        self._next = time.monotonic() + self.interval

    def batch(self, index: int, loss_sum: torch.Tensor | float, seen: int) -> None:
        """Called after batch ``index``; ``loss_sum`` is the on-device running loss sum."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.interval
        assert self.task is not None, "epoch_start() adds the task"
        self.bar.update(
            self.task, completed=index + 1, loss=f"loss {float(loss_sum) / max(seen, 1):.4f}"
        )

    def epoch_end(self, epoch: int, row: dict, seconds: float) -> None:
        assert self.task is not None, "epoch_start() adds the task"
        self.bar.update(self.task, completed=self.batches)
        self.message(f"epoch {epoch}/{self.epochs}  {format_row(row)}  ({seconds:.1f}s)")

    def message(self, text: str) -> None:
        self.bar.console.print(text, markup=False, highlight=False)

    def close(self) -> None:
        self.bar.stop()


def make_progress(quiet: bool) -> QuietProgress:
    """Quiet, Rich (stdout is a terminal) or plain progress."""
    if quiet:
        return QuietProgress()
    return RichProgress() if sys.stdout.isatty() else PlainProgress()
