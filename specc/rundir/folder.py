"""Writing a run folder: a new one, the checks on ``--out``, its lock, atomic files.

A run folder is owned by specc: ``--out`` must be new, empty, or a folder holding only run
files (:data:`RUN_FILES`) and no ``last.pt``, so a user's own files are never overwritten.
One process at a time trains in a folder (:func:`lock_run_dir`, an ``fcntl`` lock on
``.lock``). Every file is written atomically (:func:`specc.paths.write_atomic`), so a
symlink planted in the folder is replaced, never followed.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path

from specc.errors import RunError
from specc.paths import same_file, temp_beside, write_atomic
from specc.rundir.names import (
    LAST_CHECKPOINT,
    LOCK,
    METRICS_FILE,
    RUN_FILES,
    SPEC_FILE,
    SUMMARY_FILE,
)

__all__ = [
    "RUN_FILES",
    "MetricsLog",
    "check_out_dir",
    "create_run_dir",
    "lock_run_dir",
    "save_checkpoint",
    "write_json",
    "write_text",
]


def create_run_dir(name: str, out: str | Path | None, base: str | Path = "runs") -> Path:
    """Make the folder of a new run.

    Args:
        name: the spec's name (``runs/<name>/<timestamp>/``).
        out: an exact folder to use instead; it must not already hold a run.

    Raises:
        RunError: ``out`` already holds a run (``last.pt``) or cannot be created.
    """
    if out is not None:
        run_dir = check_out_dir(out)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = Path(base) / name / stamp
        suffix = 1
        while run_dir.exists():
            suffix += 1
            run_dir = Path(base) / name / f"{stamp}-{suffix}"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create the run directory {run_dir}: {exc.strerror}") from None
    return run_dir


def check_out_dir(out: str | Path, spec_path: str | Path | None = None) -> Path:
    """``out`` as a Path, once it is known to be a place for a new run.

    Raises:
        RunError: ``out`` is empty (exit 2), would replace the spec file (exit 2), is a
            file, holds files that are not a run's, or already holds a run (``last.pt``).
    """
    try:
        return _check_out_dir(out, spec_path)
    except OSError as exc:  # a name too long, a folder that cannot be listed...
        raise RunError(f"--out {out}: {exc.strerror or exc}") from None


def _check_out_dir(out: str | Path, spec_path: str | Path | None) -> Path:
    if str(out).strip() == "":
        raise RunError("--out is empty; give a folder for the run", exit_code=2)
    run_dir = Path(out)
    if spec_path is not None and same_file(run_dir / SPEC_FILE, Path(spec_path)):
        raise RunError(
            f"--out {run_dir} is the spec's own folder and the spec is named "
            "spec.yaml: the run would replace it. Choose another --out",
            exit_code=2,
        )
    if not run_dir.exists() and not run_dir.is_symlink():
        return run_dir
    if not run_dir.is_dir():
        raise RunError(f"--out {run_dir} exists and is not a folder")
    names = set(os.listdir(run_dir))
    if LAST_CHECKPOINT in names:
        raise RunError(
            f"{run_dir} already holds a run (last.pt); continue it with "
            f"--resume {run_dir} or choose another --out"
        )
    foreign = sorted(n for n in names if n not in RUN_FILES and not n.endswith(".tmp"))
    if not foreign and names - {LOCK} and not names & {METRICS_FILE, SUMMARY_FILE}:
        foreign = sorted(names - {LOCK})  # a spec.yaml alone is the user's, not a run's
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise RunError(
            f"--out {run_dir} is a folder with other files ({shown}); a run "
            "needs a new or empty folder, so that nothing of yours is overwritten"
        )
    return run_dir


class _Lock:
    """An exclusive ``fcntl.flock`` on ``run_dir/.lock``, held until :meth:`release`, which
    removes the file. A lock taken on a file that another process has just removed is
    retried, so two processes never both hold one. ``command`` names the holder in the
    error (``specc train``, ``specc tune``)."""

    def __init__(self, run_dir: Path, command: str) -> None:
        self.path, self.command = run_dir / LOCK, command
        for _ in range(3):
            self.fd = self._open()
            if self._still_linked():
                return
            os.close(self.fd)
        raise RunError(f"another {command} is using {run_dir}")

    def _open(self) -> int:
        import fcntl

        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, 0o666)
        except OSError as exc:
            raise RunError(f"cannot lock {self.path.parent}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise RunError(
                f"another {self.command} is using {self.path.parent}; wait for it "
                "to finish or choose another --out"
            ) from None
        return fd

    def _still_linked(self) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(self.fd).st_ino
        except OSError:
            return False

    def release(self) -> None:
        """Remove the lock file, then unlock (closing the descriptor releases the flock)."""
        if self.fd >= 0:
            self.path.unlink(missing_ok=True)
            os.close(self.fd)
            self.fd = -1


def lock_run_dir(run_dir: Path, command: str = "specc train") -> _Lock:
    """Take the folder's lock (a run's, or a tune's DIR), or RunError when another process
    holds it; ``command`` is what the error calls the process using the folder."""
    return _Lock(Path(run_dir), command)


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically (temp file in the same folder + os.replace), with the
    mode of the user's umask; a symlink at ``path`` is replaced, not followed."""
    write_atomic(path, text)


def save_checkpoint(state: dict, path: str | Path) -> None:
    """Write a checkpoint dict (tensors and plain values) atomically with ``torch.save``."""
    import torch

    with temp_beside(Path(path)) as tmp, tmp.open("wb") as handle:
        torch.save(state, handle)


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically; non-finite floats become the strings "nan"/"inf"."""
    write_text(path, json.dumps(_finite(data), indent=2) + "\n")


class MetricsLog:
    """``metrics.csv``: a header, then one row per epoch, flushed as it is written."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.columns = columns

    def rewrite(self, rows: list[dict]) -> None:
        """Replace the file with the header and ``rows`` (a new run, or a resumed one)."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, self.columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(_format(row) for row in rows)
        write_text(self.path, buffer.getvalue())

    def append(self, row: dict) -> None:
        """Add one epoch's row."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        with open(os.open(self.path, flags, 0o666), "a", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(
                handle, self.columns, extrasaction="ignore", lineterminator="\n"
            )
            writer.writerow(_format(row))


def _format(row: dict) -> dict:
    return {k: (f"{v:.8g}" if isinstance(v, float) else v) for k, v in row.items()}
