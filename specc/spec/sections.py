"""Pydantic models of the non-model sections: loss, optimizer, scheduler, data, train, export.

Names are torch's (snake_case) and scikit-learn's; every model forbids unknown keys. A
section written as a bare name (``loss: cross_entropy``) means that type with no arguments.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt
from pydantic_core import PydanticCustomError

from specc.ops.base import NonNegInt, Number, PosInt, PositiveFloat, Probability

NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]


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
    inner: Any = Annotated[  # a runtime value for pydantic, not a static alias
        members[0] if len(members) == 1 else _union(members), Field(discriminator="type")
    ]
    return Annotated[
        inner,
        BeforeValidator(bare_name, json_schema_input_type=with_bare(inner, bare_types(members))),
    ]


def with_bare(inner: Any, names: tuple[str, ...]) -> Any:
    """``inner | Literal[names]`` (just ``inner`` when no name may be written bare)."""
    return _union((inner, Literal[names])) if names else inner


def _union(members: tuple[Any, ...]) -> Any:
    from typing import Union

    return Union[members]  # noqa: UP007 - built from a runtime tuple


M = typing.TypeVar("M", bound=BaseModel)


def members(base: type[M]) -> tuple[type[M], ...]:
    """The members of a closed family: every subclass of ``base`` (at any depth) that
    declares its ``type``, in the order they are defined (the schema's order)."""
    found: list[type[M]] = []
    for sub in base.__subclasses__():
        if "type" in sub.__annotations__:
            found.append(sub)
        found += members(sub)
    return tuple(found)


def type_name(member: type[BaseModel]) -> str:
    """The ``type`` a family member is written as (``csv``, ``random_crop``)."""
    return typing.get_args(member.model_fields["type"].annotation)[0]


def member_named(family: Iterable[type[M]], name: str) -> type[M]:
    """The member of ``family`` written as ``name`` (KeyError when there is none)."""
    for member in family:
        if type_name(member) == name:
            return member
    raise KeyError(name)


# --- closed families: losses, optimizers, schedulers -------------------------------------


class Family(Strict):
    """A member of a closed family (a loss, an optimizer, a scheduler).

    The class is the one place that knows its torch class and how its fields reach torch:
    every field but ``type`` and :attr:`not_torch` is a torch keyword argument of the same
    name. The trainer, the ``train.py`` emitter, the exporter and the checks all read it here.
    """

    #: the torch class, without its module (``CrossEntropyLoss``, ``AdamW``, ``StepLR``).
    torch_class: ClassVar[str]
    #: fields that are specc's own, not torch arguments.
    not_torch: ClassVar[tuple[str, ...]] = ()
    if TYPE_CHECKING:  # each member declares its own ``Literal`` type field
        type: str

    def torch_kwargs(self) -> dict[str, Any]:
        """Every torch keyword argument, by torch's name, in field order."""
        return {
            name: getattr(self, name)
            for name in type(self).model_fields
            if name != "type" and name not in self.not_torch
        }

    def written_kwargs(self, skip: Iterable[str] = ()) -> dict[str, Any]:
        """The torch keyword arguments that are required or differ from their default."""
        fields = type(self).model_fields
        return {
            name: value
            for name, value in self.torch_kwargs().items()
            if name not in skip and (fields[name].is_required() or value != fields[name].default)
        }


# --- losses -------------------------------------------------------------------------------

Reduction = Literal["mean", "sum"]
Task = Literal["multiclass", "binary", "regression"]


class LossSection(Family):
    """A loss: also the task its targets imply and how its model output reads.

    ``output_kind`` tells prediction how to turn the first output into answers: ``logits``
    (softmax over classes), ``log_probabilities`` (exp), ``logit`` (sigmoid), ``probability``
    (as is) or ``values`` (regression). ``threshold`` is the binary decision boundary.
    """

    task: ClassVar[Task]
    output_kind: ClassVar[str]
    #: torch arguments given as tensors (written as lists in the spec).
    tensor_args: ClassVar[tuple[str, ...]] = ()
    threshold: ClassVar[float] = 0.0
    if TYPE_CHECKING:  # every member declares it (after its own fields, as torch orders them)
        reduction: Reduction

    def output_problem(self, last_kind: str | None, feeder: str) -> str | None:
        """What is wrong with feeding this loss from a ``last_kind`` layer, if anything."""
        return None


class _Regression(LossSection):
    task = "regression"
    output_kind = "values"


class MSELoss(_Regression):
    type: Literal["mse"]
    reduction: Reduction = "mean"
    torch_class = "MSELoss"


class L1Loss(_Regression):
    type: Literal["l1"]
    reduction: Reduction = "mean"
    torch_class = "L1Loss"


class SmoothL1Loss(_Regression):
    type: Literal["smooth_l1"]
    beta: PositiveFloat = 1.0
    reduction: Reduction = "mean"
    torch_class = "SmoothL1Loss"


class HuberLoss(_Regression):
    type: Literal["huber"]
    delta: PositiveFloat = 1.0
    reduction: Reduction = "mean"
    torch_class = "HuberLoss"


class BCEWithLogitsLoss(LossSection):
    type: Literal["bce_with_logits"]
    pos_weight: PositiveFloat | list[PositiveFloat] | None = None
    reduction: Reduction = "mean"
    torch_class = "BCEWithLogitsLoss"
    task = "binary"
    output_kind = "logit"
    tensor_args = ("pos_weight",)

    def output_problem(self, last_kind: str | None, feeder: str) -> str | None:
        if last_kind != "sigmoid":
            return None
        return (
            f"layer '{feeder}' feeds bce_with_logits through sigmoid; bce_with_logits "
            "applies the sigmoid itself, so remove the sigmoid layer (or use the bce loss)"
        )


class BCELoss(LossSection):
    type: Literal["bce"]
    reduction: Reduction = "mean"
    torch_class = "BCELoss"
    task = "binary"
    output_kind = "probability"
    threshold = 0.5

    def output_problem(self, last_kind: str | None, feeder: str) -> str | None:
        if last_kind == "sigmoid":
            return None
        return (
            "bce expects probabilities in [0, 1]: end the model with a sigmoid layer, or "
            "use bce_with_logits on raw scores (more stable)"
        )


class CrossEntropyLoss(LossSection):
    type: Literal["cross_entropy"]
    weight: list[PositiveFloat] | None = None
    label_smoothing: Probability = 0.0
    reduction: Reduction = "mean"
    torch_class = "CrossEntropyLoss"
    task = "multiclass"
    output_kind = "logits"
    tensor_args = ("weight",)

    def output_problem(self, last_kind: str | None, feeder: str) -> str | None:
        if last_kind not in ("softmax", "logsoftmax"):
            return None
        return (
            f"layer '{feeder}' feeds cross_entropy through {last_kind}; cross_entropy "
            "applies log-softmax itself (CrossEntropyLoss = LogSoftmax + NLLLoss), so "
            f"remove the {last_kind} layer"
        )


class NLLLoss(LossSection):
    type: Literal["nll"]
    weight: list[PositiveFloat] | None = None
    reduction: Reduction = "mean"
    torch_class = "NLLLoss"
    task = "multiclass"
    output_kind = "log_probabilities"
    tensor_args = ("weight",)

    def output_problem(self, last_kind: str | None, feeder: str) -> str | None:
        if last_kind == "logsoftmax":
            return None
        return (
            "nll expects log-probabilities: end the model with a logsoftmax layer, or use "
            "cross_entropy on raw scores"
        )


LOSSES = members(LossSection)
if TYPE_CHECKING:  # pydantic reads the tagged union of the members; mypy, their base
    Loss: TypeAlias = LossSection
else:
    Loss = tagged(*LOSSES)


def task_of(loss: LossSection | None) -> Task:
    """The task a spec's loss implies; a spec without a loss is a regression model."""
    return "regression" if loss is None else loss.task


# --- optimizers ---------------------------------------------------------------------------


class OptimizerSection(Family):
    """An optimizer: ``torch.optim.<torch_class>(params, **torch_kwargs())``.

    ``momentum_arg`` names the momentum-like argument a cycling scheduler may drive (torch's
    ``momentum`` or ``betas``), or is None when the optimizer has none.
    """

    momentum_arg: ClassVar[str | None] = "momentum"


class SGD(OptimizerSection):
    type: Literal["sgd"]
    lr: PositiveFloat = 0.01
    momentum: NonNegFloat = 0.0
    dampening: NonNegFloat = 0.0
    nesterov: bool = False
    weight_decay: NonNegFloat = 0.0
    torch_class = "SGD"


class Adam(OptimizerSection):
    type: Literal["adam"]
    lr: PositiveFloat = 0.001
    betas: tuple[Probability, Probability] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: NonNegFloat = 0.0
    amsgrad: bool = False
    torch_class = "Adam"
    momentum_arg = "betas"


class AdamW(OptimizerSection):
    type: Literal["adamw"]
    lr: PositiveFloat = 0.001
    betas: tuple[Probability, Probability] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: NonNegFloat = 0.01
    amsgrad: bool = False
    torch_class = "AdamW"
    momentum_arg = "betas"


class RMSprop(OptimizerSection):
    type: Literal["rmsprop"]
    lr: PositiveFloat = 0.01
    alpha: Probability = 0.99
    eps: PositiveFloat = 1e-8
    momentum: NonNegFloat = 0.0
    centered: bool = False
    weight_decay: NonNegFloat = 0.0
    torch_class = "RMSprop"


class Adagrad(OptimizerSection):
    type: Literal["adagrad"]
    lr: PositiveFloat = 0.01
    lr_decay: NonNegFloat = 0.0
    eps: PositiveFloat = 1e-10
    weight_decay: NonNegFloat = 0.0
    torch_class = "Adagrad"
    momentum_arg = None


OPTIMIZERS = members(OptimizerSection)
if TYPE_CHECKING:  # pydantic reads the tagged union of the members; mypy, their base
    Optimizer: TypeAlias = OptimizerSection
else:
    Optimizer = tagged(*OPTIMIZERS)

# --- schedulers ---------------------------------------------------------------------------

#: what a scheduler argument may be derived from: the epoch count, or all optimizer steps.
Derived = Literal["epochs", "total_steps"]


class SchedulerSection(Family):
    """A scheduler: ``torch.optim.lr_scheduler.<torch_class>(optimizer, ...)``.

    ``steps`` says when it steps: ``epoch`` (after validation), ``batch`` (after each
    optimizer step) or ``metric`` (after validation, given its ``monitor``'s value).
    ``derived`` maps a torch argument to what it defaults to when the spec leaves it unset.
    """

    steps: ClassVar[Literal["epoch", "batch", "metric"]] = "epoch"
    derived: ClassVar[dict[str, Derived]] = {}
    #: whether it cycles the optimizer's momentum (which the optimizer must then have)
    cycles_momentum: ClassVar[bool] = False

    def derived_kwargs(self, values: dict[Derived, Any]) -> dict[str, Any]:
        """The derived arguments: written values where given, else from ``values``."""
        return {
            name: getattr(self, name, None) or values[source]
            for name, source in self.derived.items()
        }

    def scheduler_kwargs(self, values: dict[Derived, Any]) -> dict[str, Any]:
        """Every keyword argument of the torch scheduler, derived ones first."""
        rest = {k: v for k, v in self.torch_kwargs().items() if k not in self.derived}
        return {**self.derived_kwargs(values), **rest}


class StepLR(SchedulerSection):
    type: Literal["step_lr"]
    step_size: PosInt
    gamma: PositiveFloat = 0.1
    torch_class = "StepLR"


class MultiStepLR(SchedulerSection):
    type: Literal["multi_step_lr"]
    milestones: list[PosInt]
    gamma: PositiveFloat = 0.1
    torch_class = "MultiStepLR"


class ExponentialLR(SchedulerSection):
    type: Literal["exponential_lr"]
    gamma: PositiveFloat
    torch_class = "ExponentialLR"


class CosineAnnealing(SchedulerSection):
    type: Literal["cosine_annealing"]
    T_max: PosInt | None = None  # torch's argument name; default: train.epochs
    eta_min: NonNegFloat = 0.0
    torch_class = "CosineAnnealingLR"
    derived: ClassVar[dict[str, Derived]] = {"T_max": "epochs"}


class OneCycle(SchedulerSection):
    type: Literal["one_cycle"]
    max_lr: PositiveFloat
    pct_start: Fraction = 0.3
    anneal_strategy: Literal["cos", "linear"] = "cos"
    div_factor: PositiveFloat = 25.0
    final_div_factor: PositiveFloat = 1e4
    torch_class = "OneCycleLR"
    steps = "batch"
    cycles_momentum = True
    derived: ClassVar[dict[str, Derived]] = {"total_steps": "total_steps"}


class ReduceLROnPlateau(SchedulerSection):
    type: Literal["reduce_lr_on_plateau"]
    mode: Literal["min", "max"] = "min"
    factor: Fraction = 0.1
    patience: NonNegInt = 10
    threshold: NonNegFloat = 1e-4
    min_lr: NonNegFloat = 0.0
    monitor: str = "val_loss"
    torch_class = "ReduceLROnPlateau"
    not_torch = ("monitor",)
    steps = "metric"


def schedule_problem(
    optimizer: OptimizerSection | None, scheduler: SchedulerSection | None
) -> str | None:
    """Why ``scheduler`` cannot drive ``optimizer``, if it cannot."""
    if scheduler is None or optimizer is None or not scheduler.cycles_momentum:
        return None
    if optimizer.momentum_arg is not None:
        return None
    return (
        f"{scheduler.type} cycles the optimizer's momentum, but {optimizer.type} has no "
        "momentum or betas; use sgd, adam, adamw or rmsprop, or another scheduler"
    )


SCHEDULERS = members(SchedulerSection)
if TYPE_CHECKING:  # pydantic reads the tagged union of the members; mypy, their base
    Scheduler: TypeAlias = SchedulerSection
else:
    Scheduler = tagged(*SCHEDULERS)

# --- data sources -------------------------------------------------------------------------


class SourceSection(Strict):
    """A data source (``data.source``): read by a reader in :mod:`specc.data.sources`, or,
    when ``lazy``, listed and decoded batch by batch by specc's DataLoader.

    ``scale_divisor`` brings raw values to [0, 1] (255 for 8-bit pixels; 1: as they are).
    ``train_py_note`` says why the standalone train.py has no reader for it (None: it has one).
    """

    lazy: ClassVar[bool] = False
    train_py_note: ClassVar[str | None] = None
    scale_divisor: ClassVar[int] = 1


class InlineSource(SourceSection):
    """Data written in the spec: ``x`` (a list of samples) and ``y`` (targets)."""

    type: Literal["inline"]
    x: list[Any] = Field(min_length=1)
    y: list[Any] = Field(min_length=1)


class CSVSource(SourceSection):
    type: Literal["csv"]
    path: str
    target: str
    features: list[str] | None = None
    delimiter: str = ","
    labels: list[str] | None = None


@dataclass(frozen=True)
class SklearnDataset:
    """One of scikit-learn's bundled datasets: its loader in ``sklearn.datasets`` and, for
    an image set, the image shape (C, H, W) and the pixel range's top."""

    loader: str
    image_shape: tuple[int, ...] | None = None
    scale_divisor: int = 1


#: the scikit-learn datasets the sklearn source offers (the one list of them)
SKLEARN_DATASETS = {
    "digits": SklearnDataset("load_digits", (1, 8, 8), 16),
    "iris": SklearnDataset("load_iris"),
    "wine": SklearnDataset("load_wine"),
    "breast_cancer": SklearnDataset("load_breast_cancer"),
    "diabetes": SklearnDataset("load_diabetes"),
}


class SklearnSource(SourceSection):
    type: Literal["sklearn"]
    name: Literal[tuple(SKLEARN_DATASETS)]  # type: ignore[valid-type]
    flat: bool = False

    @property
    def dataset(self) -> SklearnDataset:
        return SKLEARN_DATASETS[self.name]

    @property
    def image_shape(self) -> tuple[int, ...] | None:
        """(C, H, W) when the samples are images (not ``flat``), else None (a table)."""
        return None if self.flat else self.dataset.image_shape

    @property
    def scale_divisor(self) -> int:  # type: ignore[override]
        return self.dataset.scale_divisor if self.image_shape else 1


class MNISTSource(SourceSection):
    type: Literal["mnist"]
    path: str
    limit: PosInt | None = None

    scale_divisor = 255


class NPZSource(SourceSection):
    type: Literal["npz"]
    path: str
    x_key: str = "x"
    y_key: str = "y"


class TorchvisionSource(SourceSection):
    type: Literal["torchvision"]
    name: str
    root: str = "data"
    download: bool = False

    scale_divisor = 255
    train_py_note = "it is read through torchvision's datasets; train it with specc train"


IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "bmp", "webp")


