"""Spec -> standalone ``train.py`` source, rendered through ``templates/train.py.jinja``.

The script trains the generated ``model.py`` with torch, NumPy, scikit-learn (pandas for
tables; gzip/struct for MNIST) and never specc, in the order :mod:`specc.train.setup`
uses, so that its losses equal ``specc train``'s for the same seed:

1. ``random``, NumPy and torch seeded with ``seed``;
2. read the source, encode the target, ``train_test_split`` (test first, then validation,
   ``random_state`` = ``data.split.seed`` or ``seed``), fit each preprocessing step on the
   training split, apply the transforms, reshape to ``model.input.shape``;
3. ``torch.manual_seed(seed)`` again, then the model, loss, optimizer and scheduler;
4. each epoch one ``torch.randperm`` from ``torch.Generator().manual_seed(seed)``, then
   mini-batches by slicing; the epoch loss is the per-sample mean; validation in batches of
   ``max(batch_size, 1024)``; a per-epoch scheduler steps after validation.

Every expression is built here (user text only as ``repr()`` literals or through
:func:`~specc.backends.naming.safe_text`); the template only lays the file out. What the
template cannot reproduce is reported by :func:`train_problems` (``emit`` refuses to write
a script that would train differently).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specc.backends.naming import safe_text, spec_label
from specc.backends.pyformat import format_statement, prefer_double_quotes
from specc.backends.source import class_name
from specc.backends.templating import render_template
from specc.spec.sections import METRICS as METRICS_INFO
from specc.spec.sections import (
    CSVSource,
    InlineSource,
    LossSection,
    MNISTSource,
    NPZSource,
    OptimizerSection,
    ReduceLROnPlateau,
    SchedulerSection,
    SklearnSource,
    task_of,
)

if TYPE_CHECKING:
    from specc.spec.schema import Spec
    from specc.spec.sections import (
        DataSpec,
        Derived,
        EarlyStopping,
        Loss,
        Optimizer,
        Source,
        TrainSpec,
    )

__all__ = ["needs_train_script", "render_train_source", "train_problems"]

#: the metrics train.py computes (besides the loss), and so can monitor
METRICS = tuple(name for name, metric in METRICS_INFO.items() if metric.in_train_py)
MONITORS = tuple(f"{split}_{name}" for name in ("loss", *METRICS) for split in ("train", "val"))


def needs_train_script(spec: Spec) -> bool:
    """Whether the spec has what training needs: loss, optimizer and data."""
    return spec.loss is not None and spec.optimizer is not None and spec.data is not None


def train_problems(spec: Spec) -> list[tuple[tuple, str]]:
    """What the standalone train.py cannot reproduce: ``(key_path, message)`` pairs."""
    data, train = _data(spec), spec.train
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if len(spec.graph.outputs) > 1:
        problems.append((("model", "outputs"), "training needs a model with one output"))
    note = data.source.train_py_note
    if note is not None:
        problems.append((("data", "source", "type"), f"the {data.source.type} source ({note})"))
    for i, step in enumerate(data.transforms):
        if step.augments:
            problems.append((("data", "transforms", i), f"{step.type} augmentation"))
    if data.preprocess and (note is not None or not _reading(spec).tabular):
        problems.append((("data", "preprocess"), "preprocess steps on image-shaped data"))
    if train is not None and train.precision != "fp32":
        problems.append((("train", "precision"), f"precision {train.precision}"))
    monitored: list[tuple[tuple[str, ...], str, EarlyStopping | ReduceLROnPlateau]] = []
    if train is not None and train.early_stopping is not None:
        key: tuple[str, ...] = ("train", "early_stopping", "monitor")
        monitored.append((key, "early stopping", train.early_stopping))
    if isinstance(spec.scheduler, ReduceLROnPlateau):
        monitored.append((("scheduler", "monitor"), "reduce_lr_on_plateau", spec.scheduler))
    for key, what, section in monitored:
        monitor = _monitor(spec, section)
        if monitor not in MONITORS:
            only = " and ".join(("loss", *METRICS))
            problems.append((key, f"{what} on {safe_text(monitor)} (only {only})"))
    return problems


def render_train_source(spec: Spec, out_dir: str | Path | None = None) -> str:
    """The text of a standalone ``train.py`` for a spec with loss, optimizer and data.

    Args:
        spec: a validated spec for which :func:`train_problems` is empty.
        out_dir: the folder train.py will be written to; data paths are written relative
            to it (``HERE / "../data/x.csv"``), or absolute when no relative path exists.
    """
    return render_template("train.py.jinja", **train_context(spec, out_dir))


# --- the context --------------------------------------------------------------------------


def train_context(spec: Spec, out_dir: str | Path | None = None) -> dict[str, Any]:
    """Everything ``train.py.jinja`` lays out, each piece already safe Python text."""
    cls, source = class_name(spec), _data(spec).source
    task = task_of(spec.loss)
    accuracy = task != "regression"
    path_source = _source_path(source) is not None
    labels = getattr(source, "labels", None)
    return {
        "title": f"Train {cls}, generated by specc from {safe_text(spec.source_path)}.",
        "doc": _doc(spec),
        "imports": _imports(spec, task),
        "constants": _constants(spec, out_dir),
        "helpers": _helpers(spec),
        "class_indices": accuracy,
        "label_order": "the order of LABELS" if labels else "sorted order",
        "label_names": "LABELS" if labels else "sorted({str(v) for v in y})",
        "preprocess": bool(_data(spec).preprocess),
        "load_param": "path" if path_source else "",
        "load_arg": "args.data" if path_source else "",
        "load_lines": _load_lines(spec, task),
        "accuracy": accuracy,
        "correct_doc": _correct_doc(_loss(spec)),
        "correct_lines": _correct_lines(_loss(spec)),
        "eval_loss_lines": _loss_sum_lines(spec, "loss", 8),
        "parser_lines": format_statement(
            f"parser = argparse.ArgumentParser(description={_description(spec)!r})", 4
        ),
        "argument_lines": format_statement(
            'parser.add_argument("--data", type=Path, default=DATA_PATH)', 4
        )
        if path_source
        else [],
        "numpy_seed": "SEED" if 0 <= spec.seed < 2**32 else f"{spec.seed % 2**32!r}",
        "setup_lines": _setup_lines(spec),
        "class_name": cls,
        "model_lines": _model_lines(spec),
        "shuffle_lines": _shuffle_lines(spec),
        "step_lines": _step_lines(spec),
        "epoch_end_lines": _epoch_end_lines(spec, accuracy),
        "final_lines": _final_lines(spec, accuracy),
    }


def _description(spec: Spec) -> str:
    return f"Train {class_name(spec)} on the data of {spec_label(spec.source_path)}."


def _doc(spec: Spec) -> list[str]:
    label = spec_label(spec.source_path)
    data = " [--data PATH]" if _source_path(_data(spec).source) is not None else ""
    return [
        f"Reads the data of {label}, fits its preprocessing on the training split only,",
        "trains with shuffled mini-batches, validates after each epoch and saves the",
        "weights (a state_dict that loads into the model of model.py) to model.pt.",
        "",
        f"    python train.py [--epochs N]{data} [--out FILE]",
        "",
        "Uses torch, NumPy and scikit-learn (pandas for tables); model.py must sit next to",
        "this file. On the CPU its losses equal those of `specc train` for the same seed.",
    ]


def _source_path(source: Source) -> str | None:
    """The file or folder train.py reads (its ``--data`` argument), if it reads one."""
    return getattr(source, "path", None)


def _helpers(spec: Spec) -> set[str]:
    """The template's helper functions train.py calls (``load_mnist``, ``resize``)."""
    steps = [_TRANSFORMS[step.type][1] for step in _data(spec).transforms]
    return {*_reading(spec).helpers, *(helper for helper in steps if helper)}


