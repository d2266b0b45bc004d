"""The library entry point :func:`train`: a spec (or a run to resume) -> a run folder.

Exporting the trained model is not decided here: :func:`specc.workflow.train` passes an
``after_training`` step that does it (``specc train``, ``specc tune``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from specc.errors import RunError
from specc.rundir import (
    LAST_CHECKPOINT,
    SPEC_FILE,
    check_out_dir,
    create_run_dir,
    load_checkpoint,
    lock_run_dir,
    read_spec_text,
    spec_from_text,
    write_text,
)

if TYPE_CHECKING:
    from specc.spec.schema import Spec
    from specc.train.setup import Setup

__all__ = ["RunResult", "train"]


@dataclass
class RunResult:
    """What :func:`train` returns: the run folder and its summary (``summary.json``)."""

    run_dir: Path
    summary: dict


def train(
    spec: Spec | None = None,
    *,
    out_dir: str | Path | None = None,
    overrides: Sequence[str] = (),
    resume: str | Path | None = None,
    quiet: bool = False,
    force: bool = False,
    callbacks: Sequence[object] = (),
    after_training: Callable[[object, Path], None] | None = None,
):
    """Train a validated spec (or resume a run) and return its :class:`RunResult`.

    Args:
        spec: a validated :class:`specc.spec.schema.Spec` (None with ``resume``).
        out_dir: the exact run folder (default ``runs/<name>/<timestamp>/``).
        overrides: ``key.path=value`` strings, validated like the spec.
        resume: a run folder to continue from its ``last.pt`` with its stored spec.
        quiet: print nothing.
        force: with ``resume``, continue although the spec or the data differ from the
            checkpoint's (the differences are recorded in ``summary.json``).
        callbacks: objects with ``epoch(row)`` called after each epoch's checkpoint and
            metrics row (rank 0 only), e.g. a tuner's pruner; one may raise to stop the run.
            The spec's ``train.log`` trackers (:mod:`specc.track`) are added to them.
        after_training: called as ``after_training(spec, run_dir)`` with the resolved spec
            (overrides applied) by the main process once the run folder is complete, before
            the trackers finish, so they log what it writes (``specc.workflow``: the export).

    Raises:
        SpecErrors: the spec lacks a section training needs, an override or the data is
            invalid (exit 2).
        RunError: runtime failures such as a diverged loss or an unavailable device (exit 1).
    """
    from specc.limits import check_model_memory
    from specc.train.overrides import apply_overrides
    from specc.train.plan import require_sections

    run_dir = Path(resume) if resume is not None else None
    state = None
    if run_dir is not None:
        spec, spec_dir, state = _resumed(run_dir)
    elif spec is None:
        raise TypeError("train() needs a spec or resume")
    else:
        spec_dir = Path(spec.source_path).resolve().parent
        if out_dir is not None:
            out_dir = check_out_dir(out_dir, spec.source_path)
    spec, text = apply_overrides(spec, list(overrides))
    require_sections(spec)
    check_model_memory(spec, 4, "training")  # weights, gradients and optimizer state
    resume_plan = _ResumePlan(state, text, force) if state is not None else None
    from specc.track import Trackers

    trackers = Trackers.for_spec(spec, text)  # train.log: a clear error when an extra is missing
    try:
        run_dir, summary, is_main = _run_session(
            spec,
            text,
            spec_dir,
            quiet,
            out_dir,
            run_dir,
            resume_plan,
            [*trackers.callbacks, *callbacks],
        )
        if is_main and after_training is not None:
            after_training(spec, run_dir)
        trackers.finish(summary)
    finally:
        trackers.close()
    return RunResult(run_dir, summary)


def _resumed(run_dir: Path):
    """A run folder's stored spec, the folder of the original spec and the ``last.pt``
    state to continue from."""
    from specc.train.resume import checkpoint_problems, describe

    text, spec_file = read_spec_text(run_dir)
    if not (run_dir / LAST_CHECKPOINT).is_file():
        raise RunError(f"{run_dir} has no last.pt to resume from")
    state = load_checkpoint(run_dir / LAST_CHECKPOINT)
    problems = checkpoint_problems(state)
    if problems:
        raise RunError(
            f"cannot resume from {run_dir / LAST_CHECKPOINT}: it is not a specc "
            f"checkpoint ({describe(problems)})"
        )
    return spec_from_text(text, str(spec_file)), Path(state["spec_dir"]), state


class _ResumePlan:
    """A ``last.pt`` to continue from, and what differs between it and the resumed run.

    Attributes:
        state: the checkpoint dict.
        differences: spec (and, once the data is loaded, data) differences, refused unless
            ``force``; with ``force`` they go into ``summary.json`` as ``resume_forced``.
    """

    def __init__(self, state: dict, text: str, force: bool) -> None:
        from specc.train.resume import spec_differences

        self.state, self.force = state, force
        self.differences = spec_differences(state["spec"], text)
        self.check()

    def check(self) -> None:
        """Refuse the resume (RunError) when something differs and ``force`` is off."""
        from specc.train.resume import describe

        if self.differences and not self.force:
            raise RunError(
                f"the run differs from its last.pt: {describe(self.differences)}; "
                "nothing was changed (continue anyway with --force)"
            )

    def check_session(self, setup: Setup) -> None:
        """Compare the loaded data and the built model of a
        :class:`~specc.train.setup.Setup` with the checkpoint."""
        from specc.train.resume import describe, structure_differences

        saved = self.state.get("data_hash")
        if saved is not None and saved != setup.data.data_hash:
            self.differences.append(f"data hash: {saved} -> {setup.data.data_hash}")
        self.check()
        problems = structure_differences(setup.parts.model.state_dict(), self.state["model"])
        if problems:
            raise RunError(
                f"last.pt does not fit the model of the spec: {describe(problems)}; "
                "nothing was changed"
            )

    def runs_an_epoch(self, spec) -> bool:
        """True when the resumed run will train at least one more epoch."""
        return self.state["epoch"] < spec.train.epochs


def _run_session(spec, text: str, spec_dir: Path, quiet: bool, out_dir, run_dir, plan, callbacks):
    """Set up (and on resume restore) the run, then run it (under torchrun: this rank's;
    rank 0 alone writes files) into ``run_dir`` or a new folder.

    Returns:
        ``(run_dir, summary, is_main)``.
    """
    import torch

    from specc.train.distributed import Distributed

    previous = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    dist = Distributed.from_env()  # under torchrun: this rank; rank 0 alone writes files
    try:
        # the Setup (and its DDP wrapper) lives in _set_up_and_run's frame only, so it is
        # gone before dist.close() (see Distributed.close: the order matters)
        run_dir, summary = _set_up_and_run(
            dist, spec, text, spec_dir, out_dir, run_dir, plan, callbacks, quiet
        )
    except (RunError, RuntimeError) as exc:  # under torchrun: which rank, and one line
        dist.release_frames(exc)
        raise dist.rank_error(exc) from None
    finally:
        torch.use_deterministic_algorithms(previous[0])  # a library call leaves torch as it was
        torch.backends.cudnn.benchmark = previous[1]
        dist.close()
    return run_dir, summary, dist.is_main


def _set_up_and_run(dist, spec, text, spec_dir, out_dir, run_dir, plan, callbacks, quiet):
    """This rank's :func:`~specc.train.setup.set_up` and run; returns ``(run_dir, summary)``."""
    from specc.train.setup import set_up

    setup = set_up(spec, text, spec_dir, dist, resume=plan)
    if plan is None:  # rank 0 names the folder; every rank uses that one
        run_dir = dist.share(_new_run_dir(spec, out_dir) if dist.is_main else None)
    write_spec = dist.is_main and (plan is None or plan.runs_an_epoch(spec))
    summary = _locked_run(setup, run_dir, text if write_spec else None, callbacks, quiet)
    return run_dir, summary


def _new_run_dir(spec, out_dir) -> Path:
    try:
        return create_run_dir(spec.name, out_dir)
    except OSError as exc:  # a name too long for the file system...
        raise RunError(f"cannot create the run directory: {exc.strerror or exc}") from None


def _locked_run(setup, run_dir: Path, spec_text: str | None, callbacks, quiet: bool) -> dict:
    """Hold the folder's lock (rank 0) while the run writes into it; ``spec_text`` (once
    every check passed; None on other ranks, or on a resume that trains no more epochs) is
    written to spec.yaml first."""
    from specc.train.session import run

    lock = lock_run_dir(run_dir) if setup.dist.is_main else None
    try:
        if spec_text is not None:
            write_text(run_dir / SPEC_FILE, spec_text)
        return run(setup, run_dir, callbacks=callbacks, quiet=quiet)
    finally:
        _close_evaluation_loaders(setup.splits)
        if lock is not None:
            lock.release()


def _close_evaluation_loaders(splits: dict) -> None:
    """Let the persistent workers of the image splits' evaluation loaders exit."""
    from specc.data.image_split import ImageSplit

    for split in splits.values():
        if isinstance(split, ImageSplit):
            split.close()
