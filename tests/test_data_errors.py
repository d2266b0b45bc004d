"""Bad data: each problem is one clear error naming the file and column, never a traceback."""

from __future__ import annotations

import gzip
import textwrap
from pathlib import Path

import numpy as np
import pytest

from specc import SpecErrors, load_spec
from specc.data import prepare_data
from specc.errors import RunError

CSV = "name,age,sex,label\n" + "".join(
    f"p{i},{20 + i},{'m' if i % 2 else 'f'},{i % 2}\n" for i in range(12)
)


def make(
    tmp_path,
    source: str,
    rest: str = "",
    *,
    shape="[2]",
    out=1,
    loss="bce_with_logits",
    csv: str | None = CSV,
):
    if csv is not None:
        (tmp_path / "d.csv").write_text(csv)
    text = textwrap.dedent(f"""\
        version: 1
        name: t
        model:
          input: {{shape: {shape}}}
          layers:
            - flatten
            - {{type: linear, out_features: {out}}}
        loss: {loss}
        data:
          source: {source}
        """) + textwrap.indent(textwrap.dedent(rest), "  ")
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return load_spec(path)


def error_of(spec, code: str):
    """The one located error preparing ``spec``'s data gives; it has ``code``."""
    with pytest.raises(SpecErrors) as info:
        prepare_data(spec)
    assert info.value.exit_code == 2
    (error,) = info.value.errors
    assert error.code == code, error
    return error


def run_error_of(spec) -> str:
    with pytest.raises(RunError) as info:
        prepare_data(spec)
    assert info.value.exit_code == 1
    return str(info.value)


def test_missing_file_names_the_file_and_suggests(tmp_path):
    spec = make(tmp_path, "{type: csv, path: d.cvs, target: label}")
    message = run_error_of(spec)
    assert "data file not found" in message and "d.cvs" in message
    assert "spec.yaml:10" in message and "did you mean 'd.csv'" in message


def test_misspelled_target_and_feature(tmp_path):
    error = error_of(make(tmp_path, "{type: csv, path: d.csv, target: lable}"), code="E502")
    assert error.message == "column 'lable' is not in d.csv (did you mean 'label'?)"
    assert error.line == 10 and error.key_path == ("data", "source", "target")
    spec = make(tmp_path, "{type: csv, path: d.csv, target: label, features: [age, sexx]}")
    error = error_of(spec, code="E502")
    assert "column 'sexx' is not in d.csv (did you mean 'sex'?)" in error.message
    assert (error.line, error.col) == (10, 67)  # the caret under sexx
    assert error.key_path == ("data", "source", "features", 1)


def test_misspelled_preprocess_column(tmp_path):
    spec = make(
        tmp_path,
        "{type: csv, path: d.csv, target: label, features: [age, sex]}",
        "preprocess:\n  - {type: one_hot_encoder, columns: [Sex]}\n",
        shape="[3]",
    )
    error = error_of(spec, code="E502")
    assert (
        "column 'Sex' is not among the features at this step (did you mean 'sex'?)" in error.message
    )
    assert error.line == 12


def test_text_in_a_numeric_column_names_file_column_and_line(tmp_path):
    csv = CSV.replace("p3,23,", "p3,twenty,")
    spec = make(
        tmp_path,
        "{type: csv, path: d.csv, target: label, features: [age]}",
        "preprocess: [{type: standard_scaler, columns: [age]}]\n",
        shape="[1]",
        csv=csv,
    )
    error = error_of(spec, code="E507")
    assert (
        "column 'age' of d.csv should hold numbers but has text 'twenty' (line 5)" in error.message
    )
    assert error.line == 11  # the standard_scaler step


def test_text_column_left_unencoded(tmp_path):
    spec = make(tmp_path, "{type: csv, path: d.csv, target: label, features: [age, name]}")
    error = error_of(spec, code="E507")
    assert "column 'name' of d.csv is text ('p0' (line 2))" in error.message
    assert "one_hot_encoder" in error.hint
    assert error.key_path == ("data", "source", "features", 1)


def test_nan_left_after_preprocessing(tmp_path):
    csv = CSV.replace("p3,23,", "p3,,")
    spec = make(
        tmp_path, "{type: csv, path: d.csv, target: label, features: [age]}", shape="[1]", csv=csv
    )
    error = error_of(spec, code="E507")
    assert (
        "column 'age' of d.csv has 1 missing values (NaN) left after preprocessing" in error.message
    )
    assert "simple_imputer" in error.hint


def test_labels_outside_the_class_range(tmp_path):
    csv = "a,b,y\n" + "".join(f"{i},{i},{i % 6}\n" for i in range(12))
    spec = make(
        tmp_path, "{type: csv, path: d.csv, target: y}", out=3, loss="cross_entropy", csv=csv
    )
    error = error_of(spec, code="E509")
    assert (
        "the target has class labels up to 5 but the output layer 'linear_1' has 3 units"
        in error.message
    )
    assert error.line == 7  # the output layer
    negative = csv.replace("\n0,0,0\n", "\n0,0,-1\n")
    error = error_of(
        make(
            tmp_path,
            "{type: csv, path: d.csv, target: y}",
            out=6,
            loss="cross_entropy",
            csv=negative,
        ),
        code="E505",
    )
    assert "class indices 0, 1, 2, ... but the target in d.csv has -1" in error.message


