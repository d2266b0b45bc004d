"""``specc tune``: hyperparameter search over a spec with Optuna.

:func:`tune` checks the spec and the search space, opens (or continues) the study in DIR,
runs the trials on ``workers`` processes that share the study storage, and writes
``trials.csv``, ``best.yaml`` and the plots. See :mod:`specc.tune.study` for the storage,
sampler, pruner and how killed tunes continue; :mod:`specc.tune.trial` for one trial.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
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


def _worker_process(fields: dict, index: int, callbacks: list) -> None:
    """Entry point of worker ``index`` (a spawned process): its share of the CPU threads, and
    the callbacks the parent had installed (:func:`specc.train.callbacks.install`)."""
    import torch

    from specc.train.callbacks import install
    from specc.tune.study import run_worker

    for callback in callbacks:
        install(callback)
    config = TuneConfig(**fields)
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // config.workers))
    try:
        spec, searches, monitor = _prepare(config)
        run_worker(config, spec, searches, monitor, index)
    except (RunError, Exception) as exc:
        sys.stderr.write(f"error: tune worker {index}: {exc}\n")
        sys.exit(1)


def _run_workers(config: TuneConfig, study, reporter) -> None:
    """Start ``config.workers`` processes on the shared storage; report until all exit.

    The callbacks installed in this process are pickled to each worker and installed there.
    """
    from specc.train.callbacks import installed

    context = multiprocessing.get_context("spawn")
    args = (asdict(config), installed())
    processes = [
        context.Process(target=_worker_process, args=(args[0], i, args[1]), daemon=False)
        for i in range(config.workers)
    ]
    _start(processes)
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


def _start(processes: list) -> None:
    """Start the worker processes; a callback that cannot be pickled is a RunError (no
    worker started)."""
    try:
        processes[0].start()  # pickles the arguments: fails here, before any trial runs
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise RunError(
            "a callback installed with specc.train.callbacks.install cannot reach the tune "
            f"workers (--workers > 1 pickles it to each): {exc}"
        ) from None
    for process in processes[1:]:
        process.start()


def _open(config: TuneConfig):
    """Check everything, make DIR and take its lock (one tune per DIR), store the config,
    open the study, recover killed trials.

    Returns:
        ``(spec, searches, monitor, study, recovered, lock)``; the caller releases the lock.
    """
    from specc.rundir import lock_run_dir
    from specc.tune.study import open_study, recover_interrupted

    spec, searches, monitor = _prepare(config)
    out = config.out_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create {out}: {exc.strerror}") from None
    lock = lock_run_dir(out, "specc tune")  # before tune.json or the study is touched
    try:
        if (out / "tune.json").exists():
            config.same_study(TuneConfig.load(out))
        config.save()
        study = open_study(config, spec, monitor)
        recovered = recover_interrupted(study) if config.owns_storage else []
    except BaseException:
        lock.release()
        raise
    return spec, searches, monitor, study, recovered, lock


def tune(config: TuneConfig, quiet: bool = False) -> TuneResult:
    """Run (or continue) a tune until the study holds ``config.trials`` finished trials.

    Raises:
        SpecErrors: the spec, a --search key or value is invalid (located, exit 2).
        RunError: a malformed option, or a trial failed for another reason than its values.
    """
    from specc.track import require_extra

    require_extra("tune", "specc tune")
    spec, searches, monitor, study, recovered, lock = _open(config)
    try:
        best = _run_study(config, spec, searches, monitor, study, recovered, quiet)
    finally:
        lock.release()
    states: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    return TuneResult(config.out_dir, best, states)


def _run_study(config: TuneConfig, spec, searches, monitor, study, recovered, quiet: bool):
    """Run the trials (on ``config.workers`` processes) and write the outputs; returns
    ``best.yaml`` (None without a complete trial)."""
    from specc.tune.outputs import write_outputs
    from specc.tune.progress import TrialReporter
    from specc.tune.study import count, run_worker

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
    return best
