"""The standalone train.py written by ``specc build --emit``.

The central test runs every emitted train.py for two epochs in one subprocess in which
``import specc`` fails, and checks that its final train/val (and test) losses equal those of
``specc train`` for the same seed within 1e-5, and that its saved weights load into specc's
model with ``strict=True`` and equal the weights of specc's ``last.pt``. The specs cover
every data source train.py supports (csv, inline, sklearn, mnist with its own test files,
npz), every preprocessing step, the stateless transforms, several losses, optimizers and
schedulers (per epoch, per batch, on plateau), grad clipping and ``shuffle: false``.
Other tests: ruff defaults, the AST (imports, no specc), golden files, hostile text, and the
located refusal for what train.py does not support.
"""

from __future__ import annotations

import ast
import gzip
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from compiler_helpers import ruff, spec_from_text
from regen_golden import GOLDEN_TRAIN, golden_train_source

from specc.backends.emit import emit
from specc.backends.train_source import render_train_source
from specc.data.idx import read_idx
from specc.errors import SpecErrors
from specc.spec.validate import load_spec
from specc.train import train

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
EPOCHS = 2
TOLERANCE = 1e-5

# Runs each train.py given as an argument as __main__ (``--epochs 2``, its folder first on
# sys.path, a fresh ``model`` module), with every import of specc refused.
_RUNNER = """
import os, runpy, sys, time
class _NoSpecc:
    def find_spec(self, name, path=None, target=None):
        if name == "specc" or name.startswith("specc."):
            raise ImportError("specc is blocked in this process")
sys.meta_path.insert(0, _NoSpecc())
for script in sys.argv[1:]:
    folder = os.path.dirname(script)
    sys.path.insert(0, folder)
    sys.modules.pop("model", None)
    sys.argv = [script, "--epochs", "EPOCHS"]
    print("=== " + script, flush=True)
    began = time.perf_counter()
    runpy.run_path(script, run_name="__main__")
    print(f"seconds {time.perf_counter() - began:.2f}", flush=True)
    sys.path.remove(folder)
assert not any(m == "specc" or m.startswith("specc.") for m in sys.modules)
""".replace("EPOCHS", str(EPOCHS))


# --- the specs (shipped ones and ones written here with their data) ------------------------

MNIST_SMALL = """
version: 1
name: mnist_small
seed: 3
model:
  input: {shape: [1, 28, 28]}
  layers:
    - {type: conv2d, out_channels: 4, kernel_size: 3}
    - relu
    - {type: maxpool2d, kernel_size: 4}
    - flatten
    - {type: dropout, p: 0.2}
    - {type: linear, out_features: 10}
loss: cross_entropy
optimizer: {type: sgd, lr: 0.05, momentum: 0.9, nesterov: true}
scheduler: {type: step_lr, step_size: 1, gamma: 0.5}
data:
  source: {type: mnist, path: idx, limit: 300}
  transforms: [{type: normalize, mean: [0.1307], std: [0.3081]}]
  split: {val: 0.25, stratify: true}
  batch_size: 32
train: {epochs: 4, device: cpu}
"""

TITANIC_TEST_SPLIT = """
version: 1
name: titanic_split
seed: 5
model:
  input: {shape: [10]}
  layers:
    - {type: linear, out_features: 8}
    - relu
    - {type: linear, out_features: 1}
loss: {type: bce_with_logits, pos_weight: 1.5}
optimizer: {type: adamw, lr: 0.01, weight_decay: 0.05}
scheduler: {type: cosine_annealing}
data:
  source:
    type: csv
    path: titanic.csv
    target: Survived
    features: [Pclass, Sex, Age, SibSp, Parch, Fare, Embarked]
  preprocess:
    - {type: simple_imputer, strategy: median, columns: [Age]}
    - {type: simple_imputer, strategy: most_frequent, columns: [Embarked]}
    - {type: one_hot_encoder, columns: [Sex, Embarked]}
    - {type: standard_scaler}
  split: {val: 0.2, test: 0.1, stratify: true, seed: 11}
  batch_size: 64
train: {epochs: 5, device: cpu, grad_clip: 0.5}
"""

