"""Data sources: turn ``data.source`` into raw features and targets, before any splitting.

Each loader returns a :class:`RawData`. Two-dimensional data (CSV, the tabular scikit-learn
sets, 2-D inline or npz arrays) is a pandas DataFrame so that preprocessing steps can name
columns; images and sequences are numpy arrays. Loaders are looked up in a closed table keyed
by the source ``type``; nothing is imported or looked up from spec text.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from specc.data.idx import find_idx_pair, read_idx
from specc.data.problems import data_section, listing, raise_io, raise_located, where
from specc.errors import did_you_mean
from specc.spec.sections import (
    CSVSource,
    InlineSource,
    MNISTSource,
    NPZSource,
    SklearnSource,
    SourceSection,
    TorchvisionSource,
)

if TYPE_CHECKING:
    from specc.spec.schema import Spec

__all__ = ["RawData", "load_source"]

SOURCE = ("data", "source")


@dataclass
class RawData:
    """Raw samples straight from the source.

    Attributes:
        x: a DataFrame (N rows of raw feature columns) or an array (N, *sample_shape).
        y: raw targets, (N,) or (N, k): numbers or strings.
        origin: what to call the data in messages (``titanic.csv``, ``sklearn iris``).
        target_key: spec key path of the target (where target errors point).
        class_names: names of integer classes given by the source (scikit-learn, MNIST).
        scale: factor applied to raw array values (1/255 for MNIST pixels).
        row_offset: file line of row 0 (2 for a CSV with a header), for messages.
        test: the dataset's own test set (MNIST ``t10k-*`` next to ``train-*``).
    """

    x: pd.DataFrame | np.ndarray
    y: np.ndarray
    origin: str
    target_key: tuple = SOURCE
    class_names: list[str] | None = None
    scale: float = 1.0
    row_offset: int = 0
    test: RawData | None = None

    @property
    def tabular(self) -> bool:
        """True when ``x`` is a table of named columns."""
        return isinstance(self.x, pd.DataFrame)


def load_source(spec: Spec, spec_dir: Path) -> RawData:
    """Load ``spec.data.source``; paths are relative to ``spec_dir``."""
    source = data_section(spec).source
    return _LOADERS[source.type](spec, source, spec_dir)


def _file(spec, spec_dir: Path, relative: str) -> Path:
    path = spec_dir / relative
    if not path.exists():
        raise_io(
            f"data file not found: {path} ({where(spec, (*SOURCE, 'path'))})"
            + (_nearby(path) if _inside(spec_dir, path) else "")
        )
    return path


def _inside(spec_dir: Path, path: Path) -> bool:
    """True when ``path`` lies in the spec's folder or below it. Messages about files
    elsewhere (``../secret.csv``, ``/etc/passwd``) never quote their contents: no column
    names, array names or neighbouring file names."""
    try:
        return Path(path).resolve().is_relative_to(Path(spec_dir).resolve())
    except (OSError, RuntimeError):
        return False


def _nearby(path: Path) -> str:
    try:
        names = os.listdir(path.parent)
    except OSError:
        return ""
    return did_you_mean(path.name, names)


def _table(x: Any) -> pd.DataFrame:
    frame = pd.DataFrame(x)
    frame.columns = [f"x{i}" for i in range(frame.shape[1])]
    return frame


def _samples(x: np.ndarray) -> pd.DataFrame | np.ndarray:
    """Samples (N,) or (N, F) as a table of columns x0, x1, ...; (N, *shape) as they are."""
    x = x.reshape(len(x), 1) if x.ndim == 1 else x
    return _table(x) if x.ndim == 2 else x


def _inline(spec, source: InlineSource, spec_dir: Path) -> RawData:
    if len(source.x) != len(source.y):
        raise_located(
            spec,
            (*SOURCE, "y"),
            f"inline data has {len(source.x)} samples in x but {len(source.y)} targets in y",
            code="E501",
        )
    try:
        x = np.asarray(source.x, dtype=np.float64)
    except (TypeError, ValueError):
        x = None
    if x is not None and x.dtype != object and not np.isfinite(x).all():
        raise_located(
            spec,
            (*SOURCE, "x"),
            "inline x holds a non-finite number (inf or nan); training needs finite numbers",
            code="E501",
        )
    if x is None or x.dtype == object:
        if all(isinstance(row, list) for row in source.x) and len({len(r) for r in source.x}) == 1:
            return RawData(_table(source.x), _targets(source.y), "inline data", (*SOURCE, "y"))
        raise_located(
            spec,
            (*SOURCE, "x"),
            "inline x must be numbers, or lists of equal length (one per sample)",
            code="E501",
        )
    return RawData(_samples(x), _targets(source.y), "inline data", (*SOURCE, "y"))


def _targets(y: list) -> np.ndarray:
    try:
        return np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        return np.asarray(y, dtype=object)


def _csv(spec, source: CSVSource, spec_dir: Path) -> RawData:
    path = _file(spec, spec_dir, source.path)
    try:
        frame = pd.read_csv(path, sep=source.delimiter)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise_io(f"cannot parse {path} as CSV: {str(exc).strip()}")
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise_io(f"cannot read {path}: {exc}")
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    shown = _inside(spec_dir, path)
    _check_column(spec, source.target, columns, path, (*SOURCE, "target"), shown)
    features = source.features
    if features is None:
        features = [c for c in columns if c != source.target]
    for i, name in enumerate(features):
        _check_column(spec, name, columns, path, (*SOURCE, "features", i), shown)
        if name == source.target:
            raise_located(
                spec,
                (*SOURCE, "features", i),
                f"column '{name}' is the target; it cannot also be a feature",
                code="E502",
            )
    if len(frame) == 0:
        raise_io(f"{path} has a header but no rows of data")
    _check_finite(frame, [*features, source.target], path)
    return RawData(
        frame[features].copy(),
        frame[source.target].to_numpy(),
        path.name,
        (*SOURCE, "target"),
        class_names=source.labels,
        row_offset=2,
    )


def _check_finite(frame: pd.DataFrame, columns: list[str], path: Path) -> None:
    """A data error for the first infinite value (``inf``, ``1e400``) of a numeric column."""
    for name in columns:
        values = frame[name]
        if pd.api.types.is_float_dtype(values.dtype):
            bad = np.flatnonzero(np.isinf(values.to_numpy()))
            if len(bad):
                raise_io(
                    f"{path}: column '{name}' has an infinite value at line "
                    f"{int(bad[0]) + 2} (row {int(bad[0]) + 1}); training needs finite "
                    "numbers (fix the file, or leave the cell empty to impute it)"
                )


def _check_column(
    spec, name: str, columns: list[str], path: Path, key: tuple, shown: bool = True
) -> None:
    if name in columns:
        return
    if not shown:
        raise_located(
            spec,
            key,
            f"column '{name}' is not in {path.name}",
            hint="its columns are not listed: the file is outside the spec's folder",
            code="E502",
        )
    raise_located(
        spec,
        key,
        f"column '{name}' is not in {path.name}{did_you_mean(name, columns)}",
        hint=f"its columns are: {listing(columns, 12)}",
        code="E502",
    )


def _sklearn(spec, source: SklearnSource, spec_dir: Path) -> RawData:
    from sklearn import datasets

    bunch = getattr(datasets, source.dataset.loader)()  # a name from SKLEARN_DATASETS
    origin = f"sklearn {source.name}"
    names = [str(n) for n in bunch.target_names] if "target_names" in bunch else None
    if source.image_shape is not None:
        images = bunch.images.reshape(-1, *source.image_shape)
        return RawData(images, bunch.target, origin, class_names=names, scale=_scale(source))
    frame = pd.DataFrame(bunch.data, columns=[str(n) for n in bunch.feature_names])
    return RawData(frame, bunch.target, origin, class_names=names)


def _scale(source: SourceSection) -> float:
    return 1 / source.scale_divisor


def _mnist(spec, source: MNISTSource, spec_dir: Path) -> RawData:
    folder = spec_dir / source.path
    if not folder.is_dir():
        raise_io(f"MNIST folder not found: {folder} ({where(spec, (*SOURCE, 'path'))})")
    train, test = find_idx_pair(folder, "train"), find_idx_pair(folder, "t10k")
    if train is None and test is None:
        raise_io(
            f"no MNIST IDX files in {folder}: expected train-images-idx3-ubyte[.gz] and "
            "train-labels-idx1-ubyte[.gz], or the t10k-* pair"
        )
    pairs = [pair for pair in (train, test) if pair is not None]
    main = _mnist_part(pairs[0], source)
    if len(pairs) == 2:
        main.test = _mnist_part(pairs[1], source)
    return main


def _mnist_part(pair: tuple[Path, Path], source: MNISTSource) -> RawData:
    images, labels = read_idx(pair[0], 3), read_idx(pair[1], 1)
    if len(images) != len(labels):
        raise_io(f"{pair[0]} has {len(images)} images but {pair[1]} has {len(labels)} labels")
    images, labels = images[: source.limit], labels[: source.limit]
    x = images.reshape(len(images), 1, *images.shape[1:])
    return RawData(x, labels.astype(np.int64), pair[0].name, scale=_scale(source))


def _npz(spec, source: NPZSource, spec_dir: Path) -> RawData:
    path = _file(spec, spec_dir, source.path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            shown = _inside(spec_dir, path)
            for key, field in ((source.x_key, "x_key"), (source.y_key, "y_key")):
                if key not in keys:
                    raise_located(
                        spec,
                        (*SOURCE, field),
                        f"{path.name} has no array '{key}'"
                        + (did_you_mean(key, keys) if shown else ""),
                        hint=f"its arrays: {keys}" if shown else None,
                        code="E502",
                    )
            _check_npz_size(archive, [source.x_key, source.y_key], path)
            x, y = archive[source.x_key], archive[source.y_key]
    except (OSError, ValueError, EOFError, zlib.error) as exc:
        raise_io(f"cannot read {path} as .npz (without pickle): {exc}")
    if len(x) != len(y):
        raise_located(
            spec,
            SOURCE,
            f"{path.name}: '{source.x_key}' has {len(x)} samples but '{source.y_key}' has {len(y)}",
            code="E501",
        )
    return RawData(_samples(x), y, path.name, (*SOURCE, "y_key"))


def _check_npz_size(archive: Any, keys: list[str], path: Path) -> None:
    """Refuse arrays whose declared size (zip entry and .npy header) passes the data limit,
    before numpy allocates and inflates them."""
    from numpy.lib import format as npy

    from specc.limits import check_data_size

    readers = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
    names = set(archive.zip.namelist())
    total = 0
    for key in keys:
        info = archive.zip.getinfo(f"{key}.npy" if f"{key}.npy" in names else key)
        declared = 0
        with archive.zip.open(info) as member:
            reader = readers.get(npy.read_magic(member))
            if reader is not None:
                shape, _, dtype = reader(member)
                declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
        total += max(info.file_size, declared)
    check_data_size(total, str(path))


def _torchvision(spec, source: TorchvisionSource, spec_dir: Path) -> RawData:
    try:
        import torchvision.datasets as tvd
    except ImportError:
        raise_located(
            spec,
            (*SOURCE, "type"),
            "the torchvision source needs torchvision, which is not installed",
            hint="pip install torchvision, or use the mnist, csv, npz or sklearn source",
            code="E503",
        )
    table = {
        "MNIST": tvd.MNIST,
        "FashionMNIST": tvd.FashionMNIST,
        "KMNIST": tvd.KMNIST,
        "CIFAR10": tvd.CIFAR10,
        "CIFAR100": tvd.CIFAR100,
    }
    if source.name not in table:
        raise_located(
            spec,
            (*SOURCE, "name"),
            f"unknown torchvision dataset '{source.name}'{did_you_mean(source.name, table)}",
            hint=f"known: {', '.join(table)}",
            code="E503",
        )
    root = spec_dir / source.root
    try:
        parts = [
            table[source.name](str(root), train=t, download=source.download) for t in (True, False)
        ]
    except (RuntimeError, OSError) as exc:
        raise_io(f"cannot load torchvision {source.name} from {root}: {exc}")
    main, test = (_tv_part(p, source) for p in parts)
    main.test = test
    return main


def _tv_part(dataset: Any, source: TorchvisionSource) -> RawData:
    x = np.asarray(dataset.data)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    names = [str(c) for c in getattr(dataset, "classes", [])] or None
    return RawData(
        x,
        np.asarray(dataset.targets, dtype=np.int64),
        f"torchvision {source.name}",
        class_names=names,
        scale=_scale(source),
    )


#: the reader of each source that is not ``lazy`` (by ``type``)
_LOADERS: dict[str, Callable[[Any, Any, Path], RawData]] = {
    "inline": _inline,
    "csv": _csv,
    "sklearn": _sklearn,
    "mnist": _mnist,
    "npz": _npz,
    "torchvision": _torchvision,
}