def _imports(spec: Spec, task: str) -> list[str]:
    data = _data(spec)
    reading = _reading(spec)
    stdlib = ["argparse", "random", *reading.stdlib]
    if spec.scheduler is not None and spec.scheduler.steps == "batch":
        stdlib.append("math")
    lines = [f"import {name}" for name in sorted(stdlib)]
    lines += ["from pathlib import Path", ""]
    third = ["import numpy as np"]
    if reading.tabular:
        third.append("import pandas as pd")
    third.append("import torch")
    if "resize" in _helpers(spec):  # it interpolates with F
        third.append("import torch.nn.functional as F")
    froms: dict[str, set[str]] = {}
    if data.preprocess:
        froms.setdefault("pandas.api.types", set()).add("is_numeric_dtype")
    for module, name in reading.froms:
        froms.setdefault(module, set()).add(name)
    if _splits(spec):
        froms.setdefault("sklearn.model_selection", set()).add("train_test_split")
    for step in data.preprocess:
        module, name = step.sklearn_class.rsplit(".", 1)
        froms.setdefault(module, set()).add(name)
    froms.setdefault("torch", set()).add("nn")
    froms["model"] = {class_name(spec)}  # model.py next to train.py (sorted as third-party)
    third += [
        f"from {module} import {', '.join(sorted(names))}"
        for module, names in sorted(froms.items())
    ]
    return [*lines, *third]


