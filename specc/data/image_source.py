"""The ``image_folder`` source: list and check the files, split them, describe the decoding.

``DIR/<class name>/<file>``: the class names in sorted order are the classes (index 0, 1, ...).
``val_path`` / ``test_path`` name folders of the same layout (their class folders must be
classes of ``path``); otherwise ``data.split`` splits the files of ``path`` (seeded,
stratified when asked), as for every other source. Nothing is decoded here: the splits are
:class:`~specc.data.image_split.ImageSplit` lists of files, decoded in DataLoader workers.

Every file is checked (:func:`specc.data.images.check_file`) before training; a bad file is a
one-line error naming it (exit 1), or, with ``on_bad_file: skip``, left out and counted
(``PreparedData.notes["skipped_files"]``, written to ``summary.json``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from specc.data.checks import check_agreement, transform_problems
from specc.data.images import Listing, Recipe, inspect, list_folder
from specc.data.pipeline import PreparedData, to_json_dict
from specc.data.problems import data_section, listing, raise_all, raise_io, raise_located, where
from specc.data.sources import RawData
from specc.data.split import split_indices
from specc.data.targets import encode_target, infer_task
from specc.data.transforms import transformed_shape
from specc.spec.sections import ImageFolderSource

if TYPE_CHECKING:
    from specc.data.image_split import ImageSplit
    from specc.data.targets import Target
    from specc.spec.schema import Spec

__all__ = ["decode_size", "prepare_images", "recipe_of"]

SOURCE = ("data", "source")
INPUT_SHAPE = ("model", "input", "shape")
SHOWN = 5  # bad files named in a message
PARALLEL_FROM = 20_000  # files: from this many, checked in worker processes
PROCESSES = 4


def _image_source(spec: Spec) -> ImageFolderSource:
    """``data.source``, which the callers here were chosen for: an image_folder source."""
    source = data_section(spec).source
    if not isinstance(source, ImageFolderSource):
        raise TypeError(f"an image_folder source is needed, not {type(source).__name__}")
    return source


def decode_size(spec: Spec) -> tuple[int, int]:
    """(H, W) of decoded images: the size a ``decoded`` step (``resize``) gives, else the
    model input's size less what the ``pad`` steps add (so that padding gives the input size)."""
    transforms = data_section(spec).transforms
    for step in transforms:
        if step.decoded:
            height, width = step.output_shape([0, 0])
            return height, width
    shape = list(spec.model.input.shape)
    grown = transformed_shape([t.model_dump() for t in transforms if t.spatial], [0, 0])
    return shape[-2] - grown[-2], shape[-1] - grown[-1]


def recipe_of(spec: Spec) -> Recipe:
    """How this spec's images are decoded (the model's channels, :func:`decode_size`)."""
    shape = list(spec.model.input.shape)
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise_located(
            spec,
            INPUT_SHAPE,
            f"the image_folder source gives images [C, H, W] with "
            f"1 (grey) or 3 (RGB) channels, but model.input.shape is {shape}",
            code="E509",
        )
    size = decode_size(spec)
    if min(size) < 1:
        raise_located(
            spec,
            ("data", "transforms"),
            f"the pad steps leave decoded images of "
            f"size {list(size)} for model.input.shape {shape}",
            code="E508",
        )
    fit = "exact" if any(t.decoded for t in data_section(spec).transforms) else "cover"
    return Recipe("L" if shape[0] == 1 else "RGB", size, fit)


def _folder(spec: Spec, spec_dir: Path, key: str) -> Path:
    folder = spec_dir / getattr(_image_source(spec), key)
    if not folder.is_dir():
        raise_io(f"image folder not found: {folder} ({where(spec, (*SOURCE, key))})")
    return folder


