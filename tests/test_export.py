"""ONNX export: real torch.export + torch.onnx (dynamo), checked by onnx and onnxruntime.

Every shipped spec exports with a dynamic batch (and a dynamic sequence length for the LSTM)
and matches torch at batch sizes 1, 7 and 64, AlexNet (61M parameters, ~245 MB of ONNX,
about 20 s) included.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from export_helpers import SPECS, cli_in_process, write_spec
from torch import nn

import specc
from specc.export import ExportError, export_onnx, read_metadata
from specc.export.onnx_export import ExportFailure, export_module
from specc.export.verify import BATCH_SIZES

SHIPPED = sorted(p.stem for p in SPECS.glob("*.yaml"))
SLOW_EXPORTS = {"alexnet", "rnn"}  # about 10 s each
SHIPPED_CASES = [
    pytest.param(name, marks=pytest.mark.slow) if name in SLOW_EXPORTS else name for name in SHIPPED
]


def _export(spec, tmp_path: Path, **kwargs):
    torch.manual_seed(spec.seed)
    model = specc.build_model(spec)
    return model, export_onnx(model, spec, tmp_path / f"{spec.name}.onnx", **kwargs)


def _input_dims(path: Path) -> list:
    dims = onnx.load(str(path), load_external_data=False).graph.input[0].type.tensor_type
    return [d.dim_param or d.dim_value for d in dims.shape.dim]


@pytest.mark.parametrize("name", SHIPPED_CASES)
def test_shipped_spec_exports_with_dynamic_batch_and_parity(name, tmp_path):
    spec = specc.load_spec(SPECS / f"{name}.yaml")
    _, report = _export(spec, tmp_path)
    assert report.parity.max_abs_diff <= 1e-4, report.parity.describe()
    assert [case[0] for case in report.parity.cases][:3] == list(BATCH_SIZES)
    dims = _input_dims(report.path)
    assert isinstance(dims[0], str), f"batch dimension is static: {dims}"
    assert dims[1:] == (
        list(spec.graph.input_shape)
        if not report.info.dynamic_seq
        else [dims[1], *spec.graph.input_shape[1:]]
    )
    recurrent = any(node.kind in ("rnn", "lstm", "gru") for node in spec.graph.nodes)
    assert report.info.dynamic_seq == recurrent  # the shipped LSTM keeps a dynamic seq
    if recurrent:
        assert isinstance(dims[1], str)
        assert {case[1] for case in report.parity.cases} == {28, 14}
    session = ort.InferenceSession(str(report.path))
    info = read_metadata(session.get_modelmeta().custom_metadata_map)
    assert info.spec_name == spec.name
    assert info.input_shape == list(spec.graph.input_shape)
    assert info.output_names == [o.name for o in session.get_outputs()] == spec.graph.outputs
    assert info.specc_version == specc.__version__


RECURRENT_SPEC = """
version: 1
name: tokens
model:
  input: {shape: [12], dtype: int64}
  layers:
    - {type: embedding, num_embeddings: 50, embedding_dim: 8}
    - {type: gru, hidden_size: 16, output: sequence}
    - {type: rnn, hidden_size: 8, output: last, nonlinearity: relu, num_layers: 2,
       bidirectional: true}
    - {type: linear, out_features: 3, name: logits}
loss: cross_entropy
"""


@pytest.mark.slow
def test_gru_and_elman_rnn_keep_dynamic_seq_with_int64_token_ids(tmp_path):
    spec = specc.load_spec(write_spec(tmp_path, "tokens", RECURRENT_SPEC))
    model, report = _export(spec, tmp_path)
    assert report.info.dynamic_seq and report.seq_note is None
    assert report.info.input_dtype == "int64"
    assert report.parity.max_abs_diff <= 1e-4
    assert {case[1] for case in report.parity.cases} == {12, 6}
    ops = [node.op_type for node in onnx.load(str(report.path)).graph.node]
    assert ops.count("GRU") == 1 and ops.count("RNN") == 2  # native ops, not unrolled loops
    # token ids near the top of the vocabulary, at a third sequence length
    ids = torch.randint(40, 50, (5, 20))
    session = ort.InferenceSession(str(report.path))
    got = session.run(None, {"input": ids.numpy()})[0]
    np.testing.assert_allclose(got, model(ids).detach().numpy(), atol=1e-5)


FLATTENED_SEQ = """
version: 1
name: flat_seq
model:
  input: {shape: [5, 3]}
  layers:
    - {type: rnn, hidden_size: 4, output: sequence}
    - flatten
    - {type: linear, out_features: 2}
