"""Pydantic models of the non-model sections: loss, optimizer, scheduler, data, train, export.

Names are torch's (snake_case) and scikit-learn's; every model forbids unknown keys. A
section written as a bare name (``loss: cross_entropy``) means that type with no arguments.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

from specc.ops.base import NonNegInt, Number, PosInt, PositiveFloat, Probability

NonNegFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(gt=0, lt=1)]


class Strict(BaseModel):
    """Base of every spec section: unknown keys are errors; instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def bare_name(value: Any) -> Any:
    """Let ``loss: mse`` stand for ``loss: {type: mse}``."""
    return {"type": value} if isinstance(value, str) else value


def bare_types(members: Iterable[type[BaseModel]]) -> tuple[str, ...]:
    """The ``type`` names of the members that need no other argument (may be written bare)."""
    names = []
    for member in members:
        fields = member.model_fields
        if all(not f.is_required() for name, f in fields.items() if name != "type"):
            names += [a for a in typing.get_args(fields["type"].annotation) if isinstance(a, str)]
    return tuple(names)


def tagged(*members: type) -> Any:
    """A discriminated union on ``type`` that also accepts a bare type name.

    The JSON Schema lists the bare names too, so editors complete ``loss: cross_entropy``.
    """
    inner = Annotated[members[0] if len(members) == 1 else _union(members),
                      Field(discriminator="type")]
    return Annotated[inner, BeforeValidator(bare_name, json_schema_input_type=with_bare(
        inner, bare_types(members)))]


def with_bare(inner: Any, names: tuple[str, ...]) -> Any:
    """``inner | Literal[names]`` (just ``inner`` when no name may be written bare)."""
    return _union((inner, Literal[names])) if names else inner


def _union(members: tuple[type, ...]) -> Any:
    from typing import Union

    return Union[members]  # noqa: UP007 - built from a runtime tuple


# --- losses -------------------------------------------------------------------------------

Reduction = Literal["mean", "sum"]


class MSELoss(Strict):
    type: Literal["mse"]
    reduction: Reduction = "mean"


class L1Loss(Strict):
    type: Literal["l1"]
    reduction: Reduction = "mean"


class SmoothL1Loss(Strict):
    type: Literal["smooth_l1"]
    beta: PositiveFloat = 1.0
    reduction: Reduction = "mean"


class HuberLoss(Strict):
    type: Literal["huber"]
    delta: PositiveFloat = 1.0
    reduction: Reduction = "mean"


class BCEWithLogitsLoss(Strict):
    type: Literal["bce_with_logits"]
    pos_weight: PositiveFloat | list[PositiveFloat] | None = None
    reduction: Reduction = "mean"


class BCELoss(Strict):
    type: Literal["bce"]
    reduction: Reduction = "mean"


class CrossEntropyLoss(Strict):
    type: Literal["cross_entropy"]
    label_smoothing: Probability = 0.0
    weight: list[PositiveFloat] | None = None
    reduction: Reduction = "mean"


class NLLLoss(Strict):
    type: Literal["nll"]
    weight: list[PositiveFloat] | None = None
    reduction: Reduction = "mean"


LOSSES = (MSELoss, L1Loss, SmoothL1Loss, HuberLoss, BCEWithLogitsLoss, BCELoss,
          CrossEntropyLoss, NLLLoss)
Loss = tagged(*LOSSES)

#: The task each loss implies, i.e. what its targets look like.
TASK_OF_LOSS = {"cross_entropy": "multiclass", "nll": "multiclass", "bce": "binary",
                "bce_with_logits": "binary", "mse": "regression", "l1": "regression",
                "smooth_l1": "regression", "huber": "regression"}


def task_of(loss_type: str | None) -> str:
    """``multiclass`` | ``binary`` | ``regression`` for a loss type (no loss: regression)."""
    return TASK_OF_LOSS.get(loss_type or "", "regression")

# --- optimizers ---------------------------------------------------------------------------