def _train_section(spec: Spec) -> TrainSpec:
    """``spec.train``, or its defaults when the spec has no train section."""
    from specc.spec.sections import TrainSpec

    return spec.train if spec.train is not None else TrainSpec()


def _data(spec: Spec) -> DataSpec:
    """``spec.data``: train.py is only made for specs with data (:func:`needs_train_script`)."""
    assert spec.data is not None, "train.py needs a data section"
    return spec.data


def _loss(spec: Spec) -> Loss:
    """``spec.loss``: train.py is only made for specs with a loss."""
    assert spec.loss is not None, "train.py needs a loss section"
    return spec.loss


def _optimizer(spec: Spec) -> Optimizer:
    """``spec.optimizer``: train.py is only made for specs with an optimizer."""
    assert spec.optimizer is not None, "train.py needs an optimizer section"
    return spec.optimizer


def _splits(spec: Spec) -> bool:
    return bool(_data(spec).split.val or _data(spec).split.test)


def _inline_kind(x: list) -> str:
    """``numbers`` (a numeric table), ``mixed`` (rows holding text) or ``array`` (N-D)."""
    import numpy as np

    try:
        array = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        return "mixed"
    return "numbers" if array.ndim <= 2 else "array"


def _data_path(spec: Spec, relative: str, out_dir: str | Path | None) -> str:
    """``HERE / '../data/x.csv'`` (relative to train.py's folder) or ``Path('/abs/x.csv')``."""
    target = Path(spec.source_path).parent / relative
    if out_dir is None:
        return f"HERE / {Path(relative).as_posix()!r}"
    try:
        rel = os.path.relpath(target, out_dir)
    except ValueError:  # another drive (Windows): no relative path
        return f"Path({str(target.resolve())!r})"
    return f"HERE / {Path(rel).as_posix()!r}"


def _constants(spec: Spec, out_dir: str | Path | None) -> list[str]:
    data = _data(spec)
    source = data.source
    train = _train_section(spec)
    device_expr = (
        '"cuda" if torch.cuda.is_available() else "cpu"'
        if train.device == "auto"
        else repr(train.device)
    )
    pairs = [("HERE", "Path(__file__).resolve().parent"), ("SEED", repr(spec.seed))]
    if _split_seed_name(spec) == "SPLIT_SEED":
        pairs.append(("SPLIT_SEED", repr(data.split.seed)))
    pairs += [
        ("EPOCHS", repr(train.epochs)),
        ("BATCH_SIZE", repr(data.batch_size)),
        ("EVAL_BATCH", repr(max(data.batch_size, 1024))),
        ("DEVICE", device_expr),
    ]
    if train.grad_clip is not None:
        pairs.append(("GRAD_CLIP", repr(train.grad_clip)))
    if train.early_stopping is not None:
        pairs += [
            ("PATIENCE", repr(train.early_stopping.patience)),
            ("MIN_DELTA", repr(train.early_stopping.min_delta)),
        ]
    path = _source_path(source)
    if path is not None:
        pairs.append(("DATA_PATH", _data_path(spec, path, out_dir)))
    pairs += _reading(spec).constants
    pairs.append(("INPUT_SHAPE", repr(tuple(spec.model.input.shape))))
    lines: list[str] = []
    for name, expr in pairs:
        lines += format_statement(f"{name} = {expr}", 0)
    return lines