INLINE_TEXT_LABELS = """
version: 1
name: inline_labels
seed: 1
model:
  input: {shape: [2]}
  layers:
    - {type: linear, out_features: 6}
    - tanh
    - {type: linear, out_features: 3}
loss: {type: cross_entropy, label_smoothing: 0.1, weight: [1.0, 2.0, 0.5]}
optimizer: {type: rmsprop, lr: 0.01}
scheduler: {type: reduce_lr_on_plateau, patience: 0, factor: 0.5}
data:
  source:
    type: inline
    x: %s
    y: %s
  preprocess: [{type: ordinal_encoder, columns: [x1]}, {type: min_max_scaler}]
  split: {val: 0.3, stratify: true}
  batch_size: 4
  shuffle: false
train: {epochs: 3, device: cpu, early_stopping: {monitor: val_accuracy, patience: 1}}
"""

NPZ_REGRESSION = """
version: 1
name: npz_regression
seed: 2
model:
  input: {shape: [3]}
  layers:
    - {type: linear, out_features: 5}
    - relu
    - {type: linear, out_features: 2}
loss: {type: huber, delta: 0.5, reduction: sum}
optimizer: {type: sgd, lr: 0.01}
scheduler: {type: one_cycle, max_lr: 0.05}
data:
  source: {type: npz, path: table.npz, x_key: features, y_key: targets}
  preprocess: [{type: min_max_scaler, feature_range: [-1, 1]}]
  split: {val: 0.2, test: 0.2}
  batch_size: 8
train: {epochs: 3, device: cpu, metrics: [mae]}
"""

DIGITS_PAD_RESIZE = """
version: 1
name: digits_resize
seed: 4
model:
  input: {shape: [1, 6, 6]}
  layers:
    - {type: conv2d, out_channels: 3, kernel_size: 3}
    - relu
    - flatten
    - {type: linear, out_features: 10}
    - logsoftmax
loss: nll
optimizer: {type: adagrad, lr: 0.05}
scheduler: {type: multi_step_lr, milestones: [1], gamma: 0.3}
data:
  source: {type: sklearn, name: digits}
  transforms:
    - {type: pad, padding: [1, 2]}
    - {type: resize, size: 6}
    - {type: normalize, mean: [0.3], std: [0.4]}
  split: {val: 0.2, stratify: true}
  batch_size: 128
train: {epochs: 3, device: cpu}
"""


def _inline_data() -> tuple[list, list]:
    """30 rows [number, colour] and text labels that depend on them."""
    rng = np.random.default_rng(0)
    colours = ["red", "green", "blue"]
    xs, ys = [], []
    for i in range(30):
        value = round(float(rng.normal()), 3)
        colour = colours[i % 3]
        xs.append([value, colour])
        ys.append(["cat", "dog", "emu"][(i + (value > 0)) % 3])
    return xs, ys


def _write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def _make_cases(base: Path) -> dict[str, Path]:
    """Spec files (shipped or written with their data under ``base``) by case name."""
    cases = {name: SPECS / f"{name}.yaml" for name in ("diabetes", "linear_regression")}
    mnist = SPECS / "data" / "mnist"
    images = read_idx(mnist / "t10k-images-idx3-ubyte.gz", 3)
    labels = read_idx(mnist / "t10k-labels-idx1-ubyte.gz", 1)
    (base / "idx").mkdir(parents=True)
    _write_idx(base / "idx" / "train-images-idx3-ubyte", images[:400], compress=False)
    _write_idx(base / "idx" / "train-labels-idx1-ubyte", labels[:400], compress=False)
    _write_idx(base / "idx" / "t10k-images-idx3-ubyte.gz", images[400:500], compress=True)
    _write_idx(base / "idx" / "t10k-labels-idx1-ubyte.gz", labels[400:500], compress=True)
    shutil.copy(SPECS / "data" / "titanic.csv", base / "titanic.csv")
    rng = np.random.default_rng(1)
    features = rng.normal(size=(60, 3))
    targets = features @ rng.normal(size=(3, 2)) + 0.1 * rng.normal(size=(60, 2))
    np.savez(base / "table.npz", features=features, targets=targets)
    x, y = _inline_data()
    texts = {
        "mnist_small": MNIST_SMALL,
        "titanic_split": TITANIC_TEST_SPLIT,
        "inline_labels": INLINE_TEXT_LABELS % (x, y),
        "npz_regression": NPZ_REGRESSION,
        "digits_resize": DIGITS_PAD_RESIZE,
    }
    for name, text in texts.items():
        path = base / f"{name}.yaml"
        path.write_text(text.replace("'", '"'), encoding="utf-8")
        cases[name] = path
    return cases