class SGD(Strict):
    type: Literal["sgd"]
    lr: PositiveFloat = 0.01
    momentum: NonNegFloat = 0.0
    dampening: NonNegFloat = 0.0
    nesterov: bool = False
    weight_decay: NonNegFloat = 0.0


class Adam(Strict):
    type: Literal["adam"]
    lr: PositiveFloat = 0.001
    betas: tuple[Probability, Probability] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: NonNegFloat = 0.0
    amsgrad: bool = False


class AdamW(Strict):
    type: Literal["adamw"]
    lr: PositiveFloat = 0.001
    betas: tuple[Probability, Probability] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: NonNegFloat = 0.01
    amsgrad: bool = False


class RMSprop(Strict):
    type: Literal["rmsprop"]
    lr: PositiveFloat = 0.01
    alpha: Probability = 0.99
    eps: PositiveFloat = 1e-8
    momentum: NonNegFloat = 0.0
    centered: bool = False
    weight_decay: NonNegFloat = 0.0


class Adagrad(Strict):
    type: Literal["adagrad"]
    lr: PositiveFloat = 0.01
    lr_decay: NonNegFloat = 0.0
    eps: PositiveFloat = 1e-10
    weight_decay: NonNegFloat = 0.0


OPTIMIZERS = (SGD, Adam, AdamW, RMSprop, Adagrad)
Optimizer = tagged(*OPTIMIZERS)

# --- schedulers ---------------------------------------------------------------------------


class StepLR(Strict):
    type: Literal["step_lr"]
    step_size: PosInt
    gamma: PositiveFloat = 0.1


class MultiStepLR(Strict):
    type: Literal["multi_step_lr"]
    milestones: list[PosInt]
    gamma: PositiveFloat = 0.1


class ExponentialLR(Strict):
    type: Literal["exponential_lr"]
    gamma: PositiveFloat


class CosineAnnealing(Strict):
    type: Literal["cosine_annealing"]
    T_max: PosInt | None = None  # torch's argument name; default: train.epochs
    eta_min: NonNegFloat = 0.0


class OneCycle(Strict):
    type: Literal["one_cycle"]
    max_lr: PositiveFloat
    pct_start: Fraction = 0.3
    anneal_strategy: Literal["cos", "linear"] = "cos"
    div_factor: PositiveFloat = 25.0
    final_div_factor: PositiveFloat = 1e4


class ReduceLROnPlateau(Strict):
    type: Literal["reduce_lr_on_plateau"]
    mode: Literal["min", "max"] = "min"
    factor: Fraction = 0.1
    patience: NonNegInt = 10
    threshold: NonNegFloat = 1e-4
    min_lr: NonNegFloat = 0.0
    monitor: str = "val_loss"


SCHEDULERS = (StepLR, MultiStepLR, ExponentialLR, CosineAnnealing, OneCycle, ReduceLROnPlateau)
Scheduler = tagged(*SCHEDULERS)

# --- data ---------------------------------------------------------------------------------


class InlineSource(Strict):
    """Data written in the spec: ``x`` (a list of samples) and ``y`` (targets)."""

    type: Literal["inline"]
    x: list[Any] = Field(min_length=1)
    y: list[Any] = Field(min_length=1)


class CSVSource(Strict):
    type: Literal["csv"]
    path: str
    target: str
    features: list[str] | None = None
    delimiter: str = ","
    labels: list[str] | None = None


class SklearnSource(Strict):
    type: Literal["sklearn"]
    name: Literal["digits", "iris", "wine", "breast_cancer", "diabetes"]
    flat: bool = False


class MNISTSource(Strict):
    type: Literal["mnist"]
    path: str
    limit: PosInt | None = None


class NPZSource(Strict):
    type: Literal["npz"]
    path: str
    x_key: str = "x"
    y_key: str = "y"


class TorchvisionSource(Strict):
    type: Literal["torchvision"]
    name: str
    root: str = "data"
    download: bool = False