"""


@pytest.mark.slow
def test_length_dependent_model_falls_back_to_fixed_seq_and_says_so(tmp_path):
    spec = specc.load_spec(write_spec(tmp_path, "flat", FLATTENED_SEQ))
    _, report = _export(spec, tmp_path)
    assert not report.info.dynamic_seq
    assert "sequence length is fixed at 5" in report.seq_note
    assert report.parity.max_abs_diff <= 1e-4
    assert _input_dims(report.path)[1] == 5
    assert isinstance(_input_dims(report.path)[0], str)


def test_parity_detects_a_seq_that_only_works_at_the_example_length():
    from specc.export.verify import Parity

    fine = Parity(1e-7, [(1, 8, 1e-7), (7, 8, 1e-7), (1, 4, 2e-7)])
    assert not fine.broken_at_other_seq(1e-4)
    assert Parity(1.0, [(1, 8, 1e-7), (1, 4, 1.0)]).broken_at_other_seq(1e-4)
    assert Parity(
        float("inf"), [(1, 8, 1e-7), (1, 4, float("inf"))], error="batch 1, seq 4: bad index"
    ).broken_at_other_seq(1e-4)
    assert not Parity(1.0, [(1, 8, 1.0), (1, 4, 1.0)]).broken_at_other_seq(1e-4)
    assert not Parity(0.0, [(1, None, 0.0)]).broken_at_other_seq(1e-4)


class _Eig(nn.Module):
    def forward(self, x):
        return torch.linalg.eig(x.reshape(-1, 2, 2))[0].real


class _DataDependent(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # control flow on values cannot be exported
            return x
        return -x


@pytest.mark.parametrize(
    ("culprit", "words"), [(_Eig, "linalg_eig"), (_DataDependent, "data-dependent")]
)
def test_unexportable_layer_is_named(culprit, words):
    model = nn.Sequential()
    model.add_module("fc1", nn.Linear(4, 4))
    model.add_module("weird", culprit())
    with pytest.raises(ExportFailure) as info:
        export_module(model, (4,), "float32", opset=18, input_name="input", output_names=["out"])
    assert info.value.layer == "weird"
    assert words in str(info.value)


def test_failure_message_points_at_the_spec_line():
    from specc.export.api import _failure_message

    spec = specc.load_spec(SPECS / "rnn.yaml")
    message = _failure_message(ExportFailure("no ONNX function", "lstm_1"), spec)
    assert message.startswith(f"{spec.source_path}:{spec.graph.node('lstm_1').line}: ")
    assert "cannot export lstm layer 'lstm_1' to ONNX: no ONNX function" in message
    assert _failure_message(ExportFailure("boom"), spec) == "cannot export the model to ONNX: boom"


def test_include_preprocessing_refuses_unknown_state(tmp_path):
    spec = specc.load_spec(SPECS / "diabetes.yaml")
    model = specc.build_model(spec)
    with pytest.raises(ExportError, match="preprocessing is unknown"):
        export_onnx(model, spec, tmp_path / "m.onnx", include_preprocessing=True)


def test_cli_export_prints_parity_and_fails_above_atol(tmp_path, capsys):
    out = tmp_path / "softmax.onnx"
    code, stdout, stderr = cli_in_process(
        capsys,
        "export",
        SPECS / "mnist_softmax.yaml",
        "-o",
        out,
        "--opset",
        "20",
        "--atol",
        "1e-30",
    )
    assert "dynamic batch" in stdout and "onnx checker: ok" in stdout
    assert "batch 1:" in stdout and "batch 64:" in stdout and "max abs diff" in stdout
    assert onnx.load(str(out)).opset_import[0].version == 20
    assert code == 1 and "FAILED" in stdout
    assert stderr.startswith("error: onnxruntime differs from torch by")
    code, _, stderr = cli_in_process(capsys, "export", tmp_path / "nope.yaml")
    assert code == 1 and "no spec file or run directory" in stderr
