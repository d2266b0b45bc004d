"""Distributed data-parallel training on torch's own engine: torchrun + DistributedDataParallel.

Everything DDP lives here; the trainer calls a :class:`Distributed` object whose methods are
no-ops in a single process. A run is distributed when torchrun's environment says so
(``WORLD_SIZE`` > 1, with ``RANK`` and ``LOCAL_RANK``): ``specc train SPEC --nproc N`` and
``torchrun --nproc-per-node N -m specc train SPEC`` both start one process per rank.

How a distributed run keeps the meaning of a 1-process run:

- Backend gloo on CPU, NCCL on CUDA with one device per rank (``cuda:LOCAL_RANK``), and a
  process-group timeout (``SPECC_DIST_TIMEOUT`` seconds, default 600) so a rank waiting on a
  dead peer gives up instead of waiting forever (torchrun also stops every rank as soon as one
  fails).
- ``data.batch_size`` is the GLOBAL batch. Every rank draws the same seeded permutation and the
  same augmentation of each global batch, then takes its contiguous share (sizes differ by at
  most one; the first ``B % W`` ranks get the extra sample; a share may be empty). With
  ``data.num_workers > 0`` each rank's DataLoader loads only its share of each global batch
  of the same permutation (:mod:`specc.data.loader`), augmented as part of the global batch.
- Each rank's loss is the loss of its share, scaled so that DDP's gradient average equals the
  1-process gradient: ``reduction: mean`` -> ``loss_r * W * d_r / d``, where ``d`` is the
  batch's denominator (its sample count, or the sum of class weights for a weighted
  cross_entropy/nll) and ``d_r`` the share's; ``reduction: sum`` -> ``loss_r * W``.
- BatchNorm layers become SyncBatchNorm when the world size is above 1 on devices where torch
  implements it (CUDA); torch has no CPU SyncBatchNorm, so on CPU each rank normalizes with its
  share's statistics and rank 0's running statistics are broadcast (a notice says so).
- Metrics are global: loss sums and counts are all-reduced, predictions and targets gathered,
  so every rank computes the same epoch row (and the same early-stopping decisions). The
  validation and test splits are evaluated in shards and reduced the same way.
- Only rank 0 writes the run directory, metrics, plots and checkpoints, and prints progress;
  rank 0 chooses the run directory and broadcasts it. At the end the ranks compare a SHA-256
  of their weights and buffers (a mismatch is an error); ``summary.json`` records them.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

import torch
from torch import nn

from specc.data.shares import share_bounds
from specc.errors import RunError
from specc.train.loop import EVAL_BATCH, Pass, TrainParts, evaluate

if TYPE_CHECKING:
    from specc.data.batching import TensorSplit
    from specc.data.image_split import ImageSplit
    from specc.data.loader import ShareBatch
    from specc.rundir import MetricsLog
    from specc.train.checkpoint import CheckpointWriter

T = TypeVar("T")
Batch = tuple[torch.Tensor, torch.Tensor]  # x (B, ...), y (B, ...)

__all__ = [
    "TIMEOUT_ENV",
    "Distributed",
    "ShardedLoss",
    "is_main_process",
    "launch",
    "share_bounds",
    "state_digest",
    "sync_batchnorm",
]

TIMEOUT_ENV = "SPECC_DIST_TIMEOUT"


def is_main_process() -> bool:
    """True outside torchrun and on global rank 0 (reads ``RANK``; no torch import needed)."""
    return os.environ.get("RANK", "0") == "0"


class ShardedLoss(nn.Module):
    """The loss of one rank's share of a global batch, scaled for DDP's gradient average.

    :meth:`begin` is called with the global batch's targets (B, ...) and the share's bounds
    before the loop calls ``forward(out (b, ...), y (b, ...))``. ``forward`` returns the loss to
    back-propagate and adds the share's part of the 1-process epoch loss sum to ``total``.
    """

    def __init__(self, inner: nn.Module, mean: bool, world: int, device: torch.device) -> None:
        super().__init__()
        self.inner, self.mean, self.world = inner, mean, world
        weighted = isinstance(inner, (nn.CrossEntropyLoss, nn.NLLLoss))
        weight = inner.weight if weighted else None
        assert weight is None or isinstance(weight, torch.Tensor)
        self.class_weight: torch.Tensor | None = weight
        self.total = torch.zeros((), device=device)
        self.empty = False
        # floats, or 0-d tensors for a weighted loss's share of the class weights
        self.grad_scale: float | torch.Tensor = 1.0
        self.sum_scale: float | torch.Tensor = 1.0

    def begin(self, y: torch.Tensor, lo: int, hi: int) -> None:
        """Prepare for the share ``y[lo:hi]`` of a global batch ``y`` (B, ...)."""
        n = y.shape[0]
        self.empty = hi == lo
        if not self.mean:
            self.grad_scale, self.sum_scale = float(self.world), 1.0
            return
        frac: float | torch.Tensor
        if self.class_weight is not None:
            w = self.class_weight[y.reshape(-1)]
            frac = w[lo:hi].sum() / w.sum()
        else:
            frac = (hi - lo) / n
        self.grad_scale, self.sum_scale = frac * self.world, frac * n

    def forward(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.empty:  # still back-propagate (zeros), so DDP's all-reduce happens on every rank
            return out.sum() * 0.0
        loss = self.inner(out, y)
        self.total.add_(loss.detach().float() * self.sum_scale)
        return loss * self.grad_scale

    def take_total(self) -> torch.Tensor:
        """The epoch's loss sum so far (then reset to zero)."""
        total, self.total = self.total, torch.zeros_like(self.total)
        return total