def _listed(spec: Spec, spec_dir: Path, key: str, classes: list[str] | None) -> Listing:
    """The files under ``data.source.<key>``; located errors for a bad folder layout."""
    folder = _folder(spec, spec_dir, key)
    extensions = _image_source(spec).extensions
    found = list_folder(folder, extensions, classes)
    at = (*SOURCE, key)
    if not found.classes:
        raise_located(
            spec,
            at,
            f"{folder} has no class folders; the image_folder source "
            "reads DIR/<class name>/<image files>",
            code="E504",
        )
    if found.empty:
        exts = ", ".join(extensions)
        raise_located(
            spec,
            at,
            f"class folder '{found.empty[0]}' in {folder} has no image "
            f"files ({exts})"
            + (
                f" ({len(found.empty)} such folders: {listing(found.empty, SHOWN)})"
                if len(found.empty) > 1
                else ""
            ),
            hint="remove the empty folder, or add its extension to data.source.extensions",
            code="E504",
        )
    if classes is None and len(found.classes) == 1:
        raise_located(
            spec,
            at,
            f"{folder} has one class folder ('{found.classes[0]}'); a "
            "classifier needs at least two classes",
            code="E504",
        )
    if classes is not None and (found.labels < 0).any():
        stray = sorted(set(found.classes) - set(classes))
        raise_located(
            spec,
            at,
            f"{folder} has class folder '{stray[0]}', which is not a class of data.source.path",
            hint=f"its classes: {listing(classes, 12)}",
            code="E504",
        )
    return found


def _inspect_all(paths: list[str]) -> list[tuple[str | None, int]]:
    """:func:`~specc.data.images.inspect` of every path (why bad or None, size); in forked
    worker processes for many files."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(PROCESSES, cpus or 1)
    if len(paths) < PARALLEL_FROM or workers < 2:
        return [inspect(p) for p in paths]
    import multiprocessing

    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.map(inspect, paths, chunksize=2000)


def _checked(spec: Spec, found: Listing, key: str) -> tuple[Listing, int, np.ndarray]:
    """The listing without bad files (or a one-line error naming them), the skipped count and
    the kept files' sizes."""
    paths = [found.path(i) for i in range(len(found))]
    results = _inspect_all(paths)
    reasons = [r for r, _ in results]
    sizes = np.array([size for _, size in results], dtype=np.int64)
    bad = [i for i, r in enumerate(reasons) if r is not None]
    if not bad:
        return found, 0, sizes
    if _image_source(spec).on_bad_file == "error":
        named = "; ".join(f"{paths[i]}: {reasons[i]}" for i in bad[:SHOWN])
        more = f" (and {len(bad) - SHOWN} more)" if len(bad) > SHOWN else ""
        raise_io(
            f"{len(bad)} bad image file{'s' if len(bad) > 1 else ''} under "
            f"{found.root}: {named}{more}; set on_bad_file: skip in "
            f"{where(spec, (*SOURCE, key))} to leave them out"
        )
    keep = np.setdiff1d(np.arange(len(found)), bad)
    kept = found.keep(keep)
    empty = sorted(set(range(len(found.classes))) - set(kept.labels.tolist()))
    if empty:
        raise_located(
            spec,
            (*SOURCE, key),
            f"every file in class folder "
            f"'{found.classes[empty[0]]}' of {found.root} is a bad image",
            code="E504",
        )
    return kept, len(bad), sizes[keep]


def _parts(spec: Spec, spec_dir: Path) -> tuple[dict[str, Listing], int, str]:
    """The listing of each split's files, checked; the count of skipped files; the digest."""
    source, split = _image_source(spec), data_section(spec).split
    main, skipped, sizes = _checked(spec, _listed(spec, spec_dir, "path", None), "path")
    given: dict[str, Listing] = {}
    given_sizes: dict[str, np.ndarray] = {}
    for name, key in (("val", "val_path"), ("test", "test_path")):
        if getattr(source, key) is None:
            continue
        if getattr(split, name):
            raise_located(
                spec,
                ("data", "split", name),
                f"data.source.{key} gives the {name} images; remove split.{name}",
                code="E506",
            )
        listed, more, given_sizes[name] = _checked(
            spec, _listed(spec, spec_dir, key, main.classes), key
        )
        given[name], skipped = listed, skipped + more
    index = split_indices(spec, len(main), main.labels, has_own_test="test" in given)
    parts = {name: main.keep(rows) for name, rows in index.items() if rows is not None}
    all_sizes = {name: sizes[rows] for name, rows in index.items() if rows is not None}
    return parts | given, skipped, _digest(parts | given, all_sizes | given_sizes)


