"""Sources: inline, CSV (plain and gzipped), scikit-learn, MNIST IDX, npz, torchvision."""

from __future__ import annotations

import gzip
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from specc import SpecErrors, load_spec
from specc.data import prepare_data

SHIPPED = Path(__file__).resolve().parent.parent / "specs" / "data"


def make(tmp_path, data: str, *, shape="[4]", out=3, loss="cross_entropy", layers=None):
    layers = layers or f"    - {{type: linear, out_features: {out}}}\n"
    loss_line = f"loss: {loss}\n" if loss else ""
    text = (
        f"version: 1\nname: t\nseed: 7\nmodel:\n  input: {{shape: {shape}}}\n  layers:\n"
        f"{layers}{loss_line}data:\n" + textwrap.indent(textwrap.dedent(data), "  ")
    )
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return load_spec(path)


def test_inline_regression(tmp_path):
    spec = make(
        tmp_path,
        """\
        source: {type: inline, x: [[1, 2], [2, 3], [3, 4], [4, 5]], y: [3, 5, 7, 9]}
        """,
        shape="[2]",
        out=1,
        loss="mse",
    )
    data = prepare_data(spec)
    assert data.task == "regression" and data.num_classes is None
    assert data.train.x.dtype == torch.float32 and data.train.x.shape == (4, 2)
    assert data.train.y.shape == (4, 1) and data.train.y[:, 0].tolist() == [3, 5, 7, 9]
    assert data.val is None and data.test is None


def test_inline_string_labels_are_sorted_classes(tmp_path):
    spec = make(
        tmp_path,
        """\
        source: {type: inline, x: [[0], [1], [2], [3], [4], [5]], y: [b, a, c, a, b, c]}
        """,
        shape="[1]",
        out=3,
    )
    data = prepare_data(spec)
    assert data.task == "multiclass" and data.class_labels == ["a", "b", "c"]
    assert data.train.y.dtype == torch.int64 and data.train.y.tolist() == [1, 0, 2, 0, 1, 2]


@pytest.mark.parametrize("gz", [False, True])
def test_csv_plain_and_gzipped(tmp_path, gz):
    text = "a,b,label\n" + "".join(f"{i},{i * 2},{'yes' if i % 2 else 'no'}\n" for i in range(10))
    name = "d.csv.gz" if gz else "d.csv"
    (tmp_path / name).write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    spec = make(
        tmp_path,
        f"""\
        source: {{type: csv, path: {name}, target: label}}
        split: {{val: 0.2, stratify: true}}
        """,
        shape="[2]",
        out=1,
        loss="bce_with_logits",
    )
    data = prepare_data(spec)
    assert data.feature_names == ["a", "b"] and data.class_labels == ["no", "yes"]
    assert data.train.x.shape == (8, 2) and data.val.x.shape == (2, 2)
    assert data.train.y.dtype == torch.float32 and data.train.y.shape == (8, 1)
    assert sorted(data.val.y[:, 0].tolist()) == [0.0, 1.0]  # stratified


def test_shipped_pima_csv_gz(tmp_path):
    shutil.copy(SHIPPED / "diabetes.csv.gz", tmp_path)
    spec = make(
        tmp_path,
        """\
        source: {type: csv, path: diabetes.csv.gz, target: Outcome}
        preprocess: [{type: standard_scaler}]
        split: {val: 0.2, test: 0.1, stratify: true}
        """,
        shape="[8]",
        out=1,
        loss="bce_with_logits",
    )
    data = prepare_data(spec)
    assert len(data.train) + len(data.val) + len(data.test) == 768
    assert len(data.test) == 77 and len(data.val) == 154
    assert data.train.x.mean(0).abs().max() < 1e-5


@pytest.mark.parametrize("flat", [False, True])
def test_sklearn_digits_images_or_flat(tmp_path, flat):
    shape = "[64]" if flat else "[1, 8, 8]"
    layers = None if flat else "    - flatten\n    - {type: linear, out_features: 10}\n"
    spec = make(
        tmp_path,
        f"""\
        source: {{type: sklearn, name: digits, flat: {str(flat).lower()}}}
        split: {{val: 0.25}}
        """,
        shape=shape,
        out=10,
        layers=layers,
    )
    data = prepare_data(spec)
    assert data.num_classes == 10 and data.class_labels == [str(i) for i in range(10)]
    assert tuple(data.train.x.shape[1:]) == ((64,) if flat else (1, 8, 8))
    assert len(data.train) + len(data.val) == 1797
    assert data.train.x.max().item() == (16.0 if flat else 1.0)


def test_sklearn_iris_and_diabetes(tmp_path):
    iris = prepare_data(make(tmp_path, "source: {type: sklearn, name: iris}\n"))
    assert iris.class_labels == ["setosa", "versicolor", "virginica"]
    assert iris.feature_names[0] == "sepal length (cm)" and iris.train.x.shape == (150, 4)
    diabetes = prepare_data(
        make(tmp_path, "source: {type: sklearn, name: diabetes}\n", shape="[10]", out=1, loss="mse")
    )
    assert diabetes.task == "regression" and diabetes.train.y.shape == (442, 1)


