"""Every member of every closed family runs in ``specc train`` and in the emitted standalone
``train.py``, with the same losses; members train.py has no code for are refused at their
spec line.

Losses, optimizers, schedulers: one spec per loss, the optimizers and schedulers dealt out
over those specs so each appears at least once. Data sources (and each scikit-learn dataset),
preprocessing steps, transforms and the metrics train.py can monitor: one spec per member.
Adding a member to :mod:`specc.spec.sections` adds it here.
"""

from __future__ import annotations

import gzip
import subprocess
import sys

import numpy as np
import pytest
import yaml
from test_train_source import _RUNNER, EPOCHS, TOLERANCE, _parse

from specc.backends import train_source
from specc.backends.emit import emit
from specc.data import augment, image_split, replay, sources, transforms
from specc.errors import SpecErrors
from specc.export import fold
from specc.spec import sections
from specc.spec.sections import type_name as _kind
from specc.spec.validate import load_spec
from specc.train import metrics, train

REQUIRED = {"step_size": 1, "milestones": [1], "gamma": 0.5, "max_lr": 0.05}
# what the model ends with for each loss, and its number of outputs
HEADS = {"multiclass": 3, "binary": 1, "regression": 2}
FINAL = {"bce": ["sigmoid"], "nll": ["logsoftmax"]}
# arguments of each transform, for 8 x 8 images (required ones, and a crop that fits)
TRANSFORM_ARGS = {
    "normalize": {"mean": [0.5], "std": [0.25]},
    "pad": {"padding": [1, 2]},
    "resize": {"size": [6, 5]},
    "random_crop": {"size": 8, "padding": 1},
    "random_horizontal_flip": {},
    "random_resized_crop": {"size": 8},
    "random_rotation": {"degrees": 10},
    "color_jitter": {"brightness": 0.2},
}
# arguments of the sources train.py cannot read
SOURCE_ARGS = {"torchvision": {"name": "MNIST"}, "image_folder": {"path": "images"}}


def _section(cls) -> dict:
    fields = cls.model_fields
    return {
        "type": _kind(cls),
        **{k: v for k, v in REQUIRED.items() if k in fields and fields[k].is_required()},
    }


def _data(task: str, rng: np.random.Generator) -> tuple[list, list]:
    x = rng.normal(size=(40, 4)).round(3)
    if task == "regression":
        return x.tolist(), (x[:, :2] * 2 - x[:, 2:]).round(3).tolist()
    classes = HEADS[task] if task == "multiclass" else 2
    return x.tolist(), (np.abs(x[:, 0] * 3).astype(int) % classes).tolist()


def _spec(index: int, loss) -> dict:
    task = loss.task
    x, y = _data(task, np.random.default_rng(index))
    optimizer = sections.OPTIMIZERS[index % len(sections.OPTIMIZERS)]
    # shifted by one, so one_cycle (which needs momentum) never meets adagrad
    scheduler = sections.SCHEDULERS[(index + 1) % len(sections.SCHEDULERS)]
    layers = [
        {"type": "linear", "out_features": 6},
        "tanh",
        {"type": "linear", "out_features": HEADS[task]},
        *FINAL.get(_kind(loss), []),
    ]
    return {
        "version": 1,
        "name": f"family_{index}",
        "seed": index,
        "model": {"input": {"shape": [4]}, "layers": layers},
        "loss": _section(loss),
        "optimizer": {**_section(optimizer), "lr": 0.01},
        "scheduler": _section(scheduler),
        "data": {
            "source": {"type": "inline", "x": x, "y": y},
            "split": {"val": 0.25},
            "batch_size": 8,
        },
        "train": {"epochs": EPOCHS, "device": "cpu"},
    }


def _load(tmp_path, data: dict):
    path = tmp_path / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_spec(path)


def _agree(tmp_path, monkeypatch, specs: list, keys=("train_loss", "val_loss")) -> None:
    """Emit each spec's train.py, run them all in one process without specc while specc
    trains each spec; the last epoch's ``keys`` must agree."""
    emitted = [(spec, tmp_path / "emit" / spec.name) for spec in specs]
    for spec, out in emitted:
        emit(spec, out)
    scripts = [str(out / "train.py") for _, out in emitted]
    command = [sys.executable, "-I", "-c", _RUNNER, *scripts]
    monkeypatch.setattr("specc.train.plots.plot_curves", lambda *args, **kwargs: None)
    with subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        runs = [
            train(spec, out_dir=tmp_path / "runs" / spec.name, quiet=True) for spec, _ in emitted
        ]
        stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    numbers = _parse(stdout)
    for (spec, out), run in zip(emitted, runs, strict=True):
        ours, final = numbers[str(out / "train.py")], run.summary["final"]
        for key in keys:
            # losses printed .6f (relative for large regression losses), metrics .4f
            near = (
                pytest.approx(final[key], rel=1e-7, abs=TOLERANCE)
                if key.endswith("loss")
                else pytest.approx(final[key], abs=1e-4)
            )
            assert ours[key] == near, (spec.name, key)


