"""No statistic of the test split leaks into the features pipeline that training fits.

The pipeline is the one ``train`` fits: ``build_pipeline`` from a FeaturesSpec, fitted on the
training split only. Each test states one way a leak would show, so a leaky transform fails it:
fitted statistics that differ from the training split's own, fitted state that moves when test
rows are transformed, features of a test row that depend on later test rows, and categories that
exist only in the test split showing up in the encoders.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conveyor.plugins import Plugins
from conveyor.runtime.estimator import build_pipeline
from conveyor.spec import FeaturesSpec

SERIES = {"time": "day", "group_by": ["store"]}
TRANSFORMS = [
    {"kind": "lag", "columns": ["x"], "params": {**SERIES, "lags": [1, 2]}},
    {"kind": "rolling", "columns": ["x"], "params": {**SERIES, "windows": [3], "aggs": ["mean"]}},
    {"kind": "impute", "columns": "numeric", "params": {"strategy": "mean"}},
    {"kind": "standard_scaler", "columns": "numeric"},
    {"kind": "target_encoding", "columns": ["city"]},
    {"kind": "ordinal", "columns": ["color"]},
    {"kind": "one_hot", "columns": ["store", "shape"]},
]
TRAIN_DAYS = 20


def _rows() -> tuple[pd.DataFrame, np.ndarray]:
    """Two stores, 30 days each; a target that depends on x and the city."""
    rng = np.random.default_rng(7)
    n = 60
    frame = pd.DataFrame(
        {
            "day": np.tile(np.arange(30), 2),
            "store": np.repeat(["A", "B"], 30),
            "x": rng.normal(10, 2, n),
            "city": rng.choice(["Oslo", "Lima", "Pune"], n),
            "color": rng.choice(["red", "green", "blue"], n),
            "shape": rng.choice(["round", "square"], n),
        }
    )
    frame.loc[[4, 33, 50], "x"] = np.nan
    y = frame["x"].fillna(10).to_numpy() + np.where(frame["city"] == "Oslo", 5.0, 0.0)
    return frame, y


@pytest.fixture
def split() -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Train (days 0-19) and a shuffled test split (days 20-29) with a non-default index."""
    frame, y = _rows()
    is_train = frame["day"] < TRAIN_DAYS
    test = frame[~is_train].sample(frac=1.0, random_state=3)
    return frame[is_train], y[is_train.to_numpy()], test


def _pipeline() -> Any:
    from sklearn.linear_model import Ridge

    spec = FeaturesSpec.model_validate({"transforms": TRANSFORMS})
    return build_pipeline(spec, Ridge(), Plugins.discover())


def _fitted(pipeline: Any, kind: str) -> Any:
    """The fitted transformer of the first step of ``kind``."""
    for name, step in pipeline.steps[:-1]:
        if name.split("_", 1)[1] == kind:
            return step.named_transformers_[name]
    raise AssertionError(f"no {kind} step")


def _state(pipeline: Any) -> dict[str, dict[str, Any]]:
    """A deep copy of every fitted attribute (``name_``) of every transformer and the model."""
    objects = {name: step.named_transformers_[name] for name, step in pipeline.steps[:-1]}
    objects["model"] = pipeline.steps[-1][1]
    return {
        name: {
            key: copy.deepcopy(value)
            for key, value in vars(obj).items()
            if key.endswith("_") and not key.startswith("_")
        }
        for name, obj in objects.items()
    }


def _wild(test: pd.DataFrame) -> pd.DataFrame:
    """The test split with values no training statistic could have come from."""
    return test.assign(
        x=test["x"] * 1000 + 1e6,
        city="Atlantis",
        color="ultraviolet",
        shape="hexagon",
    )


def test_fitted_statistics_are_the_training_splits_own(
    split: tuple[pd.DataFrame, np.ndarray, pd.DataFrame],
) -> None:
    from sklearn.preprocessing import TargetEncoder

    train, y_train, _ = split
    pipeline = _pipeline().fit(train, y_train)

    lag1 = train.sort_values("day").groupby("store")["x"].shift(1)  # computed independently
    imputer = _fitted(pipeline, "impute")
    means = dict(zip(imputer.feature_names_in_, imputer.statistics_, strict=True))
    assert means["x"] == pytest.approx(train["x"].mean())
    assert means["x_lag1"] == pytest.approx(lag1.mean())

    scaler = _fitted(pipeline, "standard_scaler")
    column = list(scaler.feature_names_in_).index("x")
    filled = train["x"].fillna(train["x"].mean())
    assert scaler.mean_[column] == pytest.approx(filled.mean())
    assert scaler.scale_[column] == pytest.approx(filled.std(ddof=0))

    encoder = _fitted(pipeline, "target_encoding")
    alone = TargetEncoder().fit(train[["city"]], y_train)
    np.testing.assert_allclose(encoder.encodings_[0], alone.encodings_[0])
    assert encoder.target_mean_ == pytest.approx(y_train.mean())

    assert list(_fitted(pipeline, "ordinal").categories_[0]) == sorted(set(train["color"]))
    one_hot = _fitted(pipeline, "one_hot")
    assert [list(c) for c in one_hot.categories_] == [["A", "B"], sorted(set(train["shape"]))]

    lag = _fitted(pipeline, "lag")
    assert lag.last_time_.tolist() == [TRAIN_DAYS - 1] * 2
    tail_a = train[train["store"] == "A"].sort_values("day")["x"].tail(2)
    np.testing.assert_array_equal(lag.history_values_[lag.history_group_ == 0, 0], tail_a)