# --- load_splits ---------------------------------------------------------------------------


def _load_lines(spec: Spec, task: str) -> list[str]:
    """The body of ``load_splits``: read, encode the target, split, preprocess, reshape."""
    lines = _read_lines(spec)
    lines += _target_lines(task, "y", 4)
    lines += _split_lines(spec, task)
    lines += _feature_lines(spec)
    dtype = "np.int64" if spec.model.input.dtype == "int64" else "np.float32"
    return [
        *lines,
        "    splits = {}",
        "    for name, x in xs.items():",
        *format_statement(
            f"splits[name] = (x.reshape(len(x), *INPUT_SHAPE).astype({dtype}), ys[name])", 8
        ),
        "    return splits",
    ]


@dataclass(frozen=True)
class _Reading:
    """How train.py reads one source.

    ``lines`` begin ``load_splits`` and set ``x`` (a DataFrame when ``tabular``, else an
    array (N, ...)) and ``y`` (N,), and when ``own_test`` also ``own_test``: the source's
    own ``(x, y)`` test set, or None. ``constants`` are module-level ``(NAME, expression)``
    pairs; ``stdlib`` and ``froms`` (``(module, name)``) what it imports; ``helpers`` the
    template's functions it calls.
    """

    lines: list[str]
    tabular: bool
    constants: list[tuple[str, str]] = field(default_factory=list)
    stdlib: tuple[str, ...] = ()
    froms: tuple[tuple[str, str], ...] = ()
    helpers: tuple[str, ...] = ()
    own_test: bool = False


def _reading(spec: Spec) -> _Reading:
    """How train.py reads the spec's source (one whose section has no ``train_py_note``)."""
    source = _data(spec).source
    return _READERS[source.type](spec, source)


def _read_lines(spec: Spec) -> list[str]:
    lines: list[str] = []
    for line in _reading(spec).lines:
        code = line.lstrip()
        indent = 4 + len(line) - len(code)
        if code.endswith(":") or code.startswith("#"):  # a block header or a comment
            lines.append(" " * indent + prefer_double_quotes(code))
        else:
            lines += format_statement(code, indent)
    return lines


def _read_csv(spec: Spec, source: CSVSource) -> _Reading:
    sep = "" if source.delimiter == "," else f", sep={source.delimiter!r}"
    x = "frame[FEATURES].copy()" if source.features is not None else "frame.drop(columns=[TARGET])"
    constants = [("TARGET", repr(source.target))]
    if source.features is not None:
        constants.append(("FEATURES", repr(list(source.features))))
    if source.labels is not None:
        constants.append(("LABELS", repr(list(source.labels))))
    lines = [f"frame = pd.read_csv(path{sep})", f"x = {x}", "y = frame[TARGET].to_numpy()"]
    return _Reading(lines, tabular=True, constants=constants)


def _read_sklearn(spec: Spec, source: SklearnSource) -> _Reading:
    lines = [f"data = {source.dataset.loader}()"]
    if source.image_shape is None:
        lines.append("x = pd.DataFrame(data.data, columns=[str(c) for c in data.feature_names])")
    else:
        lines.append(f"x = data.images.reshape(-1, {', '.join(map(str, source.image_shape))})")
    froms = (("sklearn.datasets", source.dataset.loader),)
    return _Reading([*lines, "y = data.target"], source.image_shape is None, froms=froms)


