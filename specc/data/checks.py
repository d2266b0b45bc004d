"""Agreement between the data and the model, checked before any training.

The per-sample shape the data gives (after preprocessing and transforms) must match
``model.input.shape``. The data is reshaped only where that cannot scramble it: a flat vector
may feed an image-shaped input and an image a flat input when the sizes agree, and size-1
dimensions may be dropped or added (a [1, 28, 28] MNIST image read as 28 steps of 28 features
by ``input: {shape: [28, 28]}``). No other reshape is guessed (a [32, 32, 3] channels-last
image against a [3, 32, 32] input is an error, not a silent scramble). The
first output's shape must fit the target: K units for K classes, 1 unit for a binary target,
k units for a k-column regression target.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from specc.data.problems import data_section, located
from specc.errors import SpecError
from specc.limits import data_limit, gigabytes
from specc.spec.sections import height_width

if TYPE_CHECKING:
    from specc.data.targets import Target
    from specc.spec.schema import Spec

__all__ = ["check_agreement", "reshape_ok", "transform_problems"]

INPUT_SHAPE = ("model", "input", "shape")


def reshape_ok(sample: list[int], wanted: list[int]) -> bool:
    """Whether data samples of shape ``sample`` may feed an input of shape ``wanted``."""
    if list(sample) == list(wanted):
        return True
    same_size = math.prod(sample) == math.prod(wanted)
    squeezed = [d for d in sample if d != 1] == [d for d in wanted if d != 1]
    return same_size and (len(sample) == 1 or len(wanted) == 1 or squeezed)


def check_agreement(
    spec: Spec, sample: list[int], target: Target, *, described: str
) -> list[SpecError]:
    """Every disagreement between the prepared data and the model, as located errors.

    Args:
        spec: the validated spec (its ``graph`` gives the output shape).
        sample: the per-sample shape of x after preprocessing and transforms.
        target: the encoded :class:`~specc.data.targets.Target`.
        described: how to name the data in messages (``the CSV gives 10 features after
            one_hot_encoder``, ``the mnist images are [1, 28, 28]``).
    """
    errors = []
    wanted = list(spec.model.input.shape)
    if not reshape_ok(sample, wanted):
        errors.append(
            located(
                spec,
                INPUT_SHAPE,
                f"model.input.shape is {wanted} but {described}",
                hint=_shape_hint(sample, wanted),
                code="E509",
            )
        )
    errors += _augment_problems(spec)
    errors += _output_problems(spec, target)
    return errors


def _shape_hint(sample: list[int], wanted: list[int]) -> str:
    if len(sample) == 3 and len(wanted) == 3 and sample[0] == wanted[0]:
        return "pad or resize the images in data.transforms, or change model.input.shape"
    return f"set model.input.shape to {list(sample)}"


def _augment_problems(spec) -> list[SpecError]:
    errors = []
    wanted = list(spec.model.input.shape)
    for i, step in enumerate(data_section(spec).transforms):
        if not step.augments:
            continue
        if len(wanted) != 3:
            errors.append(
                located(
                    spec,
                    ("data", "transforms", i),
                    f"{step.type} needs images [C, H, W], but model.input.shape is {wanted}",
                    code="E508",
                )
            )
        elif step.unit_pixels and not spec.data.source.lazy:
            errors.append(
                located(
                    spec,
                    ("data", "transforms", i),
                    f"{step.type} needs pixels "
                    "in [0, 1] before normalize: it is offered for the "
                    "image_folder source only",
                    code="E508",
                )
            )
        elif step.crops:
            crop = step.size  # type: ignore[attr-defined]  # every ``crops`` member has one
            size = list(height_width(crop))
            image = _augmented_size(spec)
            errors += _padded_batch_problems(spec, i, wanted[0], image)
            if size != image:
                errors.append(
                    located(
                        spec,
                        ("data", "transforms", i, "size"),
                        f"{step.type} "
                        f"size {size} must equal the image size {image} "
                        "(validation and test images are not cropped)",
                        hint="pad with the crop's padding argument instead"
                        if "padding" in type(step).model_fields
                        else None,
                        code="E508",
                    )
                )
    return errors


def _padded_batch_problems(spec: Spec, i: int, channels: int, image: list[int]) -> list[SpecError]:
    """A crop's ``padding`` that makes one padded training batch (float32) larger than the
    data limit: a located error before any batch is allocated."""
    data = data_section(spec)
    pad = getattr(data.transforms[i], "padding", 0)
    batch = data.batch_size
    nbytes = 4 * batch * channels * (image[0] + 2 * pad) * (image[1] + 2 * pad)
    limit = data_limit()
    if not pad or nbytes <= limit:
        return []
    return [
        located(
            spec,
            ("data", "transforms", i, "padding"),
            f"padding {pad} makes a training batch of {batch} images "
            f"[{channels}, {image[0] + 2 * pad}, {image[1] + 2 * pad}] hold {gigabytes(nbytes)}, "
            f"more than the {gigabytes(limit)} specc allows for data",
            code="E904",
        )
    ]


def _augmented_size(spec) -> list[int]:
    """[H, W] of the images augmentation sees: the input's, or for image_folder (augmented
    before padding) the decoded size."""
    if spec.data.source.lazy:
        from specc.data.image_source import decode_size

        return list(decode_size(spec))
    return list(spec.model.input.shape)[1:]


def _output_problems(spec, target) -> list[SpecError]:
    graph = spec.graph
    name = graph.outputs[0]
    node = graph.node(name) if name != "input" else None
    where = ("model", "layers", node.index) if node else INPUT_SHAPE
    shape = list(graph.output_shapes[0])
    label = f"the output layer '{name}'"
    if target.task == "regression":
        width = target.y.shape[1]
        if math.prod(shape) != width:
            return [
                located(
                    spec,
                    where,
                    f"{label} gives {shape} per sample but the target "
                    f"has {width} column{'s' if width != 1 else ''}",
                    code="E509",
                )
            ]
        return []
    if len(shape) != 1:
        return [
            located(
                spec,
                where,
                f"{label} gives {shape} per sample; a class target "
                "needs one score per class ([K]) per sample",
                code="E509",
            )
        ]
    return _class_problems(spec, where, label, shape[0], target)


def _class_problems(spec, where: tuple, label: str, units: int, target) -> list[SpecError]:
    loss = spec.loss.type if spec.loss is not None else None
    if target.task == "binary":
        if units != 1:
            who = loss or "a binary target"
            return [
                located(
                    spec,
                    where,
                    f"{who} needs 1 output unit for a binary target, but {label} has {units} units",
                    hint="use 1 unit, or cross_entropy with 2 units",
                    code="E509",
                )
            ]
        return []
    if target.y.size and int(target.y.max()) >= units:
        return [
            located(
                spec,
                where,
                f"the target has class labels up to {int(target.y.max())}"
                f" but {label} has {units} units (classes 0..{units - 1})",
                code="E509",
            )
        ]
    if units != target.num_classes:
        return [
            located(
                spec,
                where,
                f"{label} has {units} units but the target has {target.num_classes} classes",
                code="E509",
            )
        ]
    return []


def transform_problems(spec: Spec, sample: list[int]) -> list[SpecError]:
    """Stateless transforms that cannot apply to samples of shape ``sample``; checking stops
    at a spatial step that cannot apply (the shape after it is unknown)."""
    errors, shape = [], list(sample)
    for i, step in enumerate(data_section(spec).transforms):
        if step.augments:
            continue
        problems = step.shape_problems(shape)
        for field, message in problems:
            key = ("data", "transforms", i, *([field] if field else []))
            errors.append(located(spec, key, message, code="E508"))
        if problems and step.spatial:
            return errors
        shape = step.output_shape(shape)
    return errors