def _parse(output: str) -> dict[str, dict[str, float]]:
    """script path -> the numbers of its last epoch line and its test line."""
    results: dict[str, dict[str, float]] = {}
    current = None
    for line in output.splitlines():
        if line.startswith("=== "):
            current = results.setdefault(line[4:], {})
        elif current is not None:
            current.update({k: float(v) for k, v in re.findall(r"(\w+_\w+) (-?[\d.]+)", line)})
    return results


@pytest.fixture(scope="module")
def agreement(tmp_path_factory):
    """Emit and run every case's train.py; train each with specc. Returns per case:
    (spec, emit dir, train.py numbers, specc summary, specc run dir)."""
    base = tmp_path_factory.mktemp("train_py")
    cases = _make_cases(base / "data")
    emitted = {}
    for name, path in cases.items():
        spec = load_spec(path)
        out = base / "emit" / name
        written = emit(spec, out)
        assert [p.name for p in written] == ["model.py", "train.py"]
        emitted[name] = (spec, out)
    scripts = [str(out / "train.py") for _, out in emitted.values()]
    # the scripts run in the background while specc trains the same specs here (without
    # drawing curves.png: matplotlib would take most of the time and changes no number)
    command = [sys.executable, "-I", "-c", _RUNNER, *scripts]
    with (
        pytest.MonkeyPatch.context() as patch,
        subprocess.Popen(
            command, cwd=base, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as proc,
    ):
        patch.setattr("specc.train.plots.plot_curves", lambda *args, **kwargs: None)
        runs = {
            name: train(
                spec, out_dir=base / "runs" / name, overrides=[f"train.epochs={EPOCHS}"], quiet=True
            )
            for name, (spec, _) in emitted.items()
        }
        stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]
    numbers = _parse(stdout)
    return {
        name: (spec, out, numbers[str(out / "train.py")], runs[name].summary, runs[name].run_dir)
        for name, (spec, out) in emitted.items()
    }


CASES = [
    "diabetes",
    "linear_regression",
    "mnist_small",
    "titanic_split",
    "inline_labels",
    "npz_regression",
    "digits_resize",
]


@pytest.mark.parametrize("name", CASES)
@pytest.mark.slow
def test_train_py_losses_equal_specc_train(agreement, name: str) -> None:
    spec, _, ours, summary, _ = agreement[name]
    final = summary["final"]
    assert final["epoch"] == EPOCHS
    keys = [k for k in ("train_loss", "val_loss", "train_accuracy", "val_accuracy") if k in final]
    assert "train_loss" in keys
    for key in keys:
        tolerance = TOLERANCE if key.endswith("loss") else 1e-4  # accuracy printed .4f
        assert ours[key] == pytest.approx(final[key], abs=tolerance), (key, ours, final)
    has_test = bool(spec.data.split.test) or spec.data.source.type == "mnist"
    assert bool(summary.get("test")) == has_test == ("test_loss" in ours), (summary, ours)
    if has_test:
        assert ours["test_loss"] == pytest.approx(summary["test"]["test_loss"], abs=TOLERANCE)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.slow