def _read_mnist(spec: Spec, source: MNISTSource) -> _Reading:
    lines = [
        'train, test = load_mnist(path, "train"), load_mnist(path, "t10k")',
        "if train is None and test is None:",
        '    raise SystemExit(f"no MNIST IDX files (train-* or t10k-*) in {path}")',
        "# the t10k files are the test set when the train files are there too",
        "(x, y), own_test = (train, test) if train is not None else (test, None)",
    ]
    return _Reading(
        lines,
        tabular=False,
        constants=[("LIMIT", repr(source.limit))],
        stdlib=("gzip", "struct"),
        helpers=("load_mnist",),
        own_test=True,
    )


def _read_npz(spec: Spec, source: NPZSource) -> _Reading:
    lines = [
        "with np.load(path, allow_pickle=False) as archive:",
        f"    x, y = archive[{source.x_key!r}], archive[{source.y_key!r}]",
    ]
    # known only when read; a flat input or preprocessing says a table
    tabular = len(spec.model.input.shape) == 1 or bool(_data(spec).preprocess)
    return _Reading([*lines, *_as_table()] if tabular else lines, tabular)


def _as_table() -> list[str]:
    return [
        "x = pd.DataFrame(x.reshape(len(x), -1))",
        'x.columns = [f"x{i}" for i in range(x.shape[1])]',
    ]


def _read_inline(spec: Spec, source: InlineSource) -> _Reading:
    kind = _inline_kind(source.x)
    if kind == "numbers":
        lines = ["x = np.array(X_INLINE, dtype=np.float64)", *_as_table()]
    elif kind == "mixed":
        lines = ["x = pd.DataFrame(X_INLINE)", 'x.columns = [f"x{i}" for i in range(x.shape[1])]']
    else:
        lines = ["x = np.array(X_INLINE, dtype=np.float64)"]
    dtype = "object" if _inline_kind(source.y) == "mixed" else "np.float64"
    constants = [("X_INLINE", repr(list(source.x))), ("Y_INLINE", repr(list(source.y)))]
    lines.append(f"y = np.array(Y_INLINE, dtype={dtype})")
    return _Reading(lines, kind != "array", constants)


#: the reader of each source train.py reads (by ``type``): those without a ``train_py_note``
_READERS: dict[str, Callable[[Spec, Any], _Reading]] = {
    "csv": _read_csv,
    "sklearn": _read_sklearn,
    "mnist": _read_mnist,
    "npz": _read_npz,
    "inline": _read_inline,
}


def _target_lines(task: str, name: str, indent: int) -> list[str]:
    expr = {
        "binary": f"class_indices({name}).astype(np.float32).reshape(-1, 1)",
        "multiclass": f"class_indices({name})",
        "regression": f"{name}.astype(np.float32).reshape(len({name}), -1)",
    }[task]
    return format_statement(f"{name} = {expr}", indent)


def _split_lines(spec: Spec, task: str) -> list[str]:
    split = _data(spec).split
    seed = _split_seed_name(spec)
    lines: list[str] = []
    rest = "x, y"
    if split.test:
        lines += _one_split(
            spec, task, "x, y", "x_rest, x_test, y_rest, y_test", split.test, seed, "y"
        )
        rest = "x_rest, y_rest"
    if split.val:
        fraction = split.val / (1 - (split.test or 0))
        labels = "y_rest" if split.test else "y"
        lines += _one_split(
            spec, task, rest, "x_train, x_val, y_train, y_val", fraction, seed, labels
        )
        names = ["train", "val"]
    else:
        lines += format_statement(f"x_train, y_train = {rest}", 4)
        names = ["train"]
    if split.test:
        names.append("test")
    lines += format_statement("xs = {" + ", ".join(f"{n!r}: x_{n}" for n in names) + "}", 4)
    lines += format_statement("ys = {" + ", ".join(f"{n!r}: y_{n}" for n in names) + "}", 4)
    if _reading(spec).own_test:
        lines += [
            "    if own_test is not None:",
            *format_statement('xs["test"], y_test = own_test', 8),
            *_target_lines(task, "y_test", 8),
            *format_statement('ys["test"] = y_test', 8),
        ]
    return lines


