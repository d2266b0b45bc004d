"""``specc train SPEC``: train a spec into a run directory (see :mod:`specc.train`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from specc.commands.common import RunError, load_or_exit
from specc.rundir import check_out_dir

_SPEC = typer.Argument(None, help="The spec file (omit with --resume).")
_OUT = typer.Option(None, "--out", help="Exact run folder (default runs/<name>/<timestamp>/).")
_SET = typer.Option(None, "--set", help="Override a spec value: key.path=value (repeatable).")
_RESUME = typer.Option(None, "--resume", help="Continue a run folder from its last.pt.")
_FORCE = typer.Option(
    False,
    "--force",
    help="With --resume: continue although the spec or "
    "the data differ from last.pt's (recorded in summary.json).",
)
_NPROC = typer.Option(
    None,
    "--nproc",
    help="Train on N processes of this node through torchrun "
    "(DistributedDataParallel; batch_size stays the global batch).",
)
_NNODES = typer.Option(None, "--nnodes", help="With --nproc: number of nodes (torchrun's).")
_NODE_RANK = typer.Option(None, "--node-rank", help="With --nproc: this node's rank.")
_RDZV = typer.Option(None, "--rdzv-endpoint", help="With --nproc: HOST:PORT of node 0.")
_MASTER_ADDR = typer.Option(None, "--master-addr", help="With --nproc: address of node 0.")
_MASTER_PORT = typer.Option(None, "--master-port", help="With --nproc: port on node 0.")


def train(
    spec: Path | None = _SPEC,
    out: str | None = _OUT,  # a str: Typer would turn '' into Path('.')
    epochs: int | None = typer.Option(None, "--epochs", help="Override train.epochs."),
    device: str | None = typer.Option(None, "--device", help="auto, cpu, cuda, cuda:N, mps."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Override data.batch_size."),
    lr: float | None = typer.Option(None, "--lr", help="Override optimizer.lr."),
    overrides: list[str] | None = _SET,
    resume: Path | None = _RESUME,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing."),
    force: bool = _FORCE,
    nproc: int | None = _NPROC,
    nnodes: str | None = _NNODES,
    node_rank: int | None = _NODE_RANK,
    rdzv_endpoint: str | None = _RDZV,
    master_addr: str | None = _MASTER_ADDR,
    master_port: int | None = _MASTER_PORT,
) -> None:
    """Train a spec: checkpoints, metrics.csv, summary.json and curves.png in a run folder."""
    if (spec is None) == (resume is None):
        raise RunError(
            "give a SPEC to train, or --resume RUN_DIR to continue a run (not both)", exit_code=2
        )
    if resume is not None and out is not None:
        raise RunError(
            "--out cannot be used with --resume (the run folder is RUN_DIR)", exit_code=2
        )
    if force and resume is None:
        raise RunError("--force goes with --resume", exit_code=2)
    sets = [
        f"{key}={value}"
        for key, value in (
            ("train.epochs", epochs),
            ("train.device", device),
            ("data.batch_size", batch_size),
            ("optimizer.lr", lr),
        )
        if value is not None
    ]
    sets += list(overrides or [])
    launcher: dict[str, Any] = {
        "nnodes": nnodes,
        "node_rank": node_rank,
        "rdzv_endpoint": rdzv_endpoint,
        "master_addr": master_addr,
        "master_port": master_port,
    }
    if nproc is not None:  # torchrun starts `python -m specc train ...` on each rank
        _check_before_launch(spec, out, sets)  # a bad spec: one report here, not one per rank
        from specc.train.distributed import launch

        launch(nproc, _worker_args(spec, out, sets, resume, quiet, force), **launcher)
        return
    if any(value is not None for value in launcher.values()):
        raise RunError(
            "--nnodes, --node-rank, --rdzv-endpoint, --master-addr and "
            "--master-port go with --nproc",
            exit_code=2,
        )
    if out is not None:
        check_out_dir(out, spec)
    loaded = load_or_exit(spec) if spec is not None else None
    from specc.workflow import train as run_training

    out_dir = Path(out) if out is not None else None
    result = run_training(
        loaded, out_dir=out_dir, overrides=sets, resume=resume, quiet=quiet, force=force
    )
    from specc.train.distributed import is_main_process

    if not quiet and is_main_process():
        sys.stdout.write(_closing(result) + "\n")


def _check_before_launch(spec, out, sets) -> None:
    """Validate the spec, its overrides and ``--out`` once, before torchrun starts ranks."""
    from specc.train.overrides import apply_overrides, parse_override
    from specc.train.plan import require_sections

    if spec is None:
        for item in sets:
            parse_override(item)
        return
    loaded = load_or_exit(spec)
    checked, _ = apply_overrides(loaded, sets)
    require_sections(checked)
    if out is not None:
        check_out_dir(out, spec)


def _worker_args(spec, out, sets, resume, quiet, force) -> list[str]:
    """The ``specc train`` arguments each rank gets (everything but the launcher's)."""
    args = [str(spec)] if spec is not None else ["--resume", str(resume)]
    if out is not None:
        args += ["--out", str(out)]
    for item in sets:
        args += ["--set", item]
    args += ["--force"] if force else []
    return [*args, "--quiet"] if quiet else args


def _closing(result) -> str:
    from specc.train.progress import format_row

    summary = result.summary
    best = summary.get("best") or {}
    shown = format_row(best)
    return (
        f"{summary['status']}: {summary['epochs_run']} epochs in "
        f"{summary['seconds']:.1f}s; best epoch {best.get('epoch')}: {shown}\n"
        f"run saved to {result.run_dir}"
    )