class ImageFolderSource(SourceSection):
    """Images in ``path/<class name>/<file>``, decoded lazily (see specc.data.images)."""

    type: Literal["image_folder"]
    path: str
    val_path: str | None = None
    test_path: str | None = None
    extensions: list[Annotated[str, Field(pattern=r"^\.?[A-Za-z0-9]+$")]] = Field(
        default=list(IMAGE_EXTENSIONS), min_length=1
    )
    on_bad_file: Literal["error", "skip"] = "error"
    lazy = True
    train_py_note = (
        "its files are decoded lazily by specc's DataLoader workers; train it with specc train"
    )

    scale_divisor = 255


SOURCES = members(SourceSection)
if TYPE_CHECKING:  # the members share few fields: mypy sees the union (tests check it is SOURCES)
    Source: TypeAlias = (
        InlineSource
        | CSVSource
        | SklearnSource
        | MNISTSource
        | NPZSource
        | TorchvisionSource
        | ImageFolderSource
    )
else:
    Source = tagged(*SOURCES)

# --- preprocessing steps ------------------------------------------------------------------

Columns = list[str] | None


class PreprocessStep(Strict):
    """A scikit-learn transformer, fitted on the training split: ``sklearn_class`` (its
    module and name) built with :meth:`estimator_kwargs`, by specc and by train.py alike.

    Without ``columns``, an ``encoder`` takes every column that is not numeric, any other
    step every numeric one. ``numeric``: the step needs numbers in its columns. ``folds``:
    how the exporter folds the fitted step into the graph (specc.export.fold): ``affine``
    (``x * a + b`` per column), ``impute`` (NaN -> the fitted value), None: it cannot.
    """

    if TYPE_CHECKING:  # each member declares its own ``Literal`` type field
        type: str

    sklearn_class: ClassVar[str]
    encoder: ClassVar[bool] = False
    numeric: ClassVar[bool] = False
    folds: ClassVar[Literal["affine", "impute"] | None] = None

    @property
    def needs_numbers(self) -> bool:
        return self.numeric

    def estimator_kwargs(self) -> dict[str, Any]:
        """The constructor arguments that differ from scikit-learn's defaults."""
        return {}

    def fitted_state(self, est: Any) -> dict[str, Any]:
        """What replay needs of the fitted estimator (numpy values; made JSON-able later)."""
        return {}

    def output_names(self, est: Any, columns: list[str]) -> list[str]:
        """The names of the columns the fitted step gives for ``columns``."""
        return list(columns)


