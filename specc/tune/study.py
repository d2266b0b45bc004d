"""The Optuna study behind ``specc tune``: storage, sampler, pruner, and the worker loop.

- Storage: Optuna's RDB storage at ``TuneConfig.storage_url`` (SQLite in DIR by default, or
  any PostgreSQL/MySQL URL), with a heartbeat: a trial whose process died stops beating, is
  marked FAIL once its grace period passes and is queued again with the same parameters.
- A tune that owns its storage (the default SQLite file) fails and re-queues every trial
  left RUNNING at once when it starts (:func:`recover_interrupted`): nothing else can be
  running them.
- Sampler: TPE seeded from the spec's seed (plus the worker index and the trials so far, so
  that workers and continued tunes do not draw the same points). Pruner: the median rule on
  the spec's monitor, reported after every epoch.
- Workers ask for a trial only while fewer than N trials are finished or running (under a
  file lock in DIR, so local workers never overshoot; a trial asked at the same moment on
  another machine, beyond the N, is failed unrun), and wait for running ones (here or on
  other machines) before they stop: the study ends with exactly N finished trials.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

import optuna
from optuna.trial import TrialState

from specc.tune.config import TuneConfig, direction_of

if TYPE_CHECKING:
    from optuna.storages._heartbeat import BaseHeartbeat

    from specc.spec.schema import Spec
    from specc.tune.space import Search

__all__ = ["FINISHED", "count", "open_study", "recover_interrupted", "run_worker"]

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
HEARTBEAT_S, GRACE_S = 20, 60
_POLL_S = 1.0


def _storage(config: TuneConfig):
    """The study storage; two processes creating a new database at once race to create its
    tables, and the loser sees "table ... already exists" (or the schema version row the other
    just wrote: "UNIQUE constraint failed: alembic_version"): it retries, then finds them."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    for attempt in range(5):
        try:
            return _rdb_storage(config)
        except (OperationalError, IntegrityError) as exc:
            lost_the_race = "already exists" in str(exc) or "alembic_version" in str(exc)
            if not lost_the_race or attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _rdb_storage(config: TuneConfig):
    from optuna import storages

    kwargs = {"connect_args": {"timeout": 60}} if config.storage_url.startswith("sqlite") else {}
    with warnings.catch_warnings():  # the heartbeat arguments are marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = (
            getattr(storages, "RetryHeartbeatStaleTrialCallback", None)
            or storages.RetryFailedTrialCallback
        )  # the name before Optuna 4.9
        return storages.RDBStorage(
            config.storage_url,
            engine_kwargs=kwargs,
            heartbeat_interval=HEARTBEAT_S,
            grace_period=GRACE_S,
            heartbeat_stale_trial_callback=retry(max_retry=3),
        )


def open_study(config: TuneConfig, spec: Spec, monitor: str, worker: int = 0) -> optuna.Study:
    """Create or load the study named after the spec, with this worker's sampler."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = _storage(config)
    direction = optuna.study.StudyDirection[direction_of(monitor).upper()]  # MINIMIZE/MAXIMIZE
    study = optuna.create_study(
        storage=storage, study_name=spec.name, load_if_exists=True, direction=direction
    )
    seed = (spec.seed or 0) + worker + 7919 * len(study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.TPESampler(seed=seed)
    study.pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    return study


def count(study: optuna.Study, states: Sequence[TrialState] = FINISHED) -> int:
    """The number of the study's trials in ``states``."""
    return len(study.get_trials(deepcopy=False, states=states))


def recover_interrupted(study: optuna.Study) -> list[int]:
    """Fail each RUNNING trial (its tune was killed) and queue its parameters again.

    Returns:
        The numbers of the trials recovered.
    """
    storage = study._storage  # the documented BaseStorage API, reached through the study
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_user_attr(
            trial._trial_id,
            "reason",
            "interrupted: the tune stopped during this trial; its parameters were queued again",
        )
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        recovered.append(trial.number)
    return recovered


@contextlib.contextmanager
def _ask_lock(config: TuneConfig):
    """Local workers take turns to count and ask (no two see the same count)."""
    with open(config.out_dir / ".ask.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _next_trial(study, config: TuneConfig, distributions: dict, deadline: float | None):
    """A new trial, or None when the study has its N trials (or the timeout passed)."""
    while True:
        if deadline is not None and time.time() >= deadline:
            return None
        with _ask_lock(config), warnings.catch_warnings():
            # Optuna calls fail_stale_trials experimental, and warns that its heartbeat is
            # meant for Study.optimize: here the worker loop records the heartbeat itself
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
            optuna.storages.fail_stale_trials(study)  # dead workers' trials: FAIL, requeued
            finished = count(study)
            if finished >= config.trials:
                return None
            if finished + count(study, (TrialState.RUNNING,)) < config.trials:
                trial = study.ask(distributions)
                return None if _surplus(study, trial, config.trials) else trial
        time.sleep(_POLL_S)  # the last trials run elsewhere: wait for them (or their retry)


def _surplus(study, trial, total: int) -> bool:
    """A worker elsewhere (another --out on the same --storage) asked at the same moment and
    the study already has ``total`` trials before this one: fail it unrun, and stop."""
    earlier = [
        t
        for t in study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING))
        if t.number < trial.number
    ]
    if len(earlier) < total:
        return False
    trial.set_user_attr(
        "reason",
        f"not run: the study already had {total} trials (another worker asked at the same time)",
    )
    study.tell(trial, state=TrialState.FAIL)
    return True


class _Heartbeat:
    """Records the trial's heartbeat in the storage every HEARTBEAT_S seconds."""

    def __init__(self, study: optuna.Study, trial: optuna.Trial) -> None:
        self.stop = threading.Event()
        # Study types its storage as BaseStorage; ours has a heartbeat (see _rdb_storage)
        storage, trial_id = cast("BaseHeartbeat", study._storage), trial._trial_id
        storage.record_heartbeat(trial_id)

        def beat() -> None:
            while not self.stop.wait(HEARTBEAT_S):
                storage.record_heartbeat(trial_id)

        self.thread = threading.Thread(target=beat, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def run_worker(
    config: TuneConfig,
    spec: Spec,
    searches: Sequence[Search],
    monitor: str,
    worker: int = 0,
    on_trial: Callable[[optuna.Study], None] | None = None,
) -> None:
    """Run trials until the study has ``config.trials`` finished ones.

    Args:
        on_trial: called with the study after each trial this worker finishes.
    """
    from specc.tune.trial import run_trial

    study = open_study(config, spec, monitor, worker)
    distributions = {s.key: s.dist.optuna() for s in searches}
    deadline = config.started + config.timeout if config.timeout else None
    while (trial := _next_trial(study, config, distributions, deadline)) is not None:
        heartbeat = _Heartbeat(study, trial)
        try:
            run_trial(study, trial, config, spec, monitor)
        finally:
            heartbeat.close()
        if on_trial is not None:
            on_trial(study)