def test_bce_needs_a_zero_one_target(tmp_path):
    csv = "a,b,y\n" + "".join(f"{i},{i},{1 + i % 2}\n" for i in range(6))
    error = error_of(make(tmp_path, "{type: csv, path: d.csv, target: y}", csv=csv), code="E505")
    assert (
        "bce_with_logits needs a 0/1 target but the target in d.csv has values 1, 2"
        in error.message
    )
    assert error.line == 8  # the loss line


def test_empty_split(tmp_path):
    spec = make(
        tmp_path,
        "{type: inline, x: [[1, 2], [3, 4]], y: [0, 1]}",
        "split: {val: 0.2, test: 0.4}\n",
        csv=None,
    )
    error = error_of(spec, code="E506")  # 1 row is left after the test split: none can go to val
    assert error.message.startswith("cannot split off 0.333 of 1 samples for val: ")
    assert error.key_path == ("data", "split", "val")


def test_target_with_missing_values(tmp_path):
    csv = CSV.replace("p3,23,m,1", "p3,23,m,")
    error = error_of(
        make(
            tmp_path,
            "{type: csv, path: d.csv, target: label, features: [age]}",
            shape="[1]",
            csv=csv,
        ),
        code="E505",
    )
    assert error.message == "the target in d.csv has 1 missing values"


def _mnist_spec(tmp_path):
    return make(
        tmp_path,
        "{type: mnist, path: m}",
        shape="[1, 28, 28]",
        out=10,
        loss="cross_entropy",
        csv=None,
    )


def _idx(array: np.ndarray) -> bytes:
    return (
        bytes([0, 0, 8, array.ndim])
        + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
        + array.astype(np.uint8).tobytes()
    )


def _mnist(folder: Path, images: bytes, labels: bytes) -> None:
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(images)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(labels)


def test_corrupt_gzip(tmp_path):
    good = gzip.compress(_idx(np.zeros(4)))
    _mnist(tmp_path / "m", gzip.compress(_idx(np.zeros((4, 28, 28))))[:-30], good)
    message = run_error_of(_mnist_spec(tmp_path))
    assert "t10k-images-idx3-ubyte.gz is not a valid gzip file" in message


def test_corrupt_idx(tmp_path):
    labels = gzip.compress(_idx(np.zeros(4)))
    _mnist(tmp_path / "m", gzip.compress(b"\x00\x00\x09\x03garbage"), labels)
    assert "is not an IDX file of 3-D unsigned bytes" in run_error_of(_mnist_spec(tmp_path))


def test_truncated_idx_and_count_mismatch(tmp_path):
    labels = gzip.compress(_idx(np.zeros(5)))
    _mnist(tmp_path / "m", gzip.compress(_idx(np.zeros((4, 28, 28)))[:-10]), labels)
    message = run_error_of(_mnist_spec(tmp_path))
    assert "is corrupt: the header promises [4, 28, 28] values" in message
    (tmp_path / "m" / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(_idx(np.zeros((4, 28, 28))))
    )
    assert "has 4 images but" in run_error_of(_mnist_spec(tmp_path))


def test_corrupt_csv_gz_and_missing_folder(tmp_path):
    (tmp_path / "d.csv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    message = run_error_of(make(tmp_path, "{type: csv, path: d.csv.gz, target: y}", csv=None))
    assert message.startswith("cannot read") and "d.csv.gz" in message
    assert "MNIST folder not found" in run_error_of(_mnist_spec(tmp_path))


def test_npz_wrong_key_is_located(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 2)), target=np.zeros(3))
    error = error_of(make(tmp_path, "{type: npz, path: d.npz}", csv=None), code="E502")
    assert error.message == "d.npz has no array 'y'"
    assert error.key_path == ("data", "source", "y_key")


def test_text_target_for_regression(tmp_path):
    error = error_of(
        make(
            tmp_path,
            "{type: csv, path: d.csv, target: sex, features: [age]}",
            shape="[1]",
            loss="mse",
        ),
        code="E505",
    )
    assert error.message == "mse needs a numeric target but d.csv has 'f'"
    assert error.key_path == ("data", "source", "target")


def test_stratify_needs_classes(tmp_path):
    spec = make(
        tmp_path,
        "{type: csv, path: d.csv, target: age, features: [label]}",
        "split: {val: 0.25, stratify: true}\n",
        shape="[1]",
        loss="mse",
    )
    error = error_of(spec, code="E506")
    assert error.message == "stratify needs a class target, but the task is regression"
    assert error.line == 11


def test_split_test_with_the_sources_own_test_files(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    for prefix in ("train", "t10k"):
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(_idx(np.zeros((4, 28, 28))))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx(np.arange(4)))
    spec = make(
        tmp_path,
        "{type: mnist, path: m}",
        "split: {test: 0.5}\n",
        shape="[1, 28, 28]",
        out=10,
        loss="cross_entropy",
        csv=None,
    )
    error = error_of(spec, code="E506")
    assert error.message == "the source has its own test files; remove split.test"