class _Silent:
    """Stands in for the metrics log and checkpoint writer on ranks other than 0."""

    last_epoch = 0

    def epoch(self, make_state, improved: bool, final: bool = False) -> None:
        pass

    def flush(self) -> None:
        pass

    def rewrite(self, rows) -> None:
        pass

    def append(self, row) -> None:
        pass


class Distributed:
    """This process's place in a torchrun job (world size 1: every method is a no-op)."""

    def __init__(self, world: int = 1, rank: int = 0, local_rank: int = 0) -> None:
        self.world, self.rank, self.local_rank = world, rank, local_rank
        self.backend: str | None = None
        self.loss: ShardedLoss | None = None
        self.notices: list[str] = []

    @classmethod
    def from_env(cls) -> Distributed:
        """Read ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` (set by torchrun)."""
        env = os.environ
        try:
            return cls(
                int(env.get("WORLD_SIZE", "1")),
                int(env.get("RANK", "0")),
                int(env.get("LOCAL_RANK", "0")),
            )
        except ValueError:
            raise RunError("WORLD_SIZE, RANK and LOCAL_RANK must be integers") from None

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # --- the process group ------------------------------------------------------------

    def setup(self, device: torch.device) -> torch.device:
        """Join the process group; return this rank's device (``cuda:LOCAL_RANK`` on CUDA).

        Raises:
            RunError: a device torch.distributed cannot use (mps), or a failed rendezvous.
        """
        if not self.enabled:
            return device
        import torch.distributed as dist

        if device.type == "cuda":
            count = torch.cuda.device_count()
            if self.local_rank >= count:
                raise RunError(
                    f"local rank {self.local_rank} has no GPU: this node has {count} "
                    "CUDA devices (use --nproc at most that, one device per rank)"
                )
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        elif device.type != "cpu":
            raise RunError(
                f"distributed training runs on cpu (gloo) or cuda (nccl), not {device.type}"
            )
        self.backend = "nccl" if device.type == "cuda" else "gloo"
        seconds = float(os.environ.get(TIMEOUT_ENV, "600"))
        # DistributedDataParallel's constructor imports torch._dynamo; imported after the
        # group exists, it keeps references to the group for good, and close() could not
        # destroy it (see close). Imported first, it holds none.
        importlib.import_module("torch._dynamo")
        try:
            dist.init_process_group(self.backend, timeout=timedelta(seconds=seconds))
        except Exception as exc:  # rendezvous failures: one line
            raise RunError(f"could not join the process group: {exc}") from None
        return device

    def close(self) -> None:
        """Leave the process group (when this object joined one), once nothing else holds it.

        The group's gloo worker threads end only when the group object is freed, and a worker
        that outlives the interpreter's shutdown aborts the process (``terminate called
        without an active exception``, SIGABRT): the worker drops the last reference to a
        collective's tensors, whose Python objects need the GIL, which a finalizing
        interpreter refuses with ``pthread_exit``. So the DDP wrapper (it holds the group)
        must be gone before this call: ``destroy_process_group`` then frees the group and
        joins its threads while the interpreter is alive (:func:`specc.train.api.train` keeps
        the :class:`~specc.train.setup.Setup` in a frame that has returned or is cleared by
        :meth:`release_frames`).
        """
        if self.backend is not None:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
            self.backend = None

    def release_frames(self, exc: BaseException) -> None:
        """Under torchrun: clear the local variables of ``exc``'s traceback frames, so that a
        failed run's Setup (and its DDP wrapper) is freed before :meth:`close`."""
        if self.enabled:
            traceback.clear_frames(exc.__traceback__)

    def share(self, value: T) -> T:
        """``value`` as rank 0 has it (a picklable object, e.g. the run directory)."""
        if not self.enabled:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def rank_error(self, exc: Exception) -> Exception:
        """In a distributed run: a RunError with ``rank R:`` in front of its message, and a
        collective that failed because another rank died as one line; else ``exc`` itself."""
        if not self.enabled:
            return exc
        if isinstance(exc, RunError):
            return RunError(f"rank {self.rank}: {exc}", exc.exit_code)
        text = str(exc)
        if isinstance(exc, torch.distributed.DistError) or "gloo" in text or "NCCL" in text:
            first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
            first = re.sub(r"^\[[^\]]*\]\s*", "", first)  # gloo's "[source.cc:553] "
            return RunError(f"rank {self.rank}: lost the other ranks ({first})")
        return exc

    # --- the model, the batches and the loss ------------------------------------------

    def wrap(self, parts: TrainParts) -> TrainParts:
        """The :class:`~specc.train.loop.TrainParts` that train: the model in DDP (BatchNorm ->
        SyncBatchNorm where torch supports it) and a :class:`ShardedLoss`. ``parts`` keeps the
        plain module (its state_dict keys have no ``module.`` prefix) for evaluation and
        checkpoints; both share the parameters, optimizer and scheduler."""
        if not self.enabled:
            return parts
        from torch.nn.parallel import DistributedDataParallel

        device = next(parts.model.parameters()).device
        parts.model, notice = sync_batchnorm(parts.model, device)
        self.notices += [notice] if notice else []
        ids = [device.index] if device.type == "cuda" else None
        model = DistributedDataParallel(parts.model, device_ids=ids)
        self.loss = ShardedLoss(parts.loss_fn, parts.per_sample_weight, self.world, device)
        return replace(parts, model=model, loss_fn=self.loss)

    def shard(self, batches: Iterable[Batch]) -> Iterable[Batch]:
        """This rank's share of each global ``(x (B, ...), y (B, ...))`` batch."""
        if not self.enabled:
            return batches
        return self._shards(batches)

    def _shards(self, batches):
        for x, y in batches:
            lo, hi = share_bounds(y.shape[0], self.world, self.rank)
            self.loss.begin(y, lo, hi)
            yield x[lo:hi], y[lo:hi]

    def take_shares(self, loaded: Iterable[ShareBatch]) -> Iterator[Batch]:
        """``(x, y)`` of each :class:`specc.data.loader.ShareBatch` a DataLoader made (already
        this rank's share of its global batch; the loss is told the global batch first)."""
        for item in loaded:
            if self.enabled:
                assert self.loss is not None, "wrap() made the sharded loss"
                self.loss.begin(item.y if item.batch_y is None else item.batch_y, item.lo, item.hi)
            yield item.x, item.y

    # --- global results ------------------------------------------------------------------

    def reduce_train(self, result: Pass) -> Pass:
        """The global training pass: the 1-process loss sum, count, predictions, targets."""
        if not self.enabled:
            return result
        assert self.loss is not None, "wrap() made the sharded loss"
        return self._reduce(result, self.loss.take_total())

    def evaluate(
        self,
        parts: TrainParts,
        split: TensorSplit | ImageSplit,
        batch_size: int,
        device: torch.device,
    ) -> Pass:
        """:func:`specc.train.loop.evaluate` over the whole split.

        The split's evaluation chunks (``max(batch_size, EVAL_BATCH)`` rows, as in one
        process) are shared out among the ranks, so every chunk's loss is computed exactly as
        in one process; a split of fewer chunks than ranks is evaluated whole by every rank.
        """
        if not self.enabled:
            return evaluate(parts, split, batch_size, device)
        self.sync_buffers(parts.model)
        size = max(batch_size, EVAL_BATCH)
        chunks = -(-len(split) // size)
        if chunks < self.world:
            return evaluate(parts, split, batch_size, device)
        lo, hi = share_bounds(chunks, self.world, self.rank)
        rows = slice(lo * size, hi * size)
        part = evaluate(parts, split.part(rows), batch_size, device)
        return self._reduce(part, part.loss_sum)

    def _reduce(self, result: Pass, loss_sum: torch.Tensor) -> Pass:
        import torch.distributed as dist

        loss_sum = loss_sum.detach().clone()
        count = torch.tensor(result.count, dtype=torch.int64, device=loss_sum.device)
        dist.all_reduce(loss_sum)
        dist.all_reduce(count)
        preds = self._gather(torch.cat(result.preds))
        targets = self._gather(torch.cat(result.targets))
        return Pass(loss_sum, int(count), [preds], [targets])

    def _gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Concatenate every rank's (n_r, ...) tensor along dim 0 (rank order)."""
        import torch.distributed as dist

        size = torch.tensor(tensor.shape[0], dtype=torch.int64, device=tensor.device)
        sizes = [torch.zeros_like(size) for _ in range(self.world)]
        dist.all_gather(sizes, size)
        counts = [int(s) for s in sizes]
        padded = tensor.new_zeros((max(counts), *tensor.shape[1:]))
        padded[: tensor.shape[0]] = tensor
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(parts, padded.contiguous())
        return torch.cat([p[:s] for p, s in zip(parts, counts, strict=True)])

    def sync_buffers(self, model: nn.Module) -> None:
        """Give every rank rank 0's buffers (BatchNorm running statistics)."""
        if not self.enabled:
            return
        import torch.distributed as dist

        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)

    def check_in_sync(self, model: nn.Module) -> dict | None:
        """Compare every rank's weights and buffers (SHA-256 of the state_dict's bytes).

        Returns:
            ``{"world_size", "backend", "weights_sha256": [per rank]}`` (None in one process).

        Raises:
            RunError: the ranks ended with different weights (a bug, never expected).
        """
        if not self.enabled:
            return None
        import torch.distributed as dist

        self.sync_buffers(model)
        digests: list = [None] * self.world
        dist.all_gather_object(digests, state_digest(model.state_dict()))
        if len(set(digests)) != 1:
            raise RunError(f"the ranks ended with different weights ({digests})")
        return {"world_size": self.world, "backend": self.backend, "weights_sha256": digests}

    # --- what only rank 0 does -------------------------------------------------------------

    def writers(self, log: MetricsLog, writer: CheckpointWriter):
        """The metrics log and checkpoint writer on rank 0; silent stand-ins elsewhere."""
        if self.is_main:
            return log, writer
        return _Silent(), _Silent()


