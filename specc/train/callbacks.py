"""Epoch callbacks: the trainer's one extension point.

A callback is any object with some of these methods, called by :func:`specc.train.session.run`:

- ``attach(run_dir)``: once, before the first epoch, with the run folder;
- ``epoch_start(epoch)``: at the start of each epoch, before its training pass;
- ``epoch(row)``: after each epoch's checkpoint and metrics row are written (the row is the
  ``metrics.csv`` row as a dict). One may raise to stop the run (a tuner's pruner does).

Callbacks run on rank 0 only, unless they set ``every_rank = True``. The spec's trackers
(:mod:`specc.track`) and the tuner's pruner are callbacks passed to
:func:`specc.train.train`; :func:`install` adds one to every run this process starts, for an
entry point that wraps the command line (the test suite's fault injection does). ``specc tune
--workers N`` pickles the installed callbacks to each worker process and installs them there
(so they must be picklable: instances of importable classes); under torchrun every rank runs
the entry point, so each installs its own.
"""

from __future__ import annotations

__all__ = ["install", "installed", "uninstall"]

_INSTALLED: list[object] = []


def install(callback: object) -> None:
    """Add ``callback`` to every run this process starts from now on."""
    _INSTALLED.append(callback)


def uninstall(callback: object) -> None:
    """Remove a callback added by :func:`install`."""
    _INSTALLED.remove(callback)


def installed() -> list[object]:
    """The callbacks added by :func:`install`, in order."""
    return list(_INSTALLED)
