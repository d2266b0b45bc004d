"""Preprocessing: fitted on the training split only, replayed exactly with numpy/pandas."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest

from specc import load_spec
from specc.data import apply_preprocessing, prepare_data

CSV = """\
id,age,fare,sex,port,y
1,22,7.25,male,S,0
2,38,71.28,female,C,1
3,,7.92,female,S,1
4,35,53.1,female,S,1
5,35,8.05,male,,0
6,,8.46,male,Q,0
7,54,51.86,male,S,0
8,2,21.07,male,S,0
9,27,11.13,female,S,1
10,14,30.07,female,C,1
11,4,16.7,female,S,1
12,58,26.55,female,S,1
13,20,8.05,male,S,0
14,39,31.27,male,S,0
15,14,7.85,female,S,0
16,55,16.0,female,S,1
17,2,29.12,male,Q,0
18,,13.0,male,S,1
19,31,18.0,female,S,0
20,,7.22,female,C,1
"""

PRE = """\
    - {type: simple_imputer, strategy: median, columns: [age]}
    - {type: simple_imputer, strategy: most_frequent, columns: [port]}
    - {type: one_hot_encoder, columns: [sex, port]}
    - {type: standard_scaler}
"""


def make(
    tmp_path,
    *,
    pre: str = PRE,
    inputs: int = 7,
    split: str = "{val: 0.25, seed: 3}",
    csv: str = CSV,
    extra: str = "features: [age, fare, sex, port]",
):
    (tmp_path / "t.csv").write_text(csv)
    text = (
        textwrap.dedent(f"""\
        version: 1
        name: t
        model:
          input: {{shape: [{inputs}]}}
          layers:
            - {{type: linear, out_features: 1}}
        loss: bce_with_logits
        data:
          source: {{type: csv, path: t.csv, target: y, {extra}}}
          preprocess:
        """)
        + pre
        + f"  split: {split}\n"
    )
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return load_spec(path)


def test_scaler_is_fitted_on_the_training_split_only(tmp_path):
    data = prepare_data(make(tmp_path))
    steps = {s["type"]: s for s in data.preprocessing["steps"]}
    scaler = steps["standard_scaler"]
    assert scaler["columns"] == ["age", "fare"]
    frame = pd.read_csv(tmp_path / "t.csv")
    from sklearn.model_selection import train_test_split

    train_rows, _ = train_test_split(np.arange(20), test_size=0.25, random_state=3)
    train = frame.iloc[train_rows]
    assert scaler["mean"][1] == pytest.approx(train["fare"].mean())
    assert scaler["mean"][1] != pytest.approx(frame["fare"].mean())
    imputer = data.preprocessing["steps"][0]
    assert imputer["statistics"] == [train["age"].median()]
    assert imputer["statistics"] != [frame["age"].median()]
    # the scaled training columns have mean 0; the validation ones do not
    fare = data.preprocessing["columns"].index("fare")
    assert data.train.x[:, fare].mean().item() == pytest.approx(0.0, abs=1e-6)
    assert abs(data.val.x[:, fare].mean().item()) > 1e-3


def test_one_hot_columns_and_width(tmp_path):
    data = prepare_data(make(tmp_path))
    assert data.preprocessing["columns"] == [
        "age",
        "fare",
        "sex_female",
        "sex_male",
        "port_C",
        "port_Q",
        "port_S",
    ]
    assert data.train.x.shape == (15, 7) and data.val.x.shape == (5, 7)
    assert data.feature_names == ["age", "fare", "sex", "port"]
    assert data.task == "binary" and data.train.y.shape == (15, 1)


def test_state_is_json_and_replay_equals_sklearn(tmp_path):
    """The prepared tensors come from sklearn's transform; the numpy replay gives the same."""
    data = prepare_data(make(tmp_path))
    state = json.loads(json.dumps(data.preprocessing))  # plain data, no pickle
    frame = pd.read_csv(tmp_path / "t.csv")
    from sklearn.model_selection import train_test_split

    train_rows, val_rows = train_test_split(np.arange(20), test_size=0.25, random_state=3)
    for rows, split in ((train_rows, data.train), (val_rows, data.val)):
        mine = apply_preprocessing(state, frame.iloc[rows])  # extra columns are ignored
        assert mine.dtype == np.float32 and mine.shape == (len(rows), 7)
        assert np.allclose(mine, split.x.numpy(), atol=1e-6)
    as_array = frame[["age", "fare", "sex", "port"]].to_numpy(dtype=object)[train_rows]
    assert np.allclose(apply_preprocessing(state, as_array), data.train.x.numpy(), atol=1e-6)


@pytest.mark.filterwarnings("ignore:Found unknown categories")
def test_replay_matches_fitted_sklearn_transformers_on_new_rows():
    """NaN imputation, unseen categories, drop, ordinal and min-max against sklearn itself."""
    from pydantic import TypeAdapter
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder

    from specc.data.preprocess import make_estimator, to_json_value
    from specc.data.replay import apply_steps
    from specc.spec.sections import Preprocess

    train = pd.DataFrame(
        {"a": [1.0, np.nan, 3.0, 10.0], "c": ["x", "y", "x", None], "d": ["p", "q", "r", "p"]}
    )
    new = pd.DataFrame({"a": [np.nan, 5.0, -1.0], "c": ["z", None, "y"], "d": ["q", "s", None]})
    for make, section, cols in [
        (
            SimpleImputer(strategy="mean", keep_empty_features=True),
            {"type": "simple_imputer"},
            ["a"],
        ),
        (
            MinMaxScaler(feature_range=(-1, 2)),
            {"type": "min_max_scaler", "feature_range": [-1, 2]},
            ["a"],
        ),
        (
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
            {"type": "one_hot_encoder"},
            ["c", "d"],
        ),
        (
            OneHotEncoder(handle_unknown="ignore", drop="first", sparse_output=False),
            {"type": "one_hot_encoder", "drop": "first"},
            ["c"],
        ),
        (
            OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
            {"type": "ordinal_encoder"},
            ["c", "d"],
        ),
    ]:
        spec_step = TypeAdapter(Preprocess).validate_python(section)
        kind = spec_step.type
        ours = make_estimator(spec_step).get_params()
        assert {k: ours[k] for k in make.get_params()} == make.get_params(), kind
        numeric = kind in ("simple_imputer", "min_max_scaler")
        fit_on = train[cols].to_numpy(float) if numeric else train[cols].astype(object).to_numpy()
        test_on = new[cols].to_numpy(float) if numeric else new[cols].astype(object).to_numpy()
        est = make.fit(fit_on)
        state = {k: to_json_value(v) for k, v in spec_step.fitted_state(est).items()}
        step = {
            "type": kind,
            "columns": cols,
            "outputs": spec_step.output_names(est, cols),
            **json.loads(json.dumps(state)),
        }
        got = apply_steps([step], new[cols].copy()).to_numpy(dtype=float)
        want = est.transform(test_on).astype(float)
        assert np.allclose(got, want, equal_nan=True), (kind, got, want)
    assert to_json_value(np.float64("nan")) is None