def _target(spec: Spec, parts: dict[str, Listing]) -> Target:
    labels = np.concatenate([parts[n].labels for n in ("train", "val", "test") if n in parts])
    classes = parts["train"].classes
    raw = RawData(
        np.empty((0,)),
        labels,
        f"the image folder {parts['train'].root}",
        (*SOURCE, "path"),
        class_names=classes,
    )
    task = infer_task(spec, labels)
    if task == "regression":
        raise_located(
            spec,
            ("loss",) if spec.loss else SOURCE,
            "the image_folder source "
            "gives class labels (one per class folder), so it needs a "
            "classification loss",
            hint="use cross_entropy",
            code="E505",
        )
    return encode_target(spec, raw, task)


def _digest(parts: dict[str, Listing], sizes: dict[str, np.ndarray]) -> str:
    """sha256 over each split's relative paths, file sizes and labels (no pixels read)."""
    digest = hashlib.sha256()
    for name in ("train", "val", "test"):
        if name in parts:
            part = parts[name]
            digest.update(name.encode())
            digest.update(b"\0".join(part.paths.tolist()))
            digest.update(sizes[name].data)  # the arrays' bytes (C-contiguous: fancy-indexed)
            digest.update(part.labels.data)
    return digest.hexdigest()


def prepare_images(spec: Spec, spec_dir: Path) -> PreparedData:
    """:class:`~specc.data.pipeline.PreparedData` whose splits are lazy
    :class:`~specc.data.image_split.ImageSplit` s of uint8 images (N, C, H, W) on disk."""
    data, source = data_section(spec), _image_source(spec)
    recipe = recipe_of(spec)
    raise_all(spec, transform_problems(spec, recipe.shape))  # e.g. normalize's channel count
    parts, skipped, digest = _parts(spec, spec_dir)
    target = _target(spec, parts)
    sample = transformed_shape(
        [t.model_dump() for t in data.transforms if not t.decoded], recipe.shape
    )
    raise_all(
        spec,
        check_agreement(
            spec, sample, target, described=f"the images are decoded to {recipe.shape}"
        ),
    )
    steps = [to_json_dict(t.model_dump()) for t in data.transforms if not t.decoded]
    state = _preprocessing_state(spec, recipe, steps, target)
    splits = _image_splits(parts, target, recipe, steps, skip=source.on_bad_file == "skip")
    notes = {"images": {name: len(parts[name]) for name in parts}, "skipped_files": skipped}
    return PreparedData(
        splits["train"],
        splits.get("val"),
        splits.get("test"),
        target.task,
        target.num_classes,
        target.class_labels,
        None,
        state,
        digest,
        notes,
    )


def _preprocessing_state(spec: Spec, recipe: Recipe, steps: list[dict], target: Target) -> dict:
    """``PreparedData.preprocessing`` of image files: how ``specc predict`` decodes a file
    and replays ``steps`` (the transforms less ``resize``)."""
    return {
        "version": 1,
        "kind": "array",
        "scale": 1 / _image_source(spec).scale_divisor,
        "features": None,
        "steps": [],
        "columns": None,
        "sample_shape": recipe.shape,
        "transforms": steps,
        "image": recipe.to_state(),
        "input_shape": list(spec.model.input.shape),
        "input_dtype": spec.model.input.dtype,
        "task": target.task,
        "num_classes": target.num_classes,
        "class_labels": target.class_labels,
    }


def _image_splits(
    parts: dict[str, Listing], target: Target, recipe: Recipe, steps: list[dict], *, skip: bool
) -> dict[str, ImageSplit]:
    """Each split's files with its rows of ``target.y`` (the splits' rows in train, val,
    test order)."""
    from specc.data.image_split import ImageSplit

    splits: dict[str, ImageSplit] = {}
    offset = 0
    for name in ("train", "val", "test"):
        if name in parts:
            n = len(parts[name])
            y = target.y[offset : offset + n]
            splits[name] = ImageSplit(parts[name], y, recipe, steps, skip=skip)
            offset += n
    return splits