def _split_seed_name(spec: Spec) -> str:
    """``SPLIT_SEED`` when ``data.split.seed`` is set and differs from ``seed``, else ``SEED``."""
    split_seed = _data(spec).split.seed
    return "SPLIT_SEED" if split_seed is not None and split_seed != spec.seed else "SEED"


def _one_split(
    spec: Spec, task: str, source: str, targets: str, fraction: float, seed: str, labels: str
) -> list[str]:
    stratify = ""
    if _data(spec).split.stratify and task != "regression":
        stratify = f", stratify={labels}[:, 0]" if task == "binary" else f", stratify={labels}"
    code = (
        f"{targets} = train_test_split({source}, test_size={fraction!r}, "
        f"random_state={seed}{stratify})"
    )
    return format_statement(code, 4)


def _feature_lines(spec: Spec) -> list[str]:
    """Preprocessing (tables), the float conversion, then the transforms."""
    lines: list[str] = []
    label = spec_label(spec.source_path)
    if _reading(spec).tabular:
        if _data(spec).preprocess:
            lines += format_statement(
                'numeric = [c for c in xs["train"].columns if is_numeric_dtype(xs["train"][c])]', 4
            )
        for i, prep in enumerate(_data(spec).preprocess):
            lines += _preprocess_lines(spec, i, prep, label)
        lines += [
            "    for name, x in xs.items():",
            *format_statement("xs[name] = x.to_numpy(dtype=np.float64)", 8),
        ]
    else:
        divisor = _data(spec).source.scale_divisor
        times = f" * np.float32(1 / {divisor})" if divisor != 1 else ""
        lines += [
            "    for name, x in xs.items():",
            *format_statement(f"xs[name] = x.astype(np.float32){times}", 8),
        ]
    for i, step in enumerate(_data(spec).transforms):
        where = f"{label}:{spec.line_of(('data', 'transforms', i))}"
        lines += [
            f"    for name, x in xs.items():  # {step.type} ({where})",
            *format_statement(f"xs[name] = {_TRANSFORMS[step.type][0](step)}", 8),
        ]
    return lines


def _preprocess_lines(spec: Spec, i: int, step, label: str) -> list[str]:
    where = f"{label}:{spec.line_of(('data', 'preprocess', i))}"
    if step.columns is not None:
        columns = repr(list(step.columns))
    elif step.encoder:
        columns = '[c for c in xs["train"].columns if not is_numeric_dtype(xs["train"][c])]'
    else:
        columns = '[c for c in xs["train"].columns if c in numeric]'
    numbers = step.needs_numbers
    lines = [f"    # {step.type} ({where})"]
    lines += format_statement(f"columns = {columns}", 4)
    lines += format_statement(
        f"xs = fit_step({_estimator(step)}, columns, xs, numbers={numbers!r})", 4
    )
    return lines


def _estimator(step) -> str:
    """The scikit-learn constructor specc's preprocessing uses for ``step``."""
    name = step.sklearn_class.rsplit(".", 1)[1]
    return f"{name}({', '.join(_kwargs_text(step.estimator_kwargs()))})"


def _normalize_expr(step) -> str:
    return f"normalize(x, {list(step.mean)!r}, {list(step.std)!r})"


def _pad_expr(step) -> str:
    left, top, right, bottom = step.sides()
    widths = f"[(0, 0)] * (x.ndim - 2) + [{(top, bottom)!r}, {(left, right)!r}]"
    return f"np.pad(x, {widths}, constant_values={step.value!r})"


def _resize_expr(step) -> str:
    size = (step.size, step.size) if isinstance(step.size, int) else tuple(step.size)
    return f"resize(x, {size!r})"


#: each stateless transform's expression of x in train.py (by ``type``), and the template's
#: helper function it calls
_TRANSFORMS: dict[str, tuple[Callable[[Any], str], str | None]] = {
    "normalize": (_normalize_expr, "normalize"),
    "pad": (_pad_expr, None),
    "resize": (_resize_expr, "resize"),
}


# --- the training part ---------------------------------------------------------------------


