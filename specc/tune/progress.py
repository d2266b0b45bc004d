"""Progress of a tune: one line per finished trial (its value, parameters and the best so
far) and, on a terminal, a Rich bar over the trials. Lines are read from the study, so the
same reporter serves one worker in-process or N worker processes."""

from __future__ import annotations

import sys

import optuna
from optuna.trial import FrozenTrial, TrialState

__all__ = ["TrialReporter", "trial_line"]

_DONE = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def trial_line(
    trial: FrozenTrial, finished: int, total: int, monitor: str, best: FrozenTrial | None
) -> str:
    """``trial 3 [4/20] complete  val_loss 0.4512  optimizer.lr=0.0031  best 0.4401 (#1)``."""
    params = " ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items()
    )
    state = trial.state.name.lower()
    value = f"  {monitor} {trial.value:.4f}" if trial.value is not None else ""
    reason = trial.user_attrs.get("reason")
    why = f"  ({reason})" if reason and trial.state != TrialState.COMPLETE else ""
    shown = f"  best {best.value:.4f} (trial {best.number})" if best is not None else ""
    return f"trial {trial.number} [{finished}/{total}] {state}{value}  {params}{shown}{why}"


class TrialReporter:
    """Prints trials as they finish; :meth:`update` is called with the study."""

    def __init__(self, study: optuna.Study, total: int, monitor: str, quiet: bool = False) -> None:
        self.total, self.monitor, self.quiet = total, monitor, quiet
        self.seen = {t.number for t in study.get_trials(deepcopy=False, states=_DONE)}
        self.finished = self._finished(study)  # finished trials printed so far (or before)
        self.bar = None
        if not quiet and sys.stdout.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(
                TextColumn("trials"), BarColumn(), MofNCompleteColumn(), transient=True
            )
            self.task = self.bar.add_task("trials", total=total, completed=self.finished)
            self.bar.start()

    @staticmethod
    def _finished(study) -> int:
        return len(
            study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        )

    def _best(self, study):
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return study.best_trial if complete else None

    def update(self, study: optuna.Study) -> None:
        """Print each trial finished since the last call; move the bar."""
        new = [
            t for t in study.get_trials(deepcopy=False, states=_DONE) if t.number not in self.seen
        ]
        if not new:
            return
        best = self._best(study)
        for trial in sorted(new, key=lambda t: t.number):
            self.seen.add(trial.number)
            self.finished += trial.state != TrialState.FAIL
            self.message(trial_line(trial, self.finished, self.total, self.monitor, best))
        if self.bar is not None:
            self.bar.update(self.task, completed=self.finished)

    def message(self, text: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.console.print(text, markup=False, highlight=False)
        else:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