class SimpleImputer(PreprocessStep):
    type: Literal["simple_imputer"]
    strategy: Literal["mean", "median", "most_frequent", "constant"] = "mean"
    fill_value: Number | str | None = None
    columns: Columns = None
    sklearn_class = "sklearn.impute.SimpleImputer"
    folds = "impute"

    @property
    def needs_numbers(self) -> bool:
        return self.strategy in ("mean", "median")

    def estimator_kwargs(self) -> dict[str, Any]:
        fill = {} if self.fill_value is None else {"fill_value": self.fill_value}
        return {"strategy": self.strategy, **fill, "keep_empty_features": True}

    def fitted_state(self, est: Any) -> dict[str, Any]:
        return {"statistics": est.statistics_}


class OneHotEncoder(PreprocessStep):
    type: Literal["one_hot_encoder"]
    columns: Columns = None
    drop: Literal["first", "if_binary"] | None = None
    handle_unknown: Literal["error", "ignore"] = "ignore"
    sklearn_class = "sklearn.preprocessing.OneHotEncoder"
    encoder = True

    def estimator_kwargs(self) -> dict[str, Any]:
        drop = {} if self.drop is None else {"drop": self.drop}
        return {**drop, "handle_unknown": self.handle_unknown, "sparse_output": False}

    def fitted_state(self, est: Any) -> dict[str, Any]:
        return {
            "categories": list(est.categories_),
            "drop": est.drop_idx_,
            "handle_unknown": self.handle_unknown,
        }

    def output_names(self, est: Any, columns: list[str]) -> list[str]:
        names = []
        for j, col in enumerate(columns):
            drop = None if est.drop_idx_ is None else est.drop_idx_[j]
            names += [f"{col}_{cat}" for k, cat in enumerate(est.categories_[j]) if k != drop]
        return names


