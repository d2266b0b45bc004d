"""Batching by tensor indexing and seeded training-time augmentation."""

from __future__ import annotations

import textwrap

import torch

from specc import load_spec
from specc.data import TensorSplit, iter_batches, make_augment


def split(n: int = 10) -> TensorSplit:
    return TensorSplit(torch.arange(n * 2, dtype=torch.float32).view(n, 2), torch.arange(n))


def test_in_order_without_generator_and_last_batch():
    batches = list(iter_batches(split(), 4))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([y for _, y in batches]), torch.arange(10))
    assert [len(y) for _, y in iter_batches(split(), 4, drop_last=True)] == [4, 4]


def test_seeded_permutation_covers_every_sample_and_repeats():
    def order(seed: int) -> list[int]:
        g = torch.Generator().manual_seed(seed)
        batches = list(iter_batches(split(), 3, generator=g))
        for x, y in batches:  # x and y stay paired
            assert torch.equal(x[:, 0], y.float() * 2)
        return torch.cat([y for _, y in batches]).tolist()

    assert order(1) == order(1)
    assert sorted(order(1)) == list(range(10)) and order(1) != list(range(10))
    assert order(1) != order(2)
    g = torch.Generator().manual_seed(1)
    first = [y.tolist() for _, y in iter_batches(split(), 3, generator=g)]
    second = [y.tolist() for _, y in iter_batches(split(), 3, generator=g)]
    assert first != second  # the generator moves on between epochs


def _spec(tmp_path, transforms: str):
    text = textwrap.dedent("""\
        version: 1
        name: t
        model:
          input: {shape: [1, 8, 8]}
          layers: [flatten, {type: linear, out_features: 10}]
        data:
          source: {type: sklearn, name: digits}
          transforms:
        """) + textwrap.indent(textwrap.dedent(transforms), "    ")
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return load_spec(path)


def test_no_augmentation_gives_none(tmp_path):
    spec = _spec(tmp_path, "- {type: normalize, mean: [0.5], std: [0.5]}\n")
    assert make_augment(spec, torch.Generator()) is None


def test_random_crop_is_a_seeded_shifted_window(tmp_path):
    spec = _spec(tmp_path, "- {type: random_crop, size: 8, padding: 2}\n")
    x = torch.arange(3 * 64, dtype=torch.float32).view(3, 1, 8, 8)
    out = make_augment(spec, torch.Generator().manual_seed(0))(x)
    again = make_augment(spec, torch.Generator().manual_seed(0))(x)
    assert out.shape == x.shape and torch.equal(out, again)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for b in range(3):  # each sample is some 8x8 window of its padded image
        windows = padded[b, 0].unfold(0, 8, 1).unfold(1, 8, 1).reshape(-1, 8, 8)
        assert any(torch.equal(out[b, 0], w) for w in windows)


def test_random_horizontal_flip(tmp_path):
    spec = _spec(tmp_path, "- {type: random_horizontal_flip, p: 0.5}\n")
    x = torch.randn(64, 1, 8, 8)
    out = make_augment(spec, torch.Generator().manual_seed(0))(x)
    flipped = [torch.equal(out[b], x[b].flip(-1)) for b in range(64)]
    kept = [torch.equal(out[b], x[b]) for b in range(64)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 10 < sum(flipped) < 54
    never = _spec(tmp_path, "- {type: random_horizontal_flip, p: 0.0}\n")
    assert torch.equal(make_augment(never, torch.Generator())(x), x)