@pytest.mark.slow
def test_every_family_member_agrees_between_specc_and_train_py(tmp_path, monkeypatch):
    specs = [_load(tmp_path, _spec(i, loss)) for i, loss in enumerate(sections.LOSSES)]
    covered = {(s.loss.type, s.optimizer.type, s.scheduler.type) for s in specs}
    for family in (sections.LOSSES, sections.OPTIMIZERS, sections.SCHEDULERS):
        assert {_kind(c) for c in family} <= {t for triple in covered for t in triple}
    _agree(tmp_path, monkeypatch, specs)


# --- the data families ----------------------------------------------------------------------


def _data_spec(name: str, source: dict, shape: list, classes: int, **data) -> dict:
    """A small classifier of ``source`` (a flatten first for image shapes)."""
    layers = [
        *(["flatten"] if len(shape) > 1 else []),
        {"type": "linear", "out_features": 6},
        "tanh",
        {"type": "linear", "out_features": classes},
    ]
    return {
        "version": 1,
        "name": name,
        "seed": 3,
        "model": {"input": {"shape": shape}, "layers": layers},
        "loss": "cross_entropy" if classes > 1 else "mse",
        "optimizer": {"type": "adam", "lr": 0.01},
        "data": {"source": source, "split": {"val": 0.25}, "batch_size": 8, **data},
        "train": {"epochs": EPOCHS, "device": "cpu"},
    }