class OrdinalEncoder(PreprocessStep):
    type: Literal["ordinal_encoder"]
    columns: Columns = None
    sklearn_class = "sklearn.preprocessing.OrdinalEncoder"
    encoder = True

    def estimator_kwargs(self) -> dict[str, Any]:
        return {"handle_unknown": "use_encoded_value", "unknown_value": -1}

    def fitted_state(self, est: Any) -> dict[str, Any]:
        return {"categories": list(est.categories_)}


class StandardScaler(PreprocessStep):
    type: Literal["standard_scaler"]
    columns: Columns = None
    with_mean: bool = True
    with_std: bool = True
    sklearn_class = "sklearn.preprocessing.StandardScaler"
    numeric = True
    folds = "affine"

    def estimator_kwargs(self) -> dict[str, Any]:
        return {k: False for k in ("with_mean", "with_std") if not getattr(self, k)}

    def fitted_state(self, est: Any) -> dict[str, Any]:
        return {"mean": est.mean_ if self.with_mean else None, "scale": est.scale_}


class MinMaxScaler(PreprocessStep):
    type: Literal["min_max_scaler"]
    columns: Columns = None
    feature_range: tuple[Number, Number] = (0.0, 1.0)
    sklearn_class = "sklearn.preprocessing.MinMaxScaler"
    numeric = True
    folds = "affine"

    def estimator_kwargs(self) -> dict[str, Any]:
        low, high = self.feature_range
        return {} if (low, high) == (0, 1) else {"feature_range": (low, high)}

    def fitted_state(self, est: Any) -> dict[str, Any]:
        return {"scale": est.scale_, "min": est.min_}


