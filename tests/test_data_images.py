"""The ``image_folder`` source: listing, integrity checks, located errors, lazy decoding in
DataLoader workers (reproducible, resumable), augmentation, and ``specc predict`` on folders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from export_helpers import cli_in_process
from PIL import Image
from train_helpers import assert_same_weights, one_thread, weights

from specc.data import prepare_data
from specc.data.images import Recipe, check_file, decode, list_folder
from specc.errors import RunError, SpecErrors
from specc.spec.validate import load_spec
from specc.workflow import train

CLASSES = ("bird", "cat", "dog")

SPEC = """\
version: 1
name: folders
seed: 5
model:
  input: {shape: [3, 12, 12]}
  layers:
    - {type: conv2d, out_channels: 4, kernel_size: 3}
    - relu
    - {type: adaptiveavgpool2d, output_size: 1}
    - flatten
    - {type: linear, out_features: 3}
loss: cross_entropy
optimizer: {type: adam, lr: 0.05}
data:
  source: {type: image_folder, path: pics%(source)s}
  transforms:%(augment)s
    - {type: normalize, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}
  split: {val: 0.25, stratify: true}
  batch_size: 8
  num_workers: %(workers)s
train: {epochs: 3, device: cpu, metrics: [accuracy]}
export:
  onnx: {opset: 18}