def test_saved_weights_load_strictly_and_equal_specc_weights(agreement, name: str) -> None:
    from specc import build_model

    spec, out, _, _, run_dir = agreement[name]
    ours = torch.load(out / "model.pt", weights_only=True)
    model = build_model(spec)
    model.load_state_dict(ours, strict=True)
    theirs = torch.load(run_dir / "last.pt", weights_only=True)["model"]
    for key, value in theirs.items():
        torch.testing.assert_close(ours[key], value, atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_cases_cover_every_supported_source_step_and_schedule(agreement) -> None:
    specs = [agreement[name][0] for name in CASES]
    sources = {s.data.source.type for s in specs}
    assert sources == {"csv", "inline", "sklearn", "mnist", "npz"}
    steps = {p.type for s in specs for p in s.data.preprocess}
    assert steps == {
        "simple_imputer",
        "one_hot_encoder",
        "ordinal_encoder",
        "standard_scaler",
        "min_max_scaler",
    }
    assert {t.type for s in specs for t in s.data.transforms} == {"normalize", "pad", "resize"}
    schedulers = {s.scheduler.type for s in specs if s.scheduler is not None}
    assert {"step_lr", "one_cycle", "reduce_lr_on_plateau", "cosine_annealing"} <= schedulers


@pytest.mark.slow
def test_emitted_train_py_passes_ruff_defaults(agreement) -> None:
    paths = [str(agreement[name][1] / "train.py") for name in CASES]
    check = ruff("check", *paths)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = ruff("format", "--check", "--diff", *paths)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@pytest.mark.slow
def test_train_py_imports_only_torch_numpy_sklearn_pandas_and_the_model(agreement) -> None:
    allowed = {
        "argparse",
        "random",
        "gzip",
        "struct",
        "math",
        "pathlib",
        "numpy",
        "pandas",
        "torch",
        "sklearn",
        "model",
    }
    for name in CASES:
        tree = ast.parse((agreement[name][1] / "train.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {node.module.split(".")[0]}
            elif isinstance(node, ast.Name):
                assert node.id not in {"eval", "exec", "getattr", "__import__"}, name
                continue
            else:
                continue
            assert roots <= allowed, (name, roots)


# --- golden files, hostile text, refusals ------------------------------------------------------


@pytest.mark.parametrize("spec_path", sorted(GOLDEN_TRAIN))
def test_golden_train_files(spec_path: str) -> None:
    golden = ROOT / "tests/golden" / GOLDEN_TRAIN[spec_path]
    assert golden_train_source(spec_path) == golden.read_text(encoding="utf-8"), (
        f"{golden} is out of date; after an intended change run "
        "`.venv/bin/python tests/regen_golden.py` and review the diff"
    )


HOSTILE = {
    "version": 1,
    "name": "hostile",
    "seed": 0,
    "model": {"input": {"shape": [1]}, "layers": [{"type": "linear", "out_features": 1}]},
    "loss": "mse",
    "optimizer": "sgd",
    "data": {"source": {"type": "csv", "path": "d'\"\\q\nx.csv", "target": "t'\"\\\n"}},
}


def test_hostile_paths_and_columns_are_inert_literals(tmp_path: Path) -> None:
    spec = spec_from_text(yaml.safe_dump(HOSTILE), str(tmp_path / "s'\"\n# x.yaml"))
    text = render_train_source(spec, tmp_path / "out")
    tree = ast.parse(text)
    consts = {n.targets[0].id: n.value for n in tree.body if isinstance(n, ast.Assign)}
    assert ast.literal_eval(consts["TARGET"]) == "t'\"\\\n"
    data_path = consts["DATA_PATH"]
    assert isinstance(data_path, ast.BinOp)
    assert ast.literal_eval(data_path.right) == "../d'\"\\q\nx.csv"
    title = text.splitlines()[0]  # the spec's file name reaches text only made safe
    assert title.startswith('"""Train Hostile') and title.count('"') == 3 and "'" not in title
    assert "\n# x" not in text
    compile(text, "train.py", "exec")


def test_unsupported_features_are_located_refusals_and_model_py_is_still_written(
    tmp_path: Path,
) -> None:
    text = (SPECS / "lenet.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "transforms: [{type: normalize, mean: [0.1307], std: [0.3081]}]",
        "transforms: [{type: random_horizontal_flip}]",
    )
    text = text.replace(
        "  metrics: [accuracy]",
        "  metrics: [accuracy]\n"
        "  precision: bf16\n  early_stopping: {monitor: val_f1, patience: 2}",
    )
    spec_file = SPECS / "tmp_unsupported.yaml"
    spec = spec_from_text(text, str(spec_file))
    with pytest.raises(SpecErrors) as info:
        emit(spec, tmp_path)
    errors = info.value.errors
    messages = [e.message for e in errors]
    assert any("random_horizontal_flip augmentation" in m for m in messages)
    assert any("precision bf16" in m for m in messages)
    assert any("early stopping" in m for m in messages)
    flip_line = text.splitlines().index("  transforms: [{type: random_horizontal_flip}]") + 1
    assert flip_line in [e.line for e in errors]
    assert all("train.py does not support" in m for m in messages)
    assert {e.code for e in errors} == {"E605"}
    assert (tmp_path / "model.py").exists() and not (tmp_path / "train.py").exists()


def test_a_spec_without_training_sections_gets_only_model_py(tmp_path: Path) -> None:
    spec = spec_from_text(
        "version: 1\nname: m\nmodel:\n  input: {shape: [3]}\n"
        "  layers: [{type: linear, out_features: 2}]\n"
    )
    assert [p.name for p in emit(spec, tmp_path)] == ["model.py"]