PREPROCESS = members(PreprocessStep)
if TYPE_CHECKING:  # pydantic reads the tagged union of the members; mypy, their base
    Preprocess: TypeAlias = PreprocessStep
else:
    Preprocess = tagged(*PREPROCESS)

# --- transforms and augmentations ---------------------------------------------------------


def height_width(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """(H, W) of a ``size`` argument: one number means a square."""
    return (size, size) if isinstance(size, int) else (size[0], size[1])


class TransformStep(Strict):
    """A ``data.transforms`` step: stateless (applied once to every split, replayed at
    predict time) or, when ``augments``, a random change of training batches (B, C, H, W).

    ``crops``: the augmentation's ``size`` must equal the image size (validation images
    are not cropped). ``unit_pixels``: it needs pixels in [0, 1], before ``normalize``,
    which only the image_folder source gives. ``spatial``: a stateless step on the last
    two dimensions, so the samples must be images. ``decoded``: the image_folder source
    applies it while decoding each file. ``folds``: ``affine`` when the exporter can fold
    it into the graph as ``x * a + b`` per column (see specc.export.fold).
    """

    augments: ClassVar[bool] = False
    crops: ClassVar[bool] = False
    unit_pixels: ClassVar[bool] = False
    spatial: ClassVar[bool] = False
    decoded: ClassVar[bool] = False
    folds: ClassVar[Literal["affine"] | None] = None
    if TYPE_CHECKING:  # each member declares its own ``Literal`` type field
        type: str

    def output_shape(self, shape: list[int]) -> list[int]:
        """The per-sample shape after this stateless step, from ``shape`` before it.

        Raises:
            ValueError: the step's arguments cannot apply (see :meth:`shape_problems`).
        """
        return list(shape)

    def shape_problems(self, shape: list[int]) -> list[tuple[str | None, str]]:
        """``(field, message)`` for each reason the step cannot apply to samples of
        ``shape`` (field None: the step as a whole)."""
        if self.spatial and len(shape) < 2:
            return [(None, f"{self.type} needs images, but the samples have shape {shape}")]
        return []


class Normalize(TransformStep):
    """``(x - mean[c]) / std[c]`` over the channel of an image, the feature of a table."""

    type: Literal["normalize"]
    mean: list[Number] = Field(min_length=1)
    std: list[PositiveFloat] = Field(min_length=1)
    folds = "affine"

    def shape_problems(self, shape: list[int]) -> list[tuple[str | None, str]]:
        channels = shape[0] if shape else 1
        return [
            (
                key,
                f"normalize has {len(values)} {key} values but the samples have "
                f"{channels} channels (shape {shape})",
            )
            for key, values in (("mean", self.mean), ("std", self.std))
            if len(values) not in (1, channels)
        ]


def _pad_sides(value: Any) -> Any:
    if isinstance(value, list) and len(value) not in (1, 2, 4):
        raise ValueError(
            f"pad takes 1, 2 or 4 numbers (all sides; left/right and top/bottom; left, top, "
            f"right, bottom), not {len(value)}"
        )
    return value


class Pad(TransformStep):
    """Constant padding of the last two dimensions, as torchvision: one number pads all
    sides, two pad left/right and top/bottom, four pad left, top, right, bottom."""

    type: Literal["pad"]
    padding: Annotated[NonNegInt | list[NonNegInt], AfterValidator(_pad_sides)]
    value: Number = 0.0
    spatial = True

    def sides(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom)."""
        p = [self.padding] if isinstance(self.padding, int) else list(self.padding)
        if len(p) not in (1, 2, 4):
            raise ValueError(f"pad takes 1, 2 or 4 numbers, not {len(p)}")
        return (p[0], p[0], p[0], p[0]) if len(p) == 1 else (p[0], p[1], p[-2], p[-1])

    def output_shape(self, shape: list[int]) -> list[int]:
        left, top, right, bottom = self.sides()
        return [*shape[:-2], shape[-2] + top + bottom, shape[-1] + left + right]

    def shape_problems(self, shape: list[int]) -> list[tuple[str | None, str]]:
        problems = super().shape_problems(shape)
        counts = (1, 2, 4)
        if not problems and not isinstance(self.padding, int) and len(self.padding) not in counts:
            message = "pad takes 1, 2 or 4 numbers (all sides; left/right and top/bottom; "
            problems.append(("padding", message + "left, top, right, bottom)"))
        return problems


class Resize(TransformStep):
    """Bilinear resize of the last two dimensions (no antialiasing, as
    ``torch.nn.functional.interpolate``); one size means a square."""

    type: Literal["resize"]
    size: PosInt | tuple[PosInt, PosInt]
    spatial = True
    decoded = True

    def output_shape(self, shape: list[int]) -> list[int]:
        return [*shape[:-2], *height_width(self.size)]


class RandomCrop(TransformStep):
    type: Literal["random_crop"]
    size: PosInt | tuple[PosInt, PosInt]
    padding: NonNegInt = 0
    augments = True
    crops = True


class RandomHorizontalFlip(TransformStep):
    type: Literal["random_horizontal_flip"]
    p: Probability = 0.5
    augments = True


def _ordered(value: Any) -> Any:
    if isinstance(value, tuple) and value[0] > value[1]:
        raise ValueError(f"a [min, max] range needs min <= max, not {list(value)}")
    return value


Range = Annotated[NonNegFloat | tuple[NonNegFloat, NonNegFloat], AfterValidator(_ordered)]
Degrees = Annotated[NonNegFloat | tuple[float, float], AfterValidator(_ordered)]
AreaFraction = Annotated[float, Field(gt=0, le=1)]


class RandomResizedCrop(TransformStep):
    """torchvision's RandomResizedCrop: a random area ``scale`` and aspect ``ratio``."""

    type: Literal["random_resized_crop"]
    size: PosInt | tuple[PosInt, PosInt]
    scale: Annotated[tuple[AreaFraction, AreaFraction], AfterValidator(_ordered)] = (0.08, 1.0)
    ratio: Annotated[tuple[PositiveFloat, PositiveFloat], AfterValidator(_ordered)] = (3 / 4, 4 / 3)
    augments = True
    crops = True


class RandomRotation(TransformStep):
    """A uniform angle in ``[-degrees, degrees]`` (or ``[min, max]``); corners get ``fill``."""

    type: Literal["random_rotation"]
    degrees: Degrees
    fill: Number = 0.0
    augments = True


class ColorJitter(TransformStep):
    """Brightness, contrast, saturation factors uniform in ``[max(0, 1 - v), 1 + v]``
    (or ``[min, max]``), applied in that order to pixels in [0, 1]."""

    type: Literal["color_jitter"]
    brightness: Range = 0.0
    contrast: Range = 0.0
    saturation: Range = 0.0
    augments = True
    unit_pixels = True


TRANSFORMS = members(TransformStep)
if TYPE_CHECKING:  # pydantic reads the tagged union of the members; mypy, their base
    Transform: TypeAlias = TransformStep
else:
    Transform = tagged(*TRANSFORMS)


class Split(Strict):
    val: Fraction | None = None
    test: Fraction | None = None
    stratify: bool = False
    seed: Annotated[StrictInt, Field(ge=0, lt=2**32)] | None = None


class DataSpec(Strict):
    source: Source
    preprocess: list[Preprocess] = []
    transforms: list[Transform] = []
    split: Split = Split()
    batch_size: PosInt = 32
    shuffle: bool = True
    num_workers: NonNegInt | None = None  # None: 0, or up to 4 for image_folder


# --- train and export ---------------------------------------------------------------------


Metric = Literal["accuracy", "precision", "recall", "f1", "mse", "mae", "r2"]


@dataclass(frozen=True)
class MetricInfo:
    """An epoch metric: the targets it scores, whether lower or higher is better, and
    whether the standalone train.py computes it too (and so may monitor it)."""

    task: Literal["classification", "regression"]
    better: Literal["min", "max"]
    in_train_py: bool = False


#: the metrics ``train.metrics`` may name (scored in specc.train.metrics)
METRICS: dict[Metric, MetricInfo] = {
    "accuracy": MetricInfo("classification", "max", in_train_py=True),
    "precision": MetricInfo("classification", "max"),
    "recall": MetricInfo("classification", "max"),
    "f1": MetricInfo("classification", "max"),
    "mse": MetricInfo("regression", "min"),
    "mae": MetricInfo("regression", "min"),
    "r2": MetricInfo("regression", "max"),
}


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
            raise PydanticCustomError(
                "unknown_device",
                f"unknown device '{value}'{hint}; use auto, cpu, cuda, cuda:N or mps",
            )
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