"""

AUGMENT = """
    - {type: random_resized_crop, size: 12, scale: [0.6, 1.0]}
    - {type: random_rotation, degrees: 15}
    - {type: color_jitter, brightness: 0.3, contrast: 0.3, saturation: 0.3}
    - {type: random_horizontal_flip}"""


def write_images(root, per_class: int = 12, seed: int = 0) -> None:
    """Class k: one colour channel bright, noisy, of varying size; PNG and JPEG mixed."""
    rng = np.random.default_rng(seed)
    for k, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 90, (14 + i % 5, 16 + i % 3, 3), dtype=np.uint8)
            pixels[..., k] += 150
            Image.fromarray(pixels).save(root / name / f"{i:03d}.{'png' if i % 2 else 'jpg'}")


def write_spec(folder, *, augment: bool = True, workers: int = 2, source: str = "") -> object:
    text = SPEC % {"augment": AUGMENT if augment else "", "workers": workers, "source": source}
    (folder / "spec.yaml").write_text(text)
    return folder / "spec.yaml"


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    write_images(root / "pics")
    return root


@pytest.fixture(scope="module")
def run(folder):
    with one_thread():  # module fixtures start before the autouse one
        return train(load_spec(write_spec(folder)), out_dir=folder / "two", quiet=True)


# --- listing, checks, decoding ---------------------------------------------------------------


def test_listing_is_sorted_and_keeps_only_the_extensions(tmp_path):
    for name in ("b", "a", ".hidden"):
        (tmp_path / name).mkdir()
    for name in ("a/2.png", "a/1.PNG", "a/notes.txt", "b/x.jpg", ".hidden/y.png"):
        (tmp_path / name).write_bytes(b"")
    found = list_folder(tmp_path, ["png", ".jpg"])
    assert found.classes == ["a", "b"]
    assert found.paths.tolist() == [b"a/1.PNG", b"a/2.png", b"b/x.jpg"]
    assert found.labels.tolist() == [0, 0, 1]
    assert list_folder(tmp_path, ["jpg"]).empty == ["a"]


def test_check_file_finds_non_images_and_truncated_files(tmp_path):
    Image.new("RGB", (9, 7), (10, 20, 30)).save(tmp_path / "ok.png")
    Image.new("RGB", (40, 40), (10, 20, 30)).save(tmp_path / "ok.jpg", quality=90)
    (tmp_path / "text.png").write_text("not an image")
    whole = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(whole[: len(whole) - 20])
    jpeg = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    assert check_file(str(tmp_path / "ok.png")) is None
    assert check_file(str(tmp_path / "ok.jpg")) is None
    assert "not an image" in check_file(str(tmp_path / "text.png"))
    assert "truncated" in check_file(str(tmp_path / "cut.png"))
    assert "truncated" in check_file(str(tmp_path / "cut.jpg")).lower()


def test_default_decoding_is_resize_to_cover_then_centre_crop(tmp_path):
    """A 40x20 image whose middle 28 columns are white: the 10x10 centre crop of the 20x10 resize
    sees only the white part; a resize to exactly 10x10 keeps the dark sides."""
    pixels = np.zeros((20, 40), dtype=np.uint8)
    pixels[:, 6:34] = 255
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    cover = decode(str(tmp_path / "wide.png"), Recipe("L", (10, 10)))
    exact = decode(str(tmp_path / "wide.png"), Recipe("RGB", (10, 10), "exact"))
    assert cover.shape == (1, 10, 10) and cover.dtype == np.uint8
    assert cover.min() >= 250
    assert exact.shape == (3, 10, 10) and exact[:, :, 0].max() < 10


def test_jpeg_draft_decoding_matches_a_full_decode(tmp_path):
    """Reduced-size JPEG decoding (draft mode) gives nearly the pixels of a full decode."""
    y, x = np.mgrid[0:512, 0:512]
    pixels = np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "big.jpg", quality=95)
    fast = decode(str(tmp_path / "big.jpg"), Recipe("RGB", (32, 32))).astype(np.float64)
    with Image.open(tmp_path / "big.jpg") as image:
        full = np.asarray(image.convert("RGB").resize((32, 32), Image.Resampling.BILINEAR))
    assert np.abs(fast - full.transpose(2, 0, 1)).mean() < 6


# --- located errors ------------------------------------------------------------------------


def _errors(folder) -> SpecErrors:
    with pytest.raises(SpecErrors) as caught:
        prepare_data(load_spec(write_spec(folder, augment=False)))
    return caught.value


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({}, "has no class folders"),
        ({"cat": 2, "dog": 0}, "class folder 'dog'"),
        ({"cat": 3}, "one class folder"),
    ],
)
def test_bad_layouts_are_errors_at_the_source_line(tmp_path, layout, message):
    (tmp_path / "pics").mkdir()
    for name, count in layout.items():
        (tmp_path / "pics" / name).mkdir()
        for i in range(count):
            Image.new("RGB", (4, 4)).save(tmp_path / "pics" / name / f"{i}.png")
    errors = _errors(tmp_path)
    assert message in str(errors) and errors.errors[0].code == "E504"
    assert errors.errors[0].line == 15 and errors.errors[0].key_path[:2] == ("data", "source")


def test_a_validation_class_unknown_to_training_is_located(tmp_path):
    write_images(tmp_path / "pics", per_class=2)
    write_images(tmp_path / "val", per_class=1)
    (tmp_path / "val" / "cow").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "val" / "cow" / "0.png")
    text = (SPEC % {"augment": "", "workers": 0, "source": ", val_path: val"}).replace(
        "  split: {val: 0.25, stratify: true}\n", ""
    )
    (tmp_path / "spec.yaml").write_text(text)
    with pytest.raises(SpecErrors) as caught:
        prepare_data(load_spec(tmp_path / "spec.yaml"))
    assert "'cow'" in str(caught.value) and caught.value.errors[0].code == "E504"
    assert caught.value.errors[0].key_path == ("data", "source", "val_path")


@pytest.mark.slow
def test_bad_files_are_named_before_training_or_skipped_and_counted(tmp_path):
    write_images(tmp_path / "pics", per_class=6)
    (tmp_path / "pics" / "cat" / "broken.png").write_text("junk")
    whole = (tmp_path / "pics" / "dog" / "001.png").read_bytes()
    (tmp_path / "pics" / "dog" / "cut.png").write_bytes(whole[:-30])
    with pytest.raises(RunError) as caught:
        prepare_data(load_spec(write_spec(tmp_path, augment=False)))
    text = str(caught.value)
    assert "2 bad image files" in text and "broken.png" in text and "cut.png" in text
    assert "on_bad_file: skip" in text
    spec = load_spec(write_spec(tmp_path, augment=False, workers=0, source=", on_bad_file: skip"))
    result = train(spec, out_dir=tmp_path / "run", quiet=True, overrides=["train.epochs=1"])
    assert result.summary["data"]["skipped_files"] == 2
    assert sum(result.summary["data"]["images"].values()) == 18


def test_a_file_that_fails_to_decode_later_stops_with_its_path(tmp_path):
    write_images(tmp_path / "pics", per_class=4)
    spec = load_spec(write_spec(tmp_path, augment=False, workers=0))
    data = prepare_data(spec)
    victim = data.train.listing.path(0)
    with open(victim, "r+b") as handle:  # header intact, pixels garbled: passes the check
        handle.seek(60)
        handle.write(b"\x00" * 200)
    with pytest.raises(RunError, match="cannot decode image"):
        list(data.train.chunks(4, torch.device("cpu")))


def test_color_jitter_on_in_memory_data_is_located(tmp_path):
    text = """\
