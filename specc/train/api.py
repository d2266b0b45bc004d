"""The library entry points: :func:`train` and :func:`load_run`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from specc.commands.common import RunError
from specc.errors import SpecErrors

__all__ = ["RunResult", "load_run", "train"]


@dataclass
class RunResult:
    """What :func:`train` returns: the run folder and its summary (``summary.json``)."""

    run_dir: Path
    summary: dict


def _validate_text(text: str, path: str):
    from specc.spec.validate import check_text

    spec, errors = check_text(text, path)
    if errors:
        raise SpecErrors(errors, text)
    return spec


def _read_run(run_dir: Path) -> tuple[str, Path]:
    spec_file = run_dir / "spec.yaml"
    if not run_dir.is_dir():
        raise RunError(f"{run_dir} is not a run directory")
    if not spec_file.exists():
        raise RunError(f"{run_dir} is not a run directory (no spec.yaml)")
    return spec_file.read_text(encoding="utf-8"), spec_file


def load_run(run_dir: str | Path):
    """A finished (or interrupted) run's spec and checkpoint.

    Returns:
        ``(spec, checkpoint)``: the validated spec stored in ``run_dir/spec.yaml`` and the
        dict of ``best.pt`` (``last.pt`` when there is no best), loaded on the CPU with
        ``weights_only=True``. ``checkpoint["model"]`` is the state_dict;
        ``checkpoint["preprocessing"]`` the fitted preprocessing state.

    Raises:
        RunError: not a run directory, or no checkpoint in it.
    """
    run_dir = Path(run_dir)
    text, spec_file = _read_run(run_dir)
    spec = _validate_text(text, str(spec_file))
    for name in ("best.pt", "last.pt"):
        if (run_dir / name).exists():
            return spec, _load(run_dir / name)
    raise RunError(f"{run_dir} holds no checkpoint (best.pt or last.pt)")


def _load(path: Path) -> dict:
    from specc.train.checkpoint import load_checkpoint

    try:
        return load_checkpoint(path)
    except Exception as exc:  # a truncated or foreign file: one clear line
        raise RunError(f"cannot read the checkpoint {path}: {exc}") from None


def train(spec=None, *, out_dir=None, overrides=(), resume=None, quiet: bool = False,
          callbacks=()):
    """Train a validated spec (or resume a run) and return its :class:`RunResult`.

    Args:
        spec: a validated :class:`specc.spec.schema.Spec` (None with ``resume``).
        out_dir: the exact run folder (default ``runs/<name>/<timestamp>/``).
        overrides: ``key.path=value`` strings, validated like the spec.
        resume: a run folder to continue from its ``last.pt`` with its stored spec.
        quiet: print nothing.
        callbacks: objects with ``epoch(row)`` called after each epoch's checkpoint and
            metrics row (rank 0 only), e.g. a tuner's pruner; one may raise to stop the run.
            The spec's ``train.log`` trackers (:mod:`specc.track`) are added to them.

    Raises:
        SpecErrors: the spec lacks a section training needs, an override or the data is
            invalid (exit 2).
        RunError: runtime failures such as a diverged loss or an unavailable device (exit 1).
    """
    from specc.train.overrides import apply_overrides
    from specc.train.plan import require_sections
    from specc.train.rundir import check_out_dir

    run_dir = Path(resume) if resume is not None else None
    state = None
    if run_dir is not None:
        spec, spec_dir, state = _resumed(run_dir)
    else:
        spec_dir = Path(spec.source_path).resolve().parent
        if out_dir is not None:
            check_out_dir(out_dir)
    spec, text = apply_overrides(spec, list(overrides))
    require_sections(spec)
    from specc.track import Trackers

    trackers = Trackers.for_spec(spec, text)  # train.log: a clear error when an extra is missing
    try:
        run_dir, summary, is_main = _run_session(spec, text, spec_dir, quiet, out_dir, run_dir,
                                                 state, [*trackers.callbacks, *callbacks])
        if is_main and spec.export is not None and spec.export.onnx is not None:
            from specc.export import export_run  # writes run_dir/model.onnx, verified

            export_run(run_dir, quiet=quiet)
        trackers.finish(summary)
    finally:
        trackers.close()
    return RunResult(run_dir, summary)


def _resumed(run_dir: Path):
    """A run folder's stored spec, the folder of the original spec and the ``last.pt``
    state to continue from."""
    text, spec_file = _read_run(run_dir)
    if not (run_dir / "last.pt").exists():
        raise RunError(f"{run_dir} has no last.pt to resume from")
    state = _load(run_dir / "last.pt")
    return _validate_text(text, str(spec_file)), Path(state["spec_dir"]), state


def _run_session(spec, text: str, spec_dir: Path, quiet: bool, out_dir, run_dir, state,
                 callbacks):
    """Set up and run the :class:`~specc.train.session.Session` (under torchrun: this rank's;
    rank 0 alone writes files) into ``run_dir`` (resumed from ``state``) or a new folder.

    Returns:
        ``(run_dir, summary, is_main)``.
    """
    import torch

    from specc.train.distributed import Distributed
    from specc.train.rundir import create_run_dir, write_text
    from specc.train.session import Session

    previous = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    dist = Distributed.from_env()  # under torchrun: this rank; rank 0 alone writes files
    try:
        session = Session(spec, text, spec_dir, quiet, dist, callbacks)
        if state is None:  # rank 0 names the folder; every rank uses that one
            run_dir = dist.share(create_run_dir(spec.name, out_dir) if dist.is_main else None)
        if dist.is_main:
            write_text(run_dir / "spec.yaml", text)
        session.attach(run_dir)
        for callback in session.callbacks:  # rank 0's trackers learn the folder
            getattr(callback, "attach", lambda _: None)(run_dir)
        if state is not None:
            session.restore(state)
        summary = session.run()
    except (RunError, RuntimeError) as exc:  # under torchrun: which rank, and one line
        raise dist.located(exc) from None
    finally:
        torch.use_deterministic_algorithms(previous[0])  # a library call leaves torch as it was
        torch.backends.cudnn.benchmark = previous[1]
        dist.close()
    return run_dir, summary, dist.is_main
