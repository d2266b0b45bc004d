"""One trial of ``specc tune``: the sampled values as ``--set`` overrides, validated, then a
normal training run in ``DIR/trials/trial-NNNN/`` with a median-rule pruner per epoch.

Outcomes (``study.tell``): COMPLETE with the best value of the monitor (the epoch best.pt
holds); PRUNED when the pruner stops it, when the sampled combination makes the spec (or its
data: a split that leaves no training rows) invalid, or when training diverges (its
``reason`` user attribute says which). Any other failure is FAIL and stops the worker with
its error.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import optuna
from optuna.trial import TrialState

from specc.errors import RunError, SpecErrors
from specc.rundir import SUMMARY_FILE
from specc.tune.space import set_text

if TYPE_CHECKING:
    from specc.spec.schema import Spec
    from specc.tune.config import TuneConfig

__all__ = ["Pruner", "run_trial", "trial_dir"]


def trial_dir(config: TuneConfig, number: int) -> Path:
    """``DIR/trials/trial-0007``: the run folder of trial 7."""
    return config.out_dir / "trials" / f"trial-{number:04d}"


class Pruner:
    """A training callback: reports the monitor after each epoch; raises TrialPruned when
    the median rule says so."""

    def __init__(self, trial: optuna.Trial, monitor: str) -> None:
        self.trial, self.monitor = trial, monitor

    def epoch(self, row: dict) -> None:
        value = row.get(self.monitor)
        if value is None:
            return
        self.trial.report(value, row["epoch"])
        if self.trial.should_prune():
            raise optuna.TrialPruned(
                f"pruned at epoch {row['epoch']} ({self.monitor} "
                f"{value:.4g} is worse than the median of earlier trials)"
            )


def _prune(study, trial, reason: str) -> None:
    trial.set_user_attr("reason", reason)
    study.tell(trial, state=TrialState.PRUNED)


def run_trial(
    study: optuna.Study, trial: optuna.Trial, config: TuneConfig, spec: Spec, monitor: str
) -> None:
    """Train one sampled spec and tell the study how it went (see the module docstring)."""
    from specc.train.overrides import apply_overrides
    from specc.workflow import train

    sets = [set_text(key, value) for key, value in trial.params.items()]
    if config.epochs is not None:
        sets.append(f"train.epochs={config.epochs}")
    run_dir = trial_dir(config, trial.number)
    trial.set_user_attr("run_dir", str(run_dir))
    try:
        apply_overrides(spec, sets)  # an invalid combination never starts training
        result = train(
            spec, out_dir=run_dir, overrides=sets, quiet=True, callbacks=[Pruner(trial, monitor)]
        )
    except SpecErrors as errors:  # the spec, or its data (a split leaving no rows...)
        return _prune(study, trial, "invalid spec: " + "; ".join(e.message for e in errors.errors))
    except optuna.TrialPruned as exc:
        return _prune(study, trial, str(exc))
    except RunError as exc:
        if not _diverged(run_dir):  # only a diverged loss is a result of the values
            study.tell(trial, state=TrialState.FAIL)
            raise
        return _prune(study, trial, f"diverged: {exc}")
    except KeyboardInterrupt:
        raise  # left RUNNING: the next run of the tune queues these values again
    except BaseException:
        study.tell(trial, state=TrialState.FAIL)
        raise
    summary = result.summary
    trial.set_user_attr("seconds", summary["seconds"])
    study.tell(trial, float((summary["best"] or {})[summary["monitor"]]))


def _diverged(run_dir: Path) -> bool:
    """The run stopped on a non-finite loss (its summary says ``diverged``)."""
    import json

    path = run_dir / SUMMARY_FILE
    return path.exists() and json.loads(path.read_text(encoding="utf-8"))["status"] == "diverged"