def _idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def _source_specs(tmp_path) -> dict[str, dict]:
    """One spec per source train.py reads, and one per scikit-learn dataset."""
    from sklearn import datasets

    rng = np.random.default_rng(0)
    x, y = _data("multiclass", rng)
    labels = np.array(["a", "b", "c"])[y]
    table = "f0,f1,f2,f3,label\n" + "".join(
        ",".join(map(str, row)) + f",{label}\n" for row, label in zip(x, labels, strict=True)
    )
    (tmp_path / "table.csv").write_text(table)
    np.savez(tmp_path / "arrays.npz", x=np.asarray(x), y=np.asarray(y))
    (tmp_path / "mnist").mkdir()
    for part, n in (("train", 40), ("t10k", 12)):
        _idx(tmp_path / "mnist" / f"{part}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 8, 8)))
        _idx(tmp_path / "mnist" / f"{part}-labels-idx1-ubyte.gz", rng.integers(0, 3, n))
    specs = {
        "inline": _data_spec("src_inline", {"type": "inline", "x": x, "y": y}, [4], 3),
        "csv": _data_spec(
            "src_csv", {"type": "csv", "path": "table.csv", "target": "label"}, [4], 3
        ),
        "npz": _data_spec("src_npz", {"type": "npz", "path": "arrays.npz"}, [4], 3),
        "mnist": _data_spec("src_mnist", {"type": "mnist", "path": "mnist"}, [1, 8, 8], 3),
    }
    for name, dataset in sections.SKLEARN_DATASETS.items():
        bunch = getattr(datasets, dataset.loader)()
        classes = len(bunch.target_names) if "target_names" in bunch else 1
        for flat in (False, True) if dataset.image_shape else (False,):
            images = dataset.image_shape is not None and not flat
            shape = list(dataset.image_shape) if images else [bunch.data.shape[1]]
            source = {"type": "sklearn", "name": name, "flat": flat}
            specs[f"sklearn {name}{' flat' * flat}"] = _data_spec(
                f"src_{name}{'_flat' * flat}", source, shape, classes, batch_size=64
            )
    return specs


def _preprocess_specs(tmp_path) -> dict[str, dict]:
    """One spec per preprocessing step, on a table with missing numbers and a text column."""
    rng = np.random.default_rng(1)
    x, y = _data("multiclass", rng)
    rows = ["a,b,c,y"] + [
        f"{'' if i % 7 == 0 else row[0]},{row[1]},{'xyz'[i % 3]},{label}"
        for i, (row, label) in enumerate(zip(x, y, strict=True))
    ]
    (tmp_path / "mixed.csv").write_text("\n".join(rows) + "\n")
    source = {"type": "csv", "path": "mixed.csv", "target": "y"}
    specs = {}
    for member in sections.PREPROCESS:
        kind = _kind(member)
        encoder = kind if member.encoder else "ordinal_encoder"  # column c is text
        steps = ["simple_imputer", encoder]  # column a has missing values
        steps += [kind] if kind not in steps else []
        width = 2 + (3 if "one_hot_encoder" in steps else 1)  # c: x, y, z
        preprocess = [{"type": t} for t in steps]
        specs[kind] = _data_spec(f"pre_{kind}", source, [width], 3, preprocess=preprocess)
    return specs


def _images(seed: int) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    x = rng.random((40, 1, 8, 8)).round(3)
    return x.tolist(), (x[:, 0, :4].mean((1, 2)) * 6 % 3).astype(int).tolist()


def _transform_spec(member) -> dict:
    kind = _kind(member)
    step = {"type": kind, **TRANSFORM_ARGS[kind]}
    shape = transforms.transformed_shape([step], [1, 8, 8])
    x, y = _images(2)
    source = {"type": "inline", "x": x, "y": y}
    return _data_spec(f"tf_{kind}", source, shape, 3, transforms=[step])


def _transform_specs(tmp_path) -> dict[str, dict]:
    return {_kind(m): _transform_spec(m) for m in sections.TRANSFORMS if not m.augments}


def _metric_specs(tmp_path) -> dict[str, dict]:
    """One spec per metric train.py computes, monitored by early stopping and a plateau."""
    specs = {}
    for name in train_source.METRICS:
        x, y = _data("multiclass", np.random.default_rng(4))
        data = _data_spec(f"metric_{name}", {"type": "inline", "x": x, "y": y}, [4], 3)
        monitor = f"val_{name}"
        data["scheduler"] = {"type": "reduce_lr_on_plateau", "monitor": monitor, "mode": "max"}
        data["train"].update(metrics=[name], early_stopping={"monitor": monitor, "patience": 1})
        specs[name] = data
    return specs


DATA_FAMILIES = {
    "sources": _source_specs,
    "preprocess": _preprocess_specs,
    "transforms": _transform_specs,
    "metrics": _metric_specs,
}


@pytest.mark.slow
@pytest.mark.parametrize("family", list(DATA_FAMILIES))
def test_every_data_family_member_agrees_between_specc_and_train_py(family, tmp_path, monkeypatch):
    built = DATA_FAMILIES[family](tmp_path)
    specs = [_load(tmp_path, data) for data in built.values()]
    keys = ("train_loss", "val_loss")
    if family == "metrics":
        keys += tuple(f"{split}_{m}" for m in built for split in ("train", "val"))
    _agree(tmp_path, monkeypatch, specs, keys)


def _names(members, **declared) -> set[str]:
    """The ``type`` names of the members whose class attributes equal ``declared``."""
    return {_kind(m) for m in members if all(getattr(m, k) == v for k, v in declared.items())}


def test_data_family_members_agree_between_schema_library_and_train_py():
    """What the schema accepts, what the library builds and what train.py supports is the
    same set for each data family, as the section classes declare it (train.py's gaps are
    refused, see below)."""
    lazy = _names(sections.SOURCES, lazy=True)
    assert set(sources._LOADERS) == _names(sections.SOURCES) - lazy
    assert set(train_source._READERS) == _names(sections.SOURCES, train_py_note=None)
    assert not lazy & set(train_source._READERS)
    assert set(sections.SklearnSource.model_fields["name"].annotation.__args__) == set(
        sections.SKLEARN_DATASETS
    )
    from sklearn import datasets

    for dataset in sections.SKLEARN_DATASETS.values():
        assert callable(getattr(datasets, dataset.loader))
    assert set(replay._APPLY) == _names(sections.PREPROCESS)
    stateless = _names(sections.TRANSFORMS, augments=False)
    assert set(transforms._STATELESS) == stateless
    assert set(train_source._TRANSFORMS) == stateless
    assert set(image_split._TORCH) == stateless - _names(sections.TRANSFORMS, decoded=True)
    assert set(augment.AUGMENT) == _names(sections.TRANSFORMS, augments=True)
    affine = _names((*sections.PREPROCESS, *sections.TRANSFORMS), folds="affine")
    assert set(fold._AFFINE) == affine
    assert set(sections.Metric.__args__) == set(sections.METRICS)
    assert set(metrics.CLASSIFICATION) | set(metrics.REGRESSION) == set(sections.METRICS)
    assert set(train_source.METRICS) == {n for n, m in sections.METRICS.items() if m.in_train_py}


def test_every_family_is_every_member_of_its_section_class():
    """Each family tuple holds every class that declares a ``type`` under its section
    class, and mypy's union of the sources (written out in sections.py) is that tuple."""
    import ast
    import inspect

    families = {
        sections.LossSection: sections.LOSSES,
        sections.OptimizerSection: sections.OPTIMIZERS,
        sections.SchedulerSection: sections.SCHEDULERS,
        sections.SourceSection: sections.SOURCES,
        sections.PreprocessStep: sections.PREPROCESS,
        sections.TransformStep: sections.TRANSFORMS,
    }
    classes = [c for c in vars(sections).values() if isinstance(c, type)]
    for base, family in families.items():
        declared = [c for c in classes if issubclass(c, base) and "type" in c.model_fields]
        assert declared == list(family)  # in the order written (the schema's)
    tree = ast.parse(inspect.getsource(sections))
    union = next(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "Source"
    )
    assert {n.id for n in ast.walk(union) if isinstance(n, ast.Name)} == {
        m.__name__ for m in sections.SOURCES
    }


def test_transform_shapes_follow_the_numpy_transforms():
    """Each stateless step's output_shape is the shape its numpy function gives."""
    x = np.zeros((2, 1, 8, 8))
    for member in sections.TRANSFORMS:
        if member.augments:
            continue
        step = {"type": _kind(member), **TRANSFORM_ARGS[_kind(member)]}
        out = transforms.apply_transforms([step], x)
        assert transforms.transformed_shape([step], [1, 8, 8]) == list(out.shape[1:])


def test_every_preprocessing_step_builds_its_sklearn_estimator():
    from pydantic import TypeAdapter

    from specc.data.preprocess import make_estimator

    for member in sections.PREPROCESS:
        step = TypeAdapter(sections.Preprocess).validate_python(_kind(member))
        estimator = make_estimator(step)
        assert type(estimator).__name__ == member.sklearn_class.rsplit(".", 1)[1]


def test_metric_scores_are_the_family():
    import torch

    cm = torch.tensor([[3, 1], [0, 2]])
    assert set(metrics.classification_scores(cm)) == set(metrics.CLASSIFICATION)
    pred, target = torch.rand(5, 2), torch.rand(5, 2)
    assert set(metrics.regression_scores(pred, target)) == set(metrics.REGRESSION)


def _refusal(tmp_path, data: dict, key: tuple, what: str) -> None:
    """--emit refuses the spec with one located error at ``key`` naming ``what``."""
    spec = _load(tmp_path, data)
    with pytest.raises(SpecErrors) as caught:
        emit(spec, tmp_path / "emit" / spec.name)
    errors = caught.value.errors
    assert [e.key_path for e in errors] == [key], [e.message for e in errors]
    assert errors[0].line == spec.line_of(key) > 0
    assert f"does not support {what}" in errors[0].message
    assert not (tmp_path / "emit" / spec.name / "train.py").exists()


@pytest.mark.parametrize(
    "member", [m for m in sections.SOURCES if _kind(m) not in train_source._READERS], ids=_kind
)
def test_sources_train_py_cannot_read_are_refused_at_their_line(member, tmp_path):
    kind = _kind(member)
    source = {"type": kind, **SOURCE_ARGS[kind]}
    data = _data_spec(f"refused_{kind}", source, [1, 8, 8], 3)
    _refusal(tmp_path, data, ("data", "source", "type"), f"the {kind} source")


@pytest.mark.parametrize("member", [m for m in sections.TRANSFORMS if m.augments], ids=_kind)
def test_augmentations_are_refused_by_train_py_at_their_line(member, tmp_path):
    kind = _kind(member)
    _refusal(tmp_path, _transform_spec(member), ("data", "transforms", 0), f"{kind} augmentation")


@pytest.mark.parametrize("name", [m for m in sections.METRICS if m not in train_source.METRICS])
def test_monitoring_metrics_train_py_lacks_is_refused_at_its_line(name, tmp_path):
    task = sections.METRICS[name].task
    x, y = _data(
        "multiclass" if task == "classification" else "regression", np.random.default_rng(5)
    )
    classes = 3 if task == "classification" else 2
    data = _data_spec(f"monitor_{name}", {"type": "inline", "x": x, "y": y}, [4], classes)
    if task == "regression":
        data.update(loss="mse")
    data["train"].update(metrics=[name], early_stopping={"monitor": f"val_{name}"})
    key = ("train", "early_stopping", "monitor")
    _refusal(tmp_path, data, key, f"early stopping on val_{name}")