def sync_batchnorm(model: nn.Module, device: torch.device) -> tuple[nn.Module, str | None]:
    """``model`` with its BatchNorm layers converted to SyncBatchNorm (in place; the same
    parameters and buffers) on devices where torch implements it, or unchanged with a notice.
    """
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return model, None
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model), None
    return model, (
        "torch has no CPU SyncBatchNorm: each rank's BatchNorm uses its share's "
        "batch statistics (rank 0's running statistics are kept)"
    )


def state_digest(state: dict) -> str:
    """SHA-256 of a state_dict: every key and the raw bytes of every tensor, in order."""
    digest = hashlib.sha256()
    for key, value in state.items():
        digest.update(key.encode())
        data = value.detach().cpu().contiguous().reshape(-1)
        digest.update(data.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def launch(
    nproc: int,
    worker_args: list[str],
    *,
    nnodes: str | None = None,
    node_rank: int | None = None,
    rdzv_endpoint: str | None = None,
    master_addr: str | None = None,
    master_port: int | None = None,
) -> None:
    """Run ``python -m specc train <worker_args>`` on ``nproc`` processes through torchrun
    (``torch.distributed.run``), on this node of a ``nnodes`` job.

    A single node without rendezvous arguments uses ``--standalone`` (a free local port).

    Raises:
        RunError: bad launcher arguments, or a rank failed (torchrun stopped the others).
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    if "LOCAL_RANK" in os.environ:
        raise RunError(
            "--nproc starts torchrun; it cannot be used inside a torchrun job", exit_code=2
        )
    if nproc < 1:
        raise RunError("--nproc must be at least 1", exit_code=2)
    # torchrun would set 1 thread per process (with a warning); share this node's cores instead
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    args = [
        "--nproc-per-node",
        str(nproc),
        *_node_args(nnodes, node_rank, rdzv_endpoint, master_addr, master_port),
    ]
    try:
        run(parse_args([*args, "-m", "specc", "train", *worker_args]))
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        code = failure.exitcode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        raise RunError(
            f"the distributed run stopped: rank {rank} {how} "
            "(its message is above); torchrun stopped the other ranks"
        ) from None


def _node_args(nnodes, node_rank, rdzv_endpoint, master_addr, master_port) -> list[str]:
    """torchrun's node and rendezvous arguments (``--standalone`` on one node without any)."""
    given = {
        "--nnodes": nnodes,
        "--node-rank": node_rank,
        "--rdzv-endpoint": rdzv_endpoint,
        "--master-addr": master_addr,
        "--master-port": master_port,
    }
    if all(value is None for value in given.values()):
        return ["--standalone"]
    if nnodes not in (None, "1") and rdzv_endpoint is None and master_addr is None:
        raise RunError(
            "--nnodes above 1 needs --rdzv-endpoint HOST:PORT (or --master-addr "
            "and --master-port) naming the node of rank 0",
            exit_code=2,
        )
    return [
        part for flag, value in given.items() if value is not None for part in (flag, str(value))
    ]
