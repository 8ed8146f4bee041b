"""Built-in transforms: the values they compute, their errors, and the pipeline they build."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import distribution
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from conveyor.bundle import load_bundle, save_bundle
from conveyor.bundle.trust import type_name
from conveyor.components import transforms
from conveyor.errors import DataError
from conveyor.plugins import Plugins
from conveyor.runtime.estimator import build_pipeline
from conveyor.spec import FeaturesSpec

if TYPE_CHECKING:
    from pathlib import Path

PLUGINS = Plugins.discover()


def fitted(component: type[transforms.Impute], params: dict[str, Any] | None = None) -> Any:
    """An unfitted transformer built by ``component`` from YAML-like ``params``."""
    return component.from_config(params or {}).build().set_output(transform="pandas")


def features(*steps: dict[str, Any]) -> Any:
    """The feature part of the training pipeline, as build_pipeline makes it."""
    spec = FeaturesSpec.model_validate({"transforms": list(steps)})
    return build_pipeline(spec, "passthrough", PLUGINS)


def sales() -> pd.DataFrame:
    """Stores A and B, days 1-4, rows in a shuffled order with a string index."""
    return pd.DataFrame(
        {
            "day": [3, 1, 4, 2, 2, 1, 3, 4],
            "store": ["A", "A", "A", "A", "B", "B", "B", "B"],
            "units": [30.0, 10.0, 40.0, 20.0, 200.0, 100.0, 300.0, 400.0],
        },
        index=list("pqrstuvw"),
    )


# --- numeric ---------------------------------------------------------------------------------


def test_impute_fills_categorical_str_columns() -> None:
    frame = pd.DataFrame({"city": ["Oslo", None, "Lima", "Oslo"], "plan": ["a", "b", None, "b"]})
    assert frame["city"].dtype == "str"  # pandas 3 default
    out = fitted(transforms.Impute, {"strategy": "most_frequent"}).fit_transform(frame)
    assert out["city"].tolist() == ["Oslo", "Oslo", "Lima", "Oslo"]
    assert out["plan"].tolist() == ["a", "b", "b", "b"]
    constant = fitted(transforms.Impute, {"strategy": "constant", "fill_value": "unknown"})
    assert constant.fit_transform(frame)["plan"].tolist() == ["a", "b", "unknown", "b"]


def test_impute_keeps_numeric_columns_numeric_next_to_text() -> None:
    frame = pd.DataFrame({"city": ["Oslo", None, "Oslo"], "age": [30.0, np.nan, 30.0]})
    out = fitted(transforms.Impute, {"strategy": "most_frequent"}).fit_transform(frame)
    assert out["age"].dtype == "float64"
    assert out["age"].tolist() == [30.0, 30.0, 30.0]
    assert out["city"].tolist() == ["Oslo", "Oslo", "Oslo"]


def test_minmax_scaler_maps_the_training_range() -> None:
    train = pd.DataFrame({"x": [2.0, 4.0, 6.0]})
    scaler = fitted(transforms.MinMaxScale).fit(train)
    assert scaler.transform(train)["x"].tolist() == [0.0, 0.5, 1.0]
    assert scaler.transform(pd.DataFrame({"x": [10.0]}))["x"].tolist() == [2.0]
    clipped = fitted(transforms.MinMaxScale, {"clip": True, "feature_range": [-1, 1]}).fit(train)
    assert clipped.transform(pd.DataFrame({"x": [10.0, 4.0]}))["x"].tolist() == [1.0, 0.0]


def test_minmax_scaler_refuses_an_empty_range() -> None:
    with pytest.raises(ValidationError, match="low < high"):
        transforms.MinMaxScale.from_config({"feature_range": [1, 1]})


def test_robust_scaler_centres_on_the_median() -> None:
    train = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 1000.0]})
    out = fitted(transforms.RobustScale).fit_transform(train)
    assert out["x"].tolist()[:3] == [-1.0, -0.5, 0.0]  # median 3, IQR 2 -> (x - 3) / 2
    with pytest.raises(ValidationError, match="0 <= low < high <= 100"):
        transforms.RobustScale.from_config({"quantile_range": [80, 20]})


# --- categorical -----------------------------------------------------------------------------


def test_ordinal_codes_sorted_categories_and_marks_unknown_ones() -> None:
    train = pd.DataFrame({"size": ["M", "S", "L", None, "M"]})
    encoder = fitted(transforms.Ordinal).fit(train)
    test = pd.DataFrame({"size": ["S", "XXL", None]})
    assert encoder.transform(train)["size"].tolist()[:3] == [1.0, 2.0, 0.0]
    out = encoder.transform(test)["size"].tolist()
    assert out[:2] == [2.0, -1.0]  # an unseen size is -1 by default
    assert np.isnan(out[2])  # a missing size stays missing
    as_nan = fitted(transforms.Ordinal, {"unknown_value": "nan"}).fit(train)
    assert np.isnan(as_nan.transform(test)["size"].tolist()[1])


def _target_data() -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.DataFrame({"city": ["Oslo", "Lima", "Pune", "Oslo"] * 10})
    y = np.where(frame["city"] == "Oslo", 1, 0)
    y[:4] = [0, 1, 1, 1]  # not a pure function of the city
    return frame, y


@pytest.mark.parametrize("regression", [False, True], ids=["binary", "regression"])
def test_target_encoding_learns_mean_targets_and_cross_fits(regression: bool) -> None:
    frame, y = _target_data()
    target = y * 2.5 if regression else y
    encoder = fitted(transforms.TargetEncoding, {"smooth": 0.0})
    cross_fitted = encoder.fit_transform(frame, target)
    full = encoder.transform(frame)
    oslo = frame["city"] == "Oslo"
    assert full["city"][oslo].iloc[0] == pytest.approx(target[oslo].mean())
    assert encoder.target_type_ == ("continuous" if regression else "binary")
    # Cross fitting: training rows are encoded by the other folds, not by themselves.
    assert not np.allclose(cross_fitted["city"], full["city"])
    unseen = encoder.transform(pd.DataFrame({"city": ["Rome"]}))
    assert unseen["city"].tolist() == [pytest.approx(target.mean())]


def test_target_encoding_is_reproducible() -> None:
    frame, y = _target_data()
    first = fitted(transforms.TargetEncoding).fit_transform(frame, y)
    second = fitted(transforms.TargetEncoding).fit_transform(frame, y)
    other_seed = fitted(transforms.TargetEncoding, {"random_state": 7}).fit_transform(frame, y)
    pd.testing.assert_frame_equal(first, second)
    assert not first.equals(other_seed)


# --- datetime_parts --------------------------------------------------------------------------


def test_datetime_parts_from_datetimes_and_iso_strings() -> None:
    stamps = ["2024-06-01T13:30:00", "2024-12-31T00:00:00", None]  # a Saturday, a Tuesday
    frame = pd.DataFrame({"text": stamps, "dt": pd.to_datetime(pd.Series(stamps))})
    parts = ["year", "month", "day", "dayofweek", "dayofyear", "hour", "is_weekend"]
    out = fitted(transforms.DatetimeParts, {"parts": parts}).fit_transform(frame)
    expected_first = [2024.0, 6.0, 1.0, 5.0, 153.0, 13.0, 1.0]
    for column in ("text", "dt"):
        assert out[[f"{column}_{p}" for p in parts]].iloc[0].tolist() == expected_first
        assert out[f"{column}_is_weekend"].iloc[1] == 0.0
        assert out[[f"{column}_{p}" for p in parts]].iloc[2].isna().all()
    assert "text" not in out.columns  # dropped by default: models cannot take datetimes


def test_datetime_parts_default_set_and_keep() -> None:
    frame = pd.DataFrame({"date": pd.to_datetime(["2024-01-06"])})
    out = fitted(transforms.DatetimeParts, {"keep": True}).fit_transform(frame)
    assert list(out.columns) == [
        "date",
        "date_year",
        "date_month",
        "date_day",
        "date_dayofweek",
        "date_is_weekend",
    ]


def test_datetime_parts_of_a_zoned_time_are_local() -> None:
    frame = pd.DataFrame({"t": pd.to_datetime(["2024-01-01 23:30"]).tz_localize("Asia/Tokyo")})
    out = fitted(transforms.DatetimeParts, {"parts": ["day", "hour"]}).fit_transform(frame)
    assert out.iloc[0].tolist() == [1.0, 23.0]


def test_datetime_parts_refuses_numbers_and_non_dates() -> None:
    with pytest.raises(DataError, match=r"column 'n' is int64, not a datetime"):
        fitted(transforms.DatetimeParts).fit(pd.DataFrame({"n": [1, 2]}))
    with pytest.raises(DataError, match=r"column 'd' has values that are not ISO dates") as info:
        fitted(transforms.DatetimeParts).fit(pd.DataFrame({"d": ["2024-01-01", "soon"]}))
    assert info.value.where == "features.transforms (kind: datetime_parts)"


# --- expression ------------------------------------------------------------------------------


def test_expression_adds_columns_row_by_row() -> None:
    frame = pd.DataFrame({"price": [10.0, 20.0], "area": [2.0, 5.0], "unit size": [1.0, 3.0]})
    params = {"columns_out": {"per_m2": "price / area", "big": "`unit size` > 2", "one": "1"}}
    out = fitted(transforms.Expression, params).fit_transform(frame)
    assert list(out.columns) == ["price", "area", "unit size", "per_m2", "big", "one"]
    assert out["per_m2"].tolist() == [5.0, 4.0]
    assert out["big"].tolist() == [False, True]
    assert out["one"].tolist() == [1, 1]


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("a +", "not a valid expression"),
        ("@secret * 2", "refers to a variable with '@'"),
        ("[x for x in a]", "uses ListComp"),
        ("  ", "the expression is empty"),
        ("a = b", "not a valid expression"),
    ],
)
def test_expression_syntax_is_checked_when_params_validate(expression: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        transforms.Expression.from_config({"columns_out": {"bad": expression}})


def test_expression_with_an_unknown_column_fails_at_fit_naming_it() -> None:
    transformer = fitted(transforms.Expression, {"columns_out": {"ratio": "a / c"}})
    with pytest.raises(DataError, match=r"cannot evaluate ratio: 'a / c'.*'c' is not defined") as e:
        transformer.fit(pd.DataFrame({"a": [1.0], "b": [2.0]}))
    assert "'a', 'b'" in str(e.value.fix)


def test_expression_may_not_overwrite_an_input() -> None:
    with pytest.raises(DataError, match=r"outputs 'a' would overwrite input columns"):
        fitted(transforms.Expression, {"columns_out": {"a": "b * 2"}}).fit(
            pd.DataFrame({"a": [1.0], "b": [2.0]})
        )


# --- text_stats ------------------------------------------------------------------------------


def test_text_stats_counts() -> None:
    frame = pd.DataFrame({"review": ["Très BIEN, 10/10", "  ", None]})
    params = {"stats": ["length", "words", "digits", "uppercase"]}
    out = fitted(transforms.TextStats, params).fit_transform(frame)
    assert list(out.columns) == [
        "review_length",
        "review_words",
        "review_digits",
        "review_uppercase",
    ]
    assert out.iloc[0].tolist() == [16.0, 3.0, 4.0, 5.0]
    assert out.iloc[1].tolist() == [2.0, 0.0, 0.0, 0.0]
    assert out.iloc[2].isna().all()


def test_text_stats_refuses_numbers() -> None:
    with pytest.raises(DataError, match=r"column 'n' is float64, not text"):
        fitted(transforms.TextStats).fit(pd.DataFrame({"n": [1.0]}))


# --- lag and rolling -------------------------------------------------------------------------


def _lag(**params: Any) -> Any:
    return fitted(transforms.Lag, {"time": "day", "group_by": ["store"], **params})


def test_lag_reads_earlier_rows_of_the_same_group() -> None:
    frame = sales()
    out = _lag(lags=[1, 2]).fit_transform(frame)
    assert list(out.index) == list(frame.index)  # original order and index
    pd.testing.assert_frame_equal(out[["day", "store", "units"]], frame)
    by_key = out.set_index(["store", "day"])
    assert by_key.loc[("A", 3), "units_lag1"] == 20.0  # A's units on day 2
    assert by_key.loc[("A", 3), "units_lag2"] == 10.0
    assert by_key.loc[("B", 2), "units_lag1"] == 100.0  # never another store's rows
    assert np.isnan(by_key.loc[("A", 1), "units_lag1"])
    assert np.isnan(by_key.loc[("B", 2), "units_lag2"])


def test_lag_of_the_training_rows_equals_fit_transform() -> None:
    frame = sales()
    lag = _lag(lags=[1, 3])
    pd.testing.assert_frame_equal(lag.fit_transform(frame), lag.transform(frame))


def test_lag_gives_later_rows_the_stored_history() -> None:
    lag = _lag(lags=[1, 2]).fit(sales())
    test = pd.DataFrame(
        {"day": [6, 5, 5, 1], "store": ["A", "A", "B", "C"], "units": [60.0, 50.0, 500.0, 7.0]}
    )
    out = lag.transform(test)
    assert out["units_lag1"].tolist()[:3] == [50.0, 40.0, 400.0]  # day 5 follows training day 4
    assert out["units_lag2"].tolist()[:3] == [40.0, 30.0, 300.0]
    assert out[["units_lag1", "units_lag2"]].iloc[3].isna().all()  # store C has no history


def test_lag_without_groups_and_with_iso_date_times() -> None:
    train = pd.DataFrame({"t": ["2024-01-02", "2024-01-01"], "v": [2.0, 1.0]})
    lag = fitted(transforms.Lag, {"time": "t", "lags": [1]})
    assert lag.fit_transform(train)["v_lag1"].tolist()[0] == 1.0
    served = lag.transform(pd.DataFrame({"t": pd.to_datetime(["2024-01-03"]), "v": [3.0]}))
    assert served["v_lag1"].tolist() == [2.0]


def test_lag_refuses_text_columns_and_missing_times() -> None:
    frame = sales().assign(note="x")
    with pytest.raises(DataError, match=r"columns 'note' are not numeric"):
        _lag(lags=[1]).fit(frame)
    with pytest.raises(DataError, match=r"time column 'day' has missing values"):
        _lag(lags=[1]).fit(sales().astype({"day": "float64"}).assign(day=np.nan))


def test_lag_params_are_checked() -> None:
    with pytest.raises(ValidationError, match="distinct positive integers"):
        transforms.Lag.from_config({"time": "day", "lags": [0]})
    with pytest.raises(ValidationError, match="distinct columns"):
        transforms.Lag.from_config({"time": "day", "group_by": ["day"], "lags": [1]})


def test_rolling_windows_end_before_the_row() -> None:
    rolling = fitted(
        transforms.Rolling,
        {
            "time": "day",
            "group_by": ["store"],
            "windows": [2],
            "aggs": ["mean", "sum", "min", "max", "std"],
        },
    )
    out = rolling.fit_transform(sales()).set_index(["store", "day"])
    columns = [f"units_roll2_{a}" for a in ("mean", "sum", "min", "max", "std")]
    assert out.loc[("A", 4), columns].tolist() == [25.0, 50.0, 20.0, 30.0, pytest.approx(7.0710678)]
    assert out.loc[("A", 2), columns[:4]].tolist() == [10.0, 10.0, 10.0, 10.0]  # one earlier row
    assert out.loc[("A", 1), columns].isna().all()  # never the row itself


def test_rolling_min_periods_and_history() -> None:
    rolling = fitted(
        transforms.Rolling,
        {"time": "day", "group_by": ["store"], "windows": [3], "min_periods": 2},
    ).fit(sales())
    out = rolling.transform(pd.DataFrame({"day": [5], "store": ["B"], "units": [0.0]}))
    assert out["units_roll3_mean"].tolist() == [300.0]  # B's days 2-4: 200, 300, 400
    train_out = rolling.transform(sales()).set_index(["store", "day"])
    assert np.isnan(train_out.loc[("A", 2), "units_roll3_mean"])  # one value < min_periods
    with pytest.raises(ValidationError, match="exceeds the smallest window"):
        transforms.Rolling.from_config({"time": "day", "windows": [2], "min_periods": 3})


# --- drop and the pipeline -------------------------------------------------------------------


def test_pipeline_shows_lag_its_keys_and_passes_them_through() -> None:
    pipeline = features(
        {
            "kind": "lag",
            "columns": ["units"],
            "params": {"time": "day", "group_by": ["store"], "lags": [1]},
        },
        {"kind": "drop", "columns": ["store"]},
    )
    out = pipeline.fit_transform(sales())
    assert sorted(out.columns) == ["day", "units", "units_lag1"]
    expected = _lag(lags=[1]).fit_transform(sales())["units_lag1"]
    pd.testing.assert_series_equal(out["units_lag1"], expected)


def test_pipeline_with_dtype_selector_adds_required_keys_once() -> None:
    pipeline = features(
        {
            "kind": "lag",
            "columns": "numeric",
            "params": {"time": "day", "group_by": ["store"], "lags": [1]},
        }
    )
    out = pipeline.fit_transform(sales())
    assert sorted(out.columns) == ["day", "store", "units", "units_lag1"]  # no 'day_lag1'


def test_lagging_the_target_is_refused_with_the_reason() -> None:
    pipeline = features(
        {"kind": "lag", "columns": ["revenue"], "params": {"time": "day", "lags": [1]}},
    )
    with pytest.raises(DataError, match=r"'revenue' are not among the model's input") as info:
        pipeline.fit(sales(), np.zeros(8))
    assert info.value.where == "features.transforms.0.columns"
    assert "the target cannot be transformed or lagged" in str(info.value.fix)


def test_a_missing_time_column_is_located_in_params() -> None:
    pipeline = features(
        {"kind": "lag", "columns": ["units"], "params": {"time": "dya", "lags": [1]}}
    )
    with pytest.raises(DataError, match=r"'dya' are not among") as info:
        pipeline.fit(sales())
    assert info.value.where == "features.transforms.0.params"
    assert "did you mean 'day'?" in str(info.value.fix)


def _every_transform() -> tuple[Any, pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 40
    frame = pd.DataFrame(
        {
            "day": np.tile(np.arange(20), 2),
            "store": np.repeat(["A", "B"], 20),
            "units": rng.normal(100, 10, n).round(1),
            "price": rng.uniform(1, 5, n).round(2),
            "city": rng.choice(["Oslo", "Lima", "Pune"], n),
            "size": rng.choice(["S", "M", "L", None], n),
            "opened": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "note": rng.choice(["Fine", "LATE by 2 days", "ok ok"], n),
            "order_id": np.arange(n),
        }
    )
    frame.loc[[3, 17], "price"] = np.nan
    series = {"time": "day", "group_by": ["store"]}
    pipeline = build_pipeline(
        FeaturesSpec.model_validate(
            {
                "transforms": [
                    {"kind": "lag", "columns": ["units"], "params": {**series, "lags": [1, 7]}},
                    {"kind": "rolling", "columns": ["units"], "params": {**series, "windows": [3]}},
                    {"kind": "expression", "params": {"columns_out": {"revenue": "units * price"}}},
                    {"kind": "datetime_parts", "columns": ["opened"]},
                    {"kind": "text_stats", "columns": ["note"]},
                    {"kind": "drop", "columns": ["order_id"]},
                    {
                        "kind": "impute",
                        "columns": "categorical",
                        "params": {"strategy": "most_frequent"},
                    },
                    {"kind": "impute", "columns": "numeric", "params": {"strategy": "median"}},
                    {"kind": "robust_scaler", "columns": ["revenue"]},
                    {"kind": "minmax_scaler", "columns": ["price"]},
                    {"kind": "standard_scaler", "columns": ["units"]},
                    {"kind": "target_encoding", "columns": ["city"]},
                    {"kind": "ordinal", "columns": ["size"]},
                    {"kind": "one_hot", "columns": ["store"]},
                ]
            }
        ),
        _linear(),
        PLUGINS,
    )
    y = frame["units"].to_numpy() * 0.5 + rng.normal(size=n)
    return pipeline, frame, y


def _linear() -> Any:
    from sklearn.linear_model import Ridge

    return Ridge()


def test_a_pipeline_with_every_transform_survives_the_bundle(tmp_path: Path) -> None:
    pipeline, frame, y = _every_transform()
    pipeline.fit(frame.iloc[:30], y[:30])
    save_bundle(tmp_path / "model", pipeline, {"task": "regression"}, {"name": "all"})
    loaded = load_bundle(tmp_path / "model", trusted=[type_name(type(pipeline[-1]))]).pipeline
    test = frame.iloc[30:]
    np.testing.assert_allclose(loaded.predict(test), pipeline.predict(test))
    pd.testing.assert_frame_equal(loaded[:-1].transform(test), pipeline[:-1].transform(test))
    builtin = {
        ep.name
        for ep in distribution("conveyor-mlops").entry_points
        if ep.group == "conveyor.transforms"
    }
    assert builtin <= {name.split("_", 1)[1] for name, _ in loaded.steps[:-1]}


def test_importing_the_transforms_loads_no_heavy_library() -> None:
    """``conveyor compile`` loads every transform class; only ``build()`` may import sklearn."""
    code = (
        "import json, sys\nfrom importlib.metadata import entry_points\n"
        "[ep.load() for ep in entry_points(group='conveyor.transforms')]\n"
        "print(json.dumps(sorted(m for m in ('sklearn', 'pandas', 'numpy') if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
