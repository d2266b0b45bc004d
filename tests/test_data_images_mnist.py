"""The shipped MNIST images written as PNG class folders train as well as the IDX source on
the same split (within 0.5 accuracy points), both trained the same way.

The folder lists files class by class, so the seeded permutations visit the samples in
another order than the IDX rows; softmax regression with the learning rate annealed to zero
(as specs/mnist_softmax.yaml) ends near the same optimum from either order, which is what
makes 0.5 points a fair bound for the data path rather than for the sample order."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from train_helpers import one_thread

from specc.data import prepare_data
from specc.data.idx import read_idx
from specc.data.split import split_indices
from specc.spec.validate import load_spec
from specc.train import train

SPECS = Path(__file__).resolve().parents[1] / "specs"
N = 5000  # the first 5,000 of the 10,000 shipped images: 4,000 train, 1,000 validation

SPEC = """\
version: 1
name: mnist_%(name)s
seed: 0
model:
  input: {shape: [1, 28, 28]}
  layers: [flatten, {type: linear, out_features: 10}]
loss: cross_entropy
optimizer: {type: sgd, lr: 0.1}
scheduler: cosine_annealing       # lr -> 0: both orders of the samples settle alike
data:
  source: %(source)s
  transforms: [{type: normalize, mean: [0.1307], std: [0.3081]}]
%(split)s  batch_size: 64
train: {epochs: 4, device: cpu, metrics: [accuracy]}
"""


def _writer():
    location = SPECS / "data" / "mnist_to_png.py"
    module_spec = importlib.util.spec_from_file_location("mnist_to_png", location)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.write_pngs


@pytest.mark.slow
def test_png_folders_match_the_idx_source_on_the_same_split(tmp_path):
    idx = tmp_path / "idx.yaml"
    idx.write_text(
        SPEC
        % {
            "name": "idx",
            "split": "  split: {val: 0.2, stratify: true}\n",
            "source": f"{{type: mnist, path: {SPECS / 'data' / 'mnist'}, limit: {N}}}",
        }
    )
    spec = load_spec(idx)
    labels = read_idx(SPECS / "data" / "mnist" / "t10k-labels-idx1-ubyte.gz", 1)[:N]
    rows = split_indices(spec, N, labels.astype(np.int64), has_own_test=False)
    write = _writer()
    write(tmp_path / "train", rows["train"])
    write(tmp_path / "val", rows["val"])
    folder = tmp_path / "folder.yaml"
    folder.write_text(
        SPEC
        % {
            "name": "folder",
            "split": "",
            "source": "{type: image_folder, path: train, val_path: val}",
        }
    )
    a, b = prepare_data(spec).val, prepare_data(load_spec(folder)).val
    pixels = torch.cat([x for x, _ in b.chunks(1000, torch.device("cpu"))])
    assert sorted(a.x.sum((1, 2, 3)).tolist()) == pytest.approx(
        sorted(pixels.sum((1, 2, 3)).tolist()), abs=1e-3
    )  # the same 1,000 images
    with one_thread():
        by_idx = train(spec, out_dir=tmp_path / "a", quiet=True).summary
        by_png = train(load_spec(folder), out_dir=tmp_path / "b", quiet=True).summary
    accuracy = by_idx["final"]["val_accuracy"], by_png["final"]["val_accuracy"]
    print(f"val accuracy: idx {accuracy[0]:.4f}, png folders {accuracy[1]:.4f}")
    assert min(accuracy) > 0.85  # softmax regression reaches about 0.89
    assert abs(accuracy[0] - accuracy[1]) <= 0.005