def _correct_doc(loss: LossSection) -> str:
    if loss.task == "multiclass":
        return "How many rows of out (B, K) have their largest score at the class in y (B,)."
    kind = "probabilities" if loss.output_kind == "probability" else "logits"
    return (
        f"How many outputs (B, 1) fall on the side of {loss.threshold:g} ({kind}) that "
        "y (B, 1) says."
    )


def _correct_lines(loss: LossSection) -> list[str]:
    if loss.task == "multiclass":
        return ["    return (out.argmax(1) == y).sum().item()"]
    return [f"    return ((out > {loss.threshold:g}).float() == y).sum().item()"]


def _loss_sum_lines(spec: Spec, loss: str, indent: int) -> list[str]:
    """``total_loss += loss.item() * len(yb)`` (``reduction: sum``: the batch sum as is)."""
    weight = " * len(yb)" if _loss(spec).reduction == "mean" else ""
    return format_statement(f"total_loss += {loss}.item(){weight}", indent)


def _setup_lines(spec: Spec) -> list[str]:
    lines = []
    if spec.train is not None and spec.train.deterministic:
        lines += format_statement("torch.use_deterministic_algorithms(True)", 4)
    return [*lines, *format_statement("device = torch.device(DEVICE)", 4)]


#: how train.py writes what a scheduler argument is derived from
class _Code(str):
    """Source text that renders as itself in ``name=value`` (not as a quoted string)."""

    def __repr__(self) -> str:
        return str(self)


_DERIVED_CODE: dict[Derived, Any] = {
    "epochs": _Code("args.epochs"),
    "total_steps": _Code("args.epochs * math.ceil(n / BATCH_SIZE)"),
}


def _kwargs_text(kwargs: dict[str, Any]) -> list[str]:
    return [f"{name}={value!r}" for name, value in kwargs.items()]


def _loss_expr(section: LossSection) -> str:
    args = _kwargs_text(
        {k: v for k, v in section.written_kwargs().items() if k not in section.tensor_args}
    )
    for name in section.tensor_args:
        values = getattr(section, name)
        if values is not None:
            values = values if isinstance(values, list) else [values]
            args.insert(0, f"{name}=torch.tensor({[float(v) for v in values]!r}, device=device)")
    return f"nn.{section.torch_class}({', '.join(args)})"


def _optimizer_expr(section: OptimizerSection) -> str:
    lr = section.torch_kwargs()["lr"]  # every optimizer has an lr field
    args = [f"lr={lr!r}", *_kwargs_text(section.written_kwargs(skip=("lr",)))]
    return f"torch.optim.{section.torch_class}(model.parameters(), {', '.join(args)})"


def _scheduler_expr(section: SchedulerSection) -> str:
    derived = _kwargs_text(section.derived_kwargs(_DERIVED_CODE))  # written, or train.py's
    args = ["optimizer", *derived, *_kwargs_text(section.written_kwargs(skip=section.derived))]
    return f"torch.optim.lr_scheduler.{section.torch_class}({', '.join(args)})"


def _model_lines(spec: Spec) -> list[str]:
    lines = format_statement(f"loss_fn = {_loss_expr(_loss(spec))}", 4)
    lines += format_statement(f"optimizer = {_optimizer_expr(_optimizer(spec))}", 4)
    if spec.scheduler is not None:
        if "total_steps" in spec.scheduler.derived.values():
            lines += format_statement("n = len(X_train)", 4)
        lines += format_statement(f"scheduler = {_scheduler_expr(spec.scheduler)}", 4)
    if _data(spec).shuffle:
        lines += format_statement(
            "generator = torch.Generator().manual_seed(SEED)", 4, "the shuffling"
        )
    if _train_section(spec).early_stopping is not None:
        start = 'float("inf")' if _stop_mode(spec) == "min" else '-float("inf")'
        lines += format_statement(f"best, bad_epochs = {start}, 0", 4, "early stopping")
    return lines


def _shuffle_lines(spec: Spec) -> list[str]:
    if not _data(spec).shuffle:
        return format_statement("X_shuffled, y_shuffled = X_train, y_train", 8)
    return [
        *format_statement("order = torch.randperm(n, generator=generator).to(device)", 8),
        *format_statement("X_shuffled, y_shuffled = X_train[order], y_train[order]", 8),
    ]