version: 1
name: jitter
model:
  input: {shape: [1, 8, 8]}
  layers: [flatten, {type: linear, out_features: 10}]
loss: cross_entropy
optimizer: sgd
data:
  source: {type: sklearn, name: digits}
  transforms: [{type: color_jitter, brightness: 0.2}]
"""
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(SpecErrors) as caught:
        prepare_data(load_spec(tmp_path / "s.yaml"))
    assert caught.value.errors[0].key_path == ("data", "transforms", 0)


# --- training -------------------------------------------------------------------------------


def test_training_learns_and_records_the_class_names(run):
    s = run.summary
    assert s["class_labels"] == list(CLASSES)
    assert s["data"] == {
        "images": {"train": 27, "val": 9},
        "skipped_files": 0,
        "decode_failures": 0,
    }
    assert s["final"]["val_accuracy"] >= 0.6  # three colours: easy once learned


def test_workers_and_seed_give_identical_weights(folder, run):
    """0 workers (decoding in the trainer) and 2 workers: the same batches, augmentation and
    weights; the order and the augmentation come from the seeded generators only."""
    zero = train(load_spec(write_spec(folder, workers=0)), out_dir=folder / "zero", quiet=True)
    assert_same_weights(weights(run.run_dir), weights(zero.run_dir))


def test_resume_is_exact(folder, run):
    write_spec(folder)
    train(
        load_spec(folder / "spec.yaml"),
        out_dir=folder / "cut",
        quiet=True,
        overrides=["train.epochs=1"],
    )
    resumed = train(resume=folder / "cut", overrides=["train.epochs=3"], quiet=True)
    assert resumed.summary["epochs_run"] == 3
    assert_same_weights(weights(folder / "cut"), weights(run.run_dir))


def test_memory_holds_paths_not_pixels(folder):
    data = prepare_data(load_spec(write_spec(folder)))
    assert data.train.listing.paths.dtype.kind == "S"
    assert not hasattr(data.train, "x")


def test_predict_on_a_folder_gives_a_row_per_file_with_class_names(folder, run, capsys):
    """onnxruntime on a folder of files equals the trained torch model on the validation
    decoding of the same files."""
    import io

    import pandas as pd

    from specc.rundir import load_run

    code, out, err = cli_in_process(
        capsys, "predict", run.run_dir / "model.onnx", folder / "pics", "--top-k", "2"
    )
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out))
    assert list(table.columns) == [
        "file",
        "class_1",
        "label_1",
        "probability_1",
        "class_2",
        "label_2",
        "probability_2",
    ]
    assert len(table) == 36 and table["file"].iloc[0] == "bird/000.jpg"
    assert set(table["label_1"]) <= set(CLASSES)
    import specc

    spec, checkpoint = load_run(run.run_dir)
    model = specc.build_model(spec)
    model.load_state_dict(checkpoint["model"])
    model.eval()
    split = prepare_data(load_spec(write_spec(folder))).val
    files = [f.decode() for f in split.listing.paths.tolist()]
    x = torch.cat([chunk for chunk, _ in split.chunks(64, torch.device("cpu"))])
    probs = torch.softmax(model(x), 1).detach().numpy()
    rows = table.set_index("file").loc[files]
    np.testing.assert_allclose(rows["probability_1"], probs.max(1), atol=1e-5)
    np.testing.assert_array_equal(rows["class_1"], probs.argmax(1))


def test_train_py_refuses_at_the_source_line(folder, capsys):
    code, _, err = cli_in_process(
        capsys, "build", write_spec(folder, augment=False), "--emit", folder / "emitted"
    )
    assert code == 2
    assert "spec.yaml:15:" in err and "image_folder" in err


# --- augmentation ---------------------------------------------------------------------------


def _step(text: str):
    import yaml
    from pydantic import TypeAdapter

    from specc.spec.sections import Transform

    return TypeAdapter(Transform).validate_python(yaml.safe_load(text))


def _apply(text: str, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    from specc.data import augment

    step = _step(text)
    return getattr(augment, step.type)(step, torch.Generator().manual_seed(seed))(x)


def test_augmentations_are_identities_at_their_neutral_settings():
    x = torch.rand(4, 3, 10, 10)
    same = _apply("{type: random_resized_crop, size: 10, scale: [1, 1], ratio: [1, 1]}", x)
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    torch.testing.assert_close(
        _apply("{type: random_rotation, degrees: 0}", x), x, atol=1e-5, rtol=0
    )
    assert torch.equal(_apply("{type: color_jitter}", x), x)


def test_rotation_by_180_degrees_flips_both_axes_and_jitter_scales_brightness():
    x = torch.rand(2, 1, 8, 6)
    turned = _apply("{type: random_rotation, degrees: [180, 180]}", x)
    torch.testing.assert_close(turned, x.flip(-1).flip(-2), atol=1e-5, rtol=0)
    brighter = _apply("{type: color_jitter, brightness: [2, 2]}", x)
    torch.testing.assert_close(brighter, (2 * x).clamp(0, 1))


def test_random_resized_crop_draws_boxes_from_the_generator():
    """Same seed, same crops; another seed, other crops; output at the asked size."""
    x = torch.rand(6, 3, 16, 16)
    step = "{type: random_resized_crop, size: [8, 12], scale: [0.2, 0.6]}"
    a, b, c = _apply(step, x, 1), _apply(step, x, 1), _apply(step, x, 2)
    assert a.shape == (6, 3, 8, 12)
    assert torch.equal(a, b) and not torch.equal(a, c)


# --- distributed ----------------------------------------------------------------------------


def test_a_rank_decodes_only_its_share_of_each_global_batch(tmp_path):
    """Every file outside rank 1's share is garbage: decoding the share reports no bad file,
    while the whole batch would."""
    from specc.data.loader import GlobalBatchSampler

    write_images(tmp_path / "pics", per_class=4)
    data = prepare_data(load_spec(write_spec(tmp_path, augment=False, workers=0)))
    dataset = data.train.dataset()
    share = next(
        iter(GlobalBatchSampler(len(dataset), 7, torch.Generator().manual_seed(0), world=2, rank=1))
    )
    assert (share.lo, share.hi) == (4, 7)
    mine = set(share.rows[share.lo : share.hi].tolist())
    for row in range(len(dataset)):
        if row not in mine:
            with open(dataset.listing.path(row), "wb") as handle:
                handle.write(b"garbage")
    loaded = dataset.__getitems__(share)
    assert loaded.bad == () and loaded.x.shape == (3, 3, 12, 12)
    assert torch.equal(loaded.batch_y, data.train.y[share.rows])
    assert len(dataset.__getitems__(share._replace(lo=0)).bad) == 4


@pytest.mark.slow
def test_two_processes_train_as_one(folder, run):
    """``--nproc 2``: each rank decodes its share of each global batch, augmented as part of
    the global batch; the ranks end in sync and near the 1-process run."""
    import os
    import subprocess
    import sys

    write_spec(folder)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "specc",
            "train",
            "spec.yaml",
            "--out",
            "ddp",
            "--nproc",
            "2",
            "--quiet",
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    two = json.loads((folder / "ddp" / "summary.json").read_text())
    assert len(set(two["distributed"]["weights_sha256"])) == 1
    assert two["final"]["train_loss"] == pytest.approx(run.summary["final"]["train_loss"], abs=1e-4)


# --- fuzzing the new forms -------------------------------------------------------------------

STEPS = [
    "{type: resize, size: %(n)d}",
    "{type: pad, padding: %(p)d}",
    "{type: random_crop, size: %(n)d, padding: %(p)d}",
    "{type: random_resized_crop, size: [%(n)d, %(m)d], scale: [0.%(p)d, 1]}",
    "{type: random_rotation, degrees: [-%(n)d, %(m)d], fill: 0.%(p)d}",
    "{type: color_jitter, brightness: 0.%(p)d, saturation: [%(p)d, %(n)d]}",
    "{type: normalize, mean: %(list)s, std: %(list)s}",
    "random_horizontal_flip",
]


def test_fuzzed_image_specs_prepare_or_give_located_errors(folder):
    """Random shapes, steps and source arguments over a real folder: the data is prepared
    (and decodes to the input shape) or the error is located / one line, never a crash."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    part = st.fixed_dictionaries(
        {
            "n": st.integers(0, 20),
            "m": st.integers(1, 20),
            "p": st.integers(0, 9),
            "list": st.sampled_from(["[0.5]", "[0.5, 0.5, 0.5]", "[0.1, 0.2]"]),
        }
    )
    step = st.tuples(st.sampled_from(STEPS), part).map(lambda t: t[0] % t[1])
    source = st.sampled_from(
        [
            "",
            ", on_bad_file: skip",
            ", extensions: [gif]",
            ", extensions: [PNG, .jpg]",
            ", val_path: nowhere",
            ", test_path: pics",
        ]
    )

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.integers(1, 4), st.integers(1, 16), st.lists(step, max_size=4), source)
    def check(channels, size, steps, extra):
        text = (
            (SPEC % {"augment": "", "workers": 0, "source": extra})
            .replace("[3, 12, 12]", f"[{channels}, {size}, {size}]")
            .replace(
                "  transforms:\n    - {type: normalize, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, "
                "0.25]}\n",
                "  transforms: [" + ", ".join(steps) + "]\n",
            )
        )
        path = folder / "fuzz.yaml"
        path.write_text(text)
        try:
            spec = load_spec(path)
            data = prepare_data(spec)
        except SpecErrors as exc:
            assert all(e.line >= 1 for e in exc.errors), exc
            return
        except RunError as exc:
            assert "\n" not in str(exc)
            return
        x, _ = next(data.val.chunks(4, torch.device("cpu")))
        assert list(x.shape[1:]) == list(spec.model.input.shape)

    check()


def test_the_parallel_check_finds_what_the_serial_one_finds(tmp_path, monkeypatch):
    from specc.data import image_source

    write_images(tmp_path / "pics", per_class=3)
    (tmp_path / "pics" / "cat" / "junk.png").write_text("junk")
    paths = [str(p) for p in sorted((tmp_path / "pics").rglob("*.*"))]
    serial = image_source._inspect_all(paths)
    monkeypatch.setattr(image_source, "PARALLEL_FROM", 0)
    monkeypatch.setattr(image_source, "PROCESSES", 2)
    assert image_source._inspect_all(paths) == serial
    assert sum(reason is not None for reason, _ in serial) == 1


def test_reversed_ranges_are_located(tmp_path):
    text = SPEC % {
        "augment": "\n    - {type: color_jitter, contrast: [1.5, 0.5]}\n"
        "    - {type: random_rotation, degrees: [10, -10]}",
        "workers": 0,
        "source": "",
    }
    (tmp_path / "spec.yaml").write_text(text)
    with pytest.raises(SpecErrors) as caught:
        load_spec(tmp_path / "spec.yaml")
    assert [e.line for e in caught.value.errors] == [17, 18]
    assert all("min <= max" in e.message for e in caught.value.errors)
