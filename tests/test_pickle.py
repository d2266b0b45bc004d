"""Built models are stable classes that pickle, save, deep-copy and cross process boundaries."""

from __future__ import annotations

import copy
import io
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from specc import build_model, load_spec

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "resnet.yaml"


@pytest.fixture(scope="module")
def trained_like():
    """A built model whose state differs from a fresh build (weights moved, BN stats set)."""
    torch.manual_seed(0)
    model = build_model(load_spec(SPEC))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
        model(torch.randn(8, 1, 8, 8))  # train mode: updates BatchNorm running stats
    return model.eval()


def _same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    assert a.state_dict().keys() == b.state_dict().keys()
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert a.training == b.training
    assert torch.equal(a(x), b(x))


def test_one_class_per_source():
    spec = load_spec(SPEC)
    first, second = build_model(spec), build_model(load_spec(SPEC))
    assert type(first) is type(second)
    assert isinstance(first, type(second))


def test_pickle_round_trip(trained_like):
    _same(trained_like, pickle.loads(pickle.dumps(trained_like)))


def test_torch_save_whole_model(trained_like):
    buffer = io.BytesIO()
    torch.save(trained_like, buffer)
    buffer.seek(0)
    _same(trained_like, torch.load(buffer, weights_only=False))


def test_deepcopy_is_independent(trained_like):
    clone = copy.deepcopy(trained_like)
    _same(trained_like, clone)
    with torch.no_grad():
        next(clone.parameters()).zero_()
    assert not torch.equal(next(clone.parameters()), next(trained_like.parameters()))


def test_loads_in_a_fresh_interpreter(trained_like, tmp_path):
    """A new process has never compiled the class: it is rebuilt from the pickled source."""
    path = tmp_path / "model.pt"
    torch.save(trained_like, path)
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    torch.save(trained_like(x).detach(), tmp_path / "expected.pt")
    torch.save(x, tmp_path / "x.pt")
    script = (
        "import sys, torch\n"
        "m = torch.load(sys.argv[1], weights_only=False)\n"
        "x = torch.load(sys.argv[2]); y = torch.load(sys.argv[3])\n"
        "assert type(m).__module__.startswith('specc_generated.'), type(m).__module__\n"
        "assert torch.equal(m(x), y)\n"
        "print('ok')\n"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(path),
            str(tmp_path / "x.pt"),
            str(tmp_path / "expected.pt"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def _forward_in_child(model, x, queue):
    queue.put(model(x).detach().tolist())  # plain data: the child may exit before the read


def test_spawned_process_receives_the_model(trained_like):
    context = mp.get_context("spawn")
    queue = context.Queue()
    x = torch.randn(2, 1, 8, 8)
    child = context.Process(target=_forward_in_child, args=(trained_like, x, queue))
    child.start()
    result = queue.get(timeout=120)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert torch.equal(torch.tensor(result), trained_like(x).detach())
