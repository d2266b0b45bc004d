"""``specc tune``: hyperparameter search over a spec with Optuna.

:func:`tune` checks the spec and the search space, opens (or continues) the study in DIR,
runs the trials on ``workers`` processes that share the study storage, and writes
``trials.csv``, ``best.yaml`` and the plots. See :mod:`specc.tune.study` for the storage,
sampler, pruner and how killed tunes continue; :mod:`specc.tune.trial` for one trial.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from specc.errors import RunError
from specc.tune.config import TuneConfig

__all__ = ["TuneConfig", "TuneResult", "default_out", "tune"]


@dataclass
class TuneResult:
    """What :func:`tune` returns: DIR, ``best.yaml`` (None without a complete trial) and the
    trial counts by state (``{"COMPLETE": 18, "PRUNED": 2}``)."""

    out_dir: Path
    best_yaml: Path | None
    states: dict


def default_out(name: str) -> Path:
    """``runs/<name>/tune-<timestamp>/``."""
    return Path("runs") / name / f"tune-{time.strftime('%Y%m%d-%H%M%S')}"


def _prepare(config: TuneConfig):
    """The validated spec, the parsed searches and the monitor (errors before any trial)."""
    from specc.spec.validate import load_spec
    from specc.train.overrides import apply_overrides
    from specc.train.plan import require_sections
    from specc.tune.config import monitor_of
    from specc.tune.space import check_space

    spec = load_spec(config.spec_path)
    require_sections(spec)
    searches = check_space(spec, config.searches)
    if config.epochs is not None:
        apply_overrides(spec, [f"train.epochs={config.epochs}"])
    return spec, searches, monitor_of(spec)


def _worker_process(fields: dict, index: int) -> None:
    """Entry point of worker ``index`` (a spawned process): its share of the CPU threads."""
    import torch

    from specc.tune.study import run_worker

    config = TuneConfig(**fields)
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // config.workers))
    try:
        spec, searches, monitor = _prepare(config)
        run_worker(config, spec, searches, monitor, index)
    except (RunError, Exception) as exc:
        sys.stderr.write(f"error: tune worker {index}: {exc}\n")
        sys.exit(1)


def _run_workers(config: TuneConfig, study, reporter) -> None:
    """Start ``config.workers`` processes on the shared storage; report until all exit."""
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker_process, args=(asdict(config), i), daemon=False)
        for i in range(config.workers)
    ]
    for process in processes:
        process.start()
    try:
        while any(p.is_alive() for p in processes):
            reporter.update(study)
            time.sleep(0.5)
    finally:
        for process in processes:
            process.join()
    reporter.update(study)
    failed = [i for i, p in enumerate(processes) if p.exitcode != 0]
    if failed:
        raise RunError(f"tune worker(s) {', '.join(map(str, failed))} failed (see above)")


def _open(config: TuneConfig):
    """Check everything, make DIR, store the config, open the study, recover killed trials."""
    from specc.tune.study import open_study, recover_interrupted

    spec, searches, monitor = _prepare(config)
    out = config.out_dir
    stored = out / "tune.json"
    if stored.exists():
        config.same_study(TuneConfig.load(out))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create {out}: {exc.strerror}") from None
    config.save()
    study = open_study(config, spec, monitor)
    recovered = recover_interrupted(study) if config.owns_storage else []
    return spec, searches, monitor, study, recovered


def tune(config: TuneConfig, quiet: bool = False) -> TuneResult:
    """Run (or continue) a tune until the study holds ``config.trials`` finished trials.

    Raises:
        SpecErrors: the spec, a --search key or value is invalid (located, exit 2).
        RunError: a malformed option, or a trial failed for another reason than its values.
    """
    from specc.track import require_extra

    require_extra("tune", "specc tune")
    from specc.tune.outputs import write_outputs
    from specc.tune.progress import TrialReporter
    from specc.tune.study import count, run_worker

    spec, searches, monitor, study, recovered = _open(config)
    reporter = TrialReporter(study, config.trials, monitor, quiet)
    if recovered:
        reporter.message(
            f"continuing: trial(s) {', '.join(map(str, recovered))} were "
            "interrupted and are queued again"
        )
    if done := count(study):
        reporter.message(f"continuing: {done} of {config.trials} trials already finished")
    try:
        if config.workers > 1:
            _run_workers(config, study, reporter)
        else:
            run_worker(config, spec, searches, monitor, 0, on_trial=reporter.update)
    finally:
        reporter.close()
        best = write_outputs(study, spec, config, [s.key for s in searches], monitor)
    states: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    return TuneResult(config.out_dir, best, states)
