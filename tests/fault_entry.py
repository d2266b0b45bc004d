"""Test-only entry point: ``python tests/fault_entry.py ARGS...`` is ``specc ARGS...`` with
faults injected through epoch callbacks (:func:`specc.train.callbacks.install`), so that the
production path holds no test hooks. torchrun can launch this file in place of ``-m specc``.

Faults, from the environment (passed through torchrun to every rank):

- ``SPECC_TEST_SIGKILL_AFTER_EPOCH=K``: the process SIGKILLs itself right after epoch K's
  checkpoint and metrics row are written (proves that ``--resume`` is exact).
- ``SPECC_TEST_FAIL_RANK_AT_EPOCH=R:E``: rank R fails (RunError) at the start of epoch E.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

FAULT_ENTRY = Path(__file__).resolve()
KILL_HOOK_ENV = "SPECC_TEST_SIGKILL_AFTER_EPOCH"
FAIL_HOOK_ENV = "SPECC_TEST_FAIL_RANK_AT_EPOCH"


class KillAfterEpoch:
    """SIGKILL this process after ``epoch``'s row (installed after every other callback)."""

    def __init__(self, epoch: int) -> None:
        self.after = epoch

    def epoch(self, row: dict) -> None:
        if row["epoch"] == self.after:
            os.kill(os.getpid(), signal.SIGKILL)


class FailAtEpoch:
    """Raise a RunError at the start of ``epoch`` (on the rank it is installed on)."""

    every_rank = True

    def __init__(self, epoch: int) -> None:
        self.at = epoch

    def epoch_start(self, epoch: int) -> None:
        from specc.errors import RunError

        if epoch == self.at:
            raise RunError(f"failure injected by {FAIL_HOOK_ENV} at epoch {epoch}")


def install_faults(env=os.environ) -> None:
    """Install the faults the environment asks for (see the module docstring)."""
    from specc.train.callbacks import install

    if env.get(KILL_HOOK_ENV):
        install(KillAfterEpoch(int(env[KILL_HOOK_ENV])))
    rank, _, epoch = env.get(FAIL_HOOK_ENV, "").partition(":")
    if epoch and rank == env.get("RANK", "0"):
        install(FailAtEpoch(int(epoch)))


if __name__ == "__main__":
    sys.path.insert(0, str(FAULT_ENTRY.parents[1]))  # this checkout's specc, as `-m specc`
    from specc.cli import main

    install_faults()
    sys.argv[0] = "specc"
    main()