def _step_lines(spec: Spec) -> list[str]:
    lines: list[str] = []
    if _train_section(spec).grad_clip is not None:
        lines += format_statement("nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)", 12)
    lines += format_statement("optimizer.step()", 12)
    if spec.scheduler is not None and spec.scheduler.steps == "batch":
        lines += format_statement(
            "scheduler.step()", 12, f"{spec.scheduler.type} steps after every batch"
        )
    return lines + _loss_sum_lines(spec, "loss", 12)


def _monitor(spec: Spec, section: EarlyStopping | ReduceLROnPlateau) -> str:
    """The metric ``section`` (early stopping or a plateau scheduler) watches: its
    ``monitor``, or by default ``val_loss`` when there is a validation split, else
    ``train_loss`` (as :func:`specc.train.plan.make_plan` resolves it)."""
    if "monitor" not in section.model_fields_set:
        return "val_loss" if _data(spec).split.val else "train_loss"
    return section.monitor


def _epoch_end_lines(spec: Spec, accuracy: bool) -> list[str]:
    lines: list[str] = []
    parts = ['f"epoch {epoch + 1}/{args.epochs}"', 'f"train_loss {train_loss:.6f}"']
    if accuracy:
        parts.append('f"train_accuracy {train_accuracy:.4f}"')
    if _data(spec).split.val:
        target = "val_loss, val_accuracy" if accuracy else "val_loss"
        lines += format_statement(f'{target} = evaluate(model, loss_fn, *tensors["val"])', 8)
        parts.append('f"val_loss {val_loss:.6f}"')
        if accuracy:
            parts.append('f"val_accuracy {val_accuracy:.4f}"')
    scheduler = spec.scheduler
    if scheduler is not None and scheduler.steps == "metric":
        assert isinstance(scheduler, ReduceLROnPlateau), "the one scheduler given a metric"
        lines += format_statement(f"scheduler.step({_monitor(spec, scheduler)})", 8)
    elif scheduler is not None and scheduler.steps == "epoch":
        lines += format_statement("scheduler.step()", 8)
    lines += format_statement(f"print({', '.join(parts)})", 8)
    return lines + _stop_lines(spec)


def _stop_mode(spec: Spec) -> str:
    stop = _train_section(spec).early_stopping
    assert stop is not None, "asked only when early stopping is on"
    if "mode" in stop.model_fields_set:
        return stop.mode
    return "min" if _monitor(spec, stop).endswith("loss") else "max"


def _stop_lines(spec: Spec) -> list[str]:
    """Early stopping as specc's tracker does it: stop once ``monitor`` has not improved
    by more than ``min_delta`` for ``patience`` epochs."""
    stop = _train_section(spec).early_stopping
    if stop is None:
        return []
    monitor = _monitor(spec, stop)
    better = (
        f"{monitor} < best - MIN_DELTA"
        if _stop_mode(spec) == "min"
        else f"{monitor} > best + MIN_DELTA"
    )
    return [
        f"        if {better}:",
        *format_statement(f"best, bad_epochs = {monitor}, 0", 12),
        "        else:",
        *format_statement("bad_epochs += 1", 12),
        "        if bad_epochs >= PATIENCE:",
        *format_statement(
            f'print(f"early stopping: {monitor} has not improved for {{PATIENCE}} epochs")', 12
        ),
        "            break",
    ]


def _final_lines(spec: Spec, accuracy: bool) -> list[str]:
    if not _data(spec).split.test and not _reading(spec).own_test:
        return []
    target = "test_loss, test_accuracy" if accuracy else "test_loss"
    parts = ['f"test_loss {test_loss:.6f}"']
    if accuracy:
        parts.append('f"test_accuracy {test_accuracy:.4f}"')
    return [
        '    if "test" in tensors:',
        *format_statement(f'{target} = evaluate(model, loss_fn, *tensors["test"])', 8),
        *format_statement(f"print({', '.join(parts)})", 8),
    ]
