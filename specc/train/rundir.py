"""The run directory: ``runs/<name>/<timestamp>/`` (or exactly ``--out DIR``).

Contents: ``spec.yaml`` (the resolved spec text), ``metrics.csv`` (one row per epoch),
``summary.json``, ``best.pt``, ``last.pt`` and ``curves.png``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
import time
from pathlib import Path

from specc.errors import RunError

__all__ = ["MetricsLog", "check_out_dir", "create_run_dir", "write_json", "write_text"]


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


def check_out_dir(out: str | Path) -> Path:
    """``out`` as a Path, unless it already holds a run (RunError)."""
    run_dir = Path(out)
    if (run_dir / "last.pt").exists():
        raise RunError(f"{run_dir} already holds a run (last.pt); continue it with "
                       f"--resume {run_dir} or choose another --out")
    return run_dir


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically (temp file in the same folder + os.replace)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
        writer = csv.DictWriter(buffer, self.columns, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(_format(row) for row in rows)
        write_text(self.path, buffer.getvalue())

    def append(self, row: dict) -> None:
        """Add one epoch's row."""
        with self.path.open("a", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, self.columns, extrasaction="ignore",
                                    lineterminator="\n")
            writer.writerow(_format(row))


def _format(row: dict) -> dict:
    return {k: (f"{v:.8g}" if isinstance(v, float) else v) for k, v in row.items()}
