"""The hot loops: one training epoch and one evaluation pass.

Order of operations in a training step (the standalone train.py does the same)::

    for x, y in iter_batches(train, batch_size, generator=shuffle_gen, augment=augment):
        with autocast:                      # only for bf16/fp16
            out = model(x); loss = loss_fn(out, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()                     # scaled by a GradScaler for fp16 on CUDA
        clip_grad_norm_(params, grad_clip)  # when train.grad_clip is set
        optimizer.step()
        scheduler.step()                    # one_cycle only (per batch)

The epoch loss is the per-sample mean: ``sum(loss_b * len(b)) / N`` with
``reduction: mean`` (``sum(loss_b) / N`` with ``reduction: sum``). It is accumulated on the
device and read once per epoch; the only per-batch extra work is keeping the (reduced)
predictions for the epoch's metrics. Evaluation runs under ``torch.inference_mode`` in
``eval()`` mode, in order, in batches of ``max(batch_size, 1024)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from specc.data.batching import TensorSplit
    from specc.data.image_split import ImageSplit
    from specc.train.device import Precision
    from specc.train.metrics import Predictor
    from specc.train.optim import Stepper

__all__ = ["EVAL_BATCH", "Pass", "TrainParts", "evaluate", "train_epoch"]

EVAL_BATCH = 1024


@dataclass
class Pass:
    """What one pass over a split leaves: the on-device loss sum, the sample count, and
    the reduced predictions and targets of every batch, in order."""

    loss_sum: torch.Tensor
    count: int = 0
    preds: list = field(default_factory=list)
    targets: list = field(default_factory=list)

    def loss(self) -> float:
        """The per-sample mean loss (one device sync)."""
        return float(self.loss_sum) / max(self.count, 1)


@dataclass
class TrainParts:
    """The parts a training step and an evaluation use (built once per run): the model,
    loss, optimizer, scheduler stepper, predictor, precision, scaler and clipping."""

    model: torch.nn.Module
    loss_fn: torch.nn.Module
    optimizer: torch.optim.Optimizer
    stepper: Stepper
    predictor: Predictor
    precision: Precision
    scaler: torch.amp.GradScaler | None = None
    grad_clip: float | None = None
    per_sample_weight: bool = True  # reduction "mean": weight each batch loss by its size


def train_epoch(
    parts: TrainParts,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
    progress: Callable[[int, torch.Tensor, int], None] | None = None,
) -> Pass:
    """One epoch over ``batches`` ((B, ...) inputs, (B, ...) targets already on ``device``)."""
    model, loss_fn, optimizer = parts.model, parts.loss_fn, parts.optimizer
    model.train()
    result = Pass(torch.zeros((), device=device))
    clip = parts.grad_clip or 0.0  # params is None when there is no clipping
    params = [p for p in model.parameters() if p.requires_grad] if clip else None
    per_batch = parts.stepper.per_batch
    reduce, autocast, scaler = parts.predictor.reduce, parts.precision.autocast, parts.scaler
    for index, (x, y) in enumerate(batches):
        with autocast():
            out = model(x)
            loss = loss_fn(out, y)
        optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            if params is not None:
                torch.nn.utils.clip_grad_norm_(params, clip)
            optimizer.step()
        else:
            _scaled_step(scaler, loss, optimizer, params, clip)
        if per_batch:
            parts.stepper.batch()
        n = y.shape[0]
        result.loss_sum.add_(loss.detach(), alpha=n if parts.per_sample_weight else 1)
        result.preds.append(reduce(out.detach()))
        result.targets.append(y)
        result.count += n
        if progress is not None:
            progress(index, result.loss_sum, result.count)
    return result


def _scaled_step(scaler, loss, optimizer, params, grad_clip) -> None:
    scaler.scale(loss).backward()
    if params is not None:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    scaler.step(optimizer)
    scaler.update()


@torch.inference_mode()
def evaluate(
    parts: TrainParts, split: TensorSplit | ImageSplit, batch_size: int, device: torch.device
) -> Pass:
    """Loss and reduced predictions of the model on a whole split, in order, in eval mode.

    Args:
        split: a TensorSplit whose ``x`` (N, ...) and ``y`` (N, ...) are on ``device``, or an
            :class:`~specc.data.image_split.ImageSplit` (decoded in chunks onto ``device``).
    """
    model = parts.model
    model.eval()
    result = Pass(torch.zeros((), device=device))
    size = max(batch_size, EVAL_BATCH)
    weight = parts.per_sample_weight
    for x, y in split.chunks(size, device):
        with parts.precision.autocast():
            out = model(x)
            loss = parts.loss_fn(out, y)
        n = y.shape[0]
        result.loss_sum.add_(loss.float(), alpha=n if weight else 1)
        result.preds.append(parts.predictor.reduce(out))
        result.targets.append(y)
        result.count += n
    return result
