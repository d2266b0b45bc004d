"""Prediction post-processing and metadata, without exporting anything (numpy + onnx only)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from specc.export.metadata import ModelInfo, metadata_props, read_metadata
from specc.predict import PredictError, predict, probabilities, to_predictions


def _info(**kwargs) -> ModelInfo:
    base = {
        "spec_name": "m",
        "input_name": "input",
        "input_shape": [2],
        "input_dtype": "float32",
        "output_names": ["out"],
        "output_shapes": [[3]],
        "task": "multiclass",
        "output_kind": "logits",
    }
    return ModelInfo(**{**base, **kwargs})


def test_metadata_round_trip_and_foreign_keys():
    info = _info(class_labels=["a", "b", "c"], preprocessing={"kind": "tabular", "x": [1.5]})
    props = metadata_props(info)
    assert all(key.startswith("specc.") for key in props)
    assert read_metadata({**props, "other.tool": "1", "specc.future": "2"}) == info
    with pytest.raises(ValueError, match="no specc metadata"):
        read_metadata({"producer": "x"})
    with pytest.raises(ValueError, match="incomplete or damaged"):
        read_metadata({"specc.spec_name": '"m"', "specc.input_shape": "[2"})


@pytest.mark.parametrize("kind", ["logits", "log_probabilities"])
def test_multiclass_probabilities_sum_to_one(kind):
    p = np.array([[0.2, 0.5, 0.3], [0.9, 0.05, 0.05]])
    out = np.log(p) + (0.0 if kind == "log_probabilities" else 7.0)
    np.testing.assert_allclose(probabilities(out, kind), p, atol=1e-12)


def test_binary_logit_and_probability_outputs():
    np.testing.assert_allclose(
        probabilities(np.array([[0.0], [np.log(3.0)]]), "logit"), [[0.5, 0.5], [0.25, 0.75]]
    )
    np.testing.assert_allclose(probabilities(np.array([[0.8]]), "probability"), [[0.2, 0.8]])


def test_top_k_rows_and_labels():
    info = _info(class_labels=["cat", "dog", "owl"])
    table = to_predictions(np.array([[0.0, 2.0, 1.0]]), info, top_k=2)
    assert table.header == [
        "class_1",
        "label_1",
        "probability_1",
        "class_2",
        "label_2",
        "probability_2",
    ]
    row = table.rows[0]
    assert row[:2] == [1, "dog"] and row[3:5] == [2, "owl"] and row[2] > row[5]
    assert to_predictions(np.array([[0.0, 2.0, 1.0]]), info, top_k=9).header[-1] == "probability_3"


def test_regression_columns():
    info = _info(output_kind="values", task="regression", output_shapes=[[2]])
    table = to_predictions(np.array([[1.5, -2.0]], dtype=np.float32), info)
    assert table.header == ["value_0", "value_1"] and table.rows == [[1.5, -2.0]]
    assert table.to_csv() == "value_0,value_1\n1.5,-2.0\n"


def test_model_without_specc_metadata_is_refused(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.save(model, str(tmp_path / "plain.onnx"))
    np.save(tmp_path / "x.npy", np.zeros((1, 2), dtype=np.float32))
    with pytest.raises(PredictError, match="no specc metadata"):
        predict(tmp_path / "plain.onnx", tmp_path / "x.npy")