def test_transforming_the_test_split_changes_no_fitted_state(
    split: tuple[pd.DataFrame, np.ndarray, pd.DataFrame],
) -> None:
    train, y_train, test = split
    pipeline = _pipeline().fit(train, y_train)
    before = _state(pipeline)
    train_features = pipeline[:-1].transform(train)
    pipeline.predict(test)
    pipeline.predict(_wild(test))
    np.testing.assert_equal(_state(pipeline), before)
    pd.testing.assert_frame_equal(pipeline[:-1].transform(train), train_features)
    # And a pipeline that never saw any test rows is fitted exactly alike.
    np.testing.assert_equal(_state(_pipeline().fit(train, y_train)), before)


def test_a_test_row_never_depends_on_later_test_rows(
    split: tuple[pd.DataFrame, np.ndarray, pd.DataFrame],
) -> None:
    train, y_train, test = split
    pipeline = _pipeline().fit(train, y_train)
    changed_day = 25
    later = (test["store"] == "A") & (test["day"] == changed_day)
    changed = test.copy()
    changed.loc[later, "x"] = 1e6
    changed.loc[later, "city"] = "Atlantis"

    features = pipeline[:-1].transform(test)
    features_changed = pipeline[:-1].transform(changed)
    earlier = (test["store"] == "B") | (test["day"] < changed_day)
    pd.testing.assert_frame_equal(features_changed[earlier], features[earlier])
    history = ["x_lag1", "x_lag2", "x_roll3_mean"]
    pd.testing.assert_frame_equal(
        features_changed.loc[later, history], features.loc[later, history]
    )
    # Not vacuous: the next rows of store A do see the changed value, each in its window.
    day = test["day"].where(test["store"] == "A")
    for offset, column in ((1, "x_lag1"), (2, "x_lag2"), (3, "x_roll3_mean")):
        row = day == changed_day + offset
        assert (features_changed.loc[row, column] != features.loc[row, column]).all(), column
    beyond = day == changed_day + 3
    assert (features_changed.loc[beyond, "x_lag2"] == features.loc[beyond, "x_lag2"]).all()


def test_the_first_test_rows_read_history_from_training_only(
    split: tuple[pd.DataFrame, np.ndarray, pd.DataFrame],
) -> None:
    train, y_train, test = split
    pipeline = _pipeline().fit(train, y_train)
    lagged = pipeline[:2].transform(test).set_index(["store", "day"])
    x_a = train[train["store"] == "A"].set_index("day")["x"]
    assert lagged.loc[("A", TRAIN_DAYS), "x_lag1"] == x_a[TRAIN_DAYS - 1]
    assert lagged.loc[("A", TRAIN_DAYS), "x_lag2"] == x_a[TRAIN_DAYS - 2]
    assert lagged.loc[("A", TRAIN_DAYS), "x_roll3_mean"] == pytest.approx(
        x_a[TRAIN_DAYS - 3 :].mean()
    )
    # Test values are features of later test rows, never of the training rows.
    wild = pipeline[:2].transform(_wild(test)).set_index(["store", "day"])
    assert wild.loc[("A", TRAIN_DAYS), "x_lag1"] == x_a[TRAIN_DAYS - 1]


def test_categories_only_in_the_test_split_stay_unknown(
    split: tuple[pd.DataFrame, np.ndarray, pd.DataFrame],
) -> None:
    train, y_train, test = split
    pipeline = _pipeline().fit(train, y_train)
    wild = _wild(test)
    for kind in ("target_encoding", "ordinal", "one_hot"):
        categories = {c for column in _fitted(pipeline, kind).categories_ for c in column}
        assert not categories & {"Atlantis", "ultraviolet", "hexagon"}, kind

    features = pipeline[:-1].transform(wild)
    assert list(features.columns) == list(pipeline[:-1].transform(test).columns)
    assert not any("hexagon" in c for c in features.columns)
    assert (features["color"] == -1).all()
    assert (features[["shape_round", "shape_square"]] == 0).all(axis=None)
    encoder = _fitted(pipeline, "target_encoding")
    np.testing.assert_allclose(features["city"], encoder.target_mean_)