SOURCES = (InlineSource, CSVSource, SklearnSource, MNISTSource, NPZSource, TorchvisionSource)
Source = tagged(*SOURCES)

Columns = list[str] | None


class SimpleImputer(Strict):
    type: Literal["simple_imputer"]
    strategy: Literal["mean", "median", "most_frequent", "constant"] = "mean"
    fill_value: Number | str | None = None
    columns: Columns = None


class OneHotEncoder(Strict):
    type: Literal["one_hot_encoder"]
    columns: Columns = None
    drop: Literal["first", "if_binary"] | None = None
    handle_unknown: Literal["error", "ignore"] = "ignore"


class OrdinalEncoder(Strict):
    type: Literal["ordinal_encoder"]
    columns: Columns = None


class StandardScaler(Strict):
    type: Literal["standard_scaler"]
    columns: Columns = None
    with_mean: bool = True
    with_std: bool = True


class MinMaxScaler(Strict):
    type: Literal["min_max_scaler"]
    columns: Columns = None
    feature_range: tuple[Number, Number] = (0.0, 1.0)


PREPROCESS = (SimpleImputer, OneHotEncoder, OrdinalEncoder, StandardScaler, MinMaxScaler)
Preprocess = tagged(*PREPROCESS)


class Normalize(Strict):
    type: Literal["normalize"]
    mean: list[Number] = Field(min_length=1)
    std: list[PositiveFloat] = Field(min_length=1)


class Pad(Strict):
    type: Literal["pad"]
    padding: NonNegInt | list[NonNegInt]
    value: Number = 0.0


class Resize(Strict):
    type: Literal["resize"]
    size: PosInt | tuple[PosInt, PosInt]


class RandomCrop(Strict):
    type: Literal["random_crop"]
    size: PosInt | tuple[PosInt, PosInt]
    padding: NonNegInt = 0


class RandomHorizontalFlip(Strict):
    type: Literal["random_horizontal_flip"]
    p: Probability = 0.5


TRANSFORMS = (Normalize, Pad, Resize, RandomCrop, RandomHorizontalFlip)
Transform = tagged(*TRANSFORMS)


class Split(Strict):
    val: Fraction | None = None
    test: Fraction | None = None
    stratify: bool = False
    seed: StrictInt | None = None


class DataSpec(Strict):
    source: Source
    preprocess: list[Preprocess] = []
    transforms: list[Transform] = []
    split: Split = Split()
    batch_size: PosInt = 32
    shuffle: bool = True
    num_workers: NonNegInt = 0


# --- train and export ---------------------------------------------------------------------

Metric = Literal["accuracy", "precision", "recall", "f1", "mse", "mae", "r2"]


class EarlyStopping(Strict):
    monitor: str = "val_loss"
    patience: PosInt = 5
    mode: Literal["min", "max"] = "min"
    min_delta: NonNegFloat = 0.0


def _device(value: Any) -> Any:
    if isinstance(value, str):
        ok = value in ("auto", "cpu", "cuda", "mps") or (
            value.startswith("cuda:") and value[5:].isdigit()
        )
        if not ok:
            from specc.errors import did_you_mean

            hint = did_you_mean(value, ["auto", "cpu", "cuda", "cuda:0", "mps"])
            raise ValueError(f"unknown device '{value}'{hint}; use auto, cpu, cuda, cuda:N or mps")
    return value


Device = Annotated[str, BeforeValidator(_device)]


class TrainSpec(Strict):
    epochs: PosInt = 10
    device: Device = "auto"
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    metrics: list[Metric] = []
    deterministic: bool = False
    early_stopping: EarlyStopping | None = None
    monitor: str = "val_loss"
    grad_clip: PositiveFloat | None = None
    log: list[Literal["tensorboard", "mlflow"]] = []


class OnnxSpec(Strict):
    opset: Annotated[StrictInt, Field(ge=17, le=23)] = 18
    include_preprocessing: bool = False


class ExportSpec(Strict):
    onnx: OnnxSpec | None = None