def test_shipped_mnist_t10k_is_split(tmp_path):
    spec = make(
        tmp_path,
        f"""\
        source: {{type: mnist, path: {SHIPPED / "mnist"}, limit: 1000}}
        transforms: [{{type: normalize, mean: [0.1307], std: [0.3081]}}]
        split: {{val: 0.2, stratify: true}}
        """,
        shape="[1, 28, 28]",
        out=10,
        layers="    - flatten\n    - {type: linear, out_features: 10}\n",
    )
    data = prepare_data(spec)
    assert data.train.x.shape == (800, 1, 28, 28) and data.val.x.shape == (200, 1, 28, 28)
    assert data.test is None and data.num_classes == 10
    low = (0 - 0.1307) / 0.3081
    assert data.train.x.min().item() == pytest.approx(low, abs=1e-5)


def _write_idx(path: Path, array: np.ndarray, gz: bool) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def make_mnist(folder: Path, prefixes=("train", "t10k"), gz=True, n=20) -> None:
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    for prefix in prefixes:
        _write_idx(
            folder / f"{prefix}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28)), gz
        )
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(n) % 10, gz)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_train_and_t10k_files(tmp_path, gz):
    make_mnist(tmp_path / "m", gz=gz)
    spec = make(
        tmp_path, "source: {type: mnist, path: m}\nsplit: {val: 0.5}\n", shape="[784]", out=10
    )
    data = prepare_data(spec)
    assert len(data.train) == 10 and len(data.val) == 10 and len(data.test) == 20
    assert data.train.x.shape == (10, 784)  # images flattened for a flat input
    assert data.test.x.min().item() == 0.0 and data.test.x.max().item() == 1.0  # pixels / 255


def test_npz(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.arange(24.0).reshape(6, 4), labels=np.arange(6) % 3)
    spec = make(tmp_path, "source: {type: npz, path: d.npz, y_key: labels}\n")
    data = prepare_data(spec)
    assert data.train.x.shape == (6, 4) and data.train.y.tolist() == [0, 1, 2, 0, 1, 2]


def test_torchvision_missing_is_a_clear_error(tmp_path):
    try:
        import torchvision  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("torchvision is installed")
    spec = make(
        tmp_path,
        "source: {type: torchvision, name: MNIST}\n",
        shape="[1, 28, 28]",
        layers="    - flatten\n    - {type: linear, out_features: 10}\n",
    )
    with pytest.raises(SpecErrors) as info:
        prepare_data(spec)
    assert "needs torchvision, which is not installed" in str(info.value)
    assert info.value.errors[0].line == 11  # the data.source line
    assert info.value.errors[0].code == "E503"


def test_seeded_splits_are_deterministic(tmp_path):
    data = "source: {type: sklearn, name: wine}\nsplit: {val: 0.2, test: 0.2, stratify: true}\n"
    first = prepare_data(make(tmp_path, data, shape="[13]"))
    again = prepare_data(make(tmp_path, data, shape="[13]"))
    assert first.data_hash == again.data_hash
    assert torch.equal(first.val.x, again.val.x) and torch.equal(first.test.y, again.test.y)
    other = prepare_data(
        make(tmp_path, data.replace("stratify: true", "seed: 99, stratify: true"), shape="[13]")
    )
    assert other.data_hash != first.data_hash
    assert len(first.test) == len(other.test) == 36 and len(first.val) == 36
    counts = torch.bincount(first.test.y, minlength=3).tolist()
    assert counts == [12, 14, 10]  # stratified: 59/71/48 of 178 scaled to 36


def test_mnist_replay_on_raw_pixels(tmp_path):
    from specc.data import apply_preprocessing
    from specc.data.idx import read_idx

    spec = make(
        tmp_path,
        f"""\
        source: {{type: mnist, path: {SHIPPED / "mnist"}, limit: 50}}
        transforms: [{{type: normalize, mean: [0.1307], std: [0.3081]}}, {{type: pad, padding: 2}}]
        """,
        shape="[1, 32, 32]",
        out=10,
        layers="    - flatten\n    - {type: linear, out_features: 10}\n",
    )
    data = prepare_data(spec)
    raw = read_idx(SHIPPED / "mnist" / "t10k-images-idx3-ubyte.gz", 3)[:50]
    assert np.allclose(
        apply_preprocessing(data.preprocessing, raw), data.train.x.numpy(), atol=1e-6
    )
    one = apply_preprocessing(data.preprocessing, raw[7])
    assert one.shape == (1, 1, 32, 32) and np.allclose(one[0], data.train.x[7].numpy())
    assert data.train.y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the known first labels


def test_binary_numeric_labels_must_be_zero_one_even_with_names(tmp_path):
    (tmp_path / "d.csv").write_text("a,y\n1,1\n2,2\n3,1\n4,2\n")
    spec = make(
        tmp_path,
        "source: {type: csv, path: d.csv, target: y, labels: [lo, hi]}\n",
        shape="[1]",
        out=1,
        loss="bce_with_logits",
    )
    with pytest.raises(SpecErrors, match="needs a 0/1 target"):
        prepare_data(spec)
