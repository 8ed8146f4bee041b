"""Reference profiles: what they keep per column, JSON round trip, and corrupt documents."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from conveyor.errors import ConveyorError, DataError
from conveyor.monitoring import PROFILE_VERSION, Profile, build_profile
from conveyor.monitoring.profile import OTHER, QUANTILES


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 2000
    radius = rng.normal(14, 3.5, n)
    radius[:20] = np.nan
    return pd.DataFrame(
        {
            "radius": radius,
            "visits": rng.integers(0, 4, n),
            "store": rng.choice(["s1", "s2", "s3"], n, p=[0.5, 0.3, 0.2]),
            "promo": rng.random(n) < 0.25,
            "target": rng.integers(0, 2, n),
        }
    )


def test_numeric_summary_matches_numpy(frame: pd.DataFrame) -> None:
    entry = build_profile(frame).column("radius")
    values = frame["radius"].dropna().to_numpy()
    assert entry["kind"] == "numeric"
    assert (entry["count"], entry["nulls"], entry["null_rate"]) == (1980, 20, 0.01)
    assert entry["min"] == values.min()
    assert entry["max"] == values.max()
    assert entry["mean"] == pytest.approx(values.mean())
    assert entry["std"] == pytest.approx(values.std())
    expected = np.quantile(values, np.linspace(0, 1, QUANTILES))
    np.testing.assert_allclose(entry["quantiles"], expected, rtol=1e-12)
    assert entry["unique"] == 1001  # more than 1000 distinct values
    assert "sample" not in entry  # more than SAMPLE_LIMIT values
    assert "counts" not in entry


def test_small_and_discrete_columns_keep_raw_values_and_counts(frame: pd.DataFrame) -> None:
    profile = build_profile(frame.head(300))
    radius = profile.column("radius")
    assert radius["sample"] == sorted(frame["radius"].head(300).dropna().tolist())
    visits = profile.column("visits")
    assert visits["kind"] == "numeric"
    assert visits["unique"] == 4
    assert visits["counts"] == {
        str(k): int(n) for k, n in frame["visits"].head(300).value_counts().sort_index().items()
    }


def test_kinds_are_inferred_overridden_and_excluded(frame: pd.DataFrame) -> None:
    profile = build_profile(frame, kinds={"visits": "categorical"}, exclude=["target"])
    assert profile.names == ("radius", "visits", "store", "promo")
    kinds = {name: profile.column(name)["kind"] for name in profile.names}
    assert kinds == {
        "radius": "numeric",
        "visits": "categorical",
        "store": "categorical",
        "promo": "categorical",
    }
    assert profile.column("promo")["counts"].keys() == {"True", "False"}
    assert profile.column("store")["counts"] == frame["store"].value_counts().to_dict()
    assert profile.rows == len(frame)


def test_pandas_and_arrow_inputs_give_the_same_profile(frame: pd.DataFrame) -> None:
    as_arrow = pa.Table.from_pandas(frame, preserve_index=False)
    assert build_profile(as_arrow).document == build_profile(frame).document
    with_category = frame.assign(store=frame["store"].astype("category"))
    assert build_profile(with_category).document == build_profile(frame).document


def test_rare_categories_are_summed_under_other() -> None:
    values = [f"c{i}" for i in range(600) for _ in range(2)] + ["common"] * 50
    entry = build_profile(pd.DataFrame({"code": values})).column("code")
    assert entry["unique"] == 601
    assert len(entry["counts"]) == 501
    assert entry["counts"]["common"] == 50
    assert entry["counts"][OTHER] == 101 * 2  # 601 categories, 500 kept by name
    assert sum(entry["counts"].values()) == entry["count"] == len(values)


def test_infinite_values_count_as_nulls() -> None:
    entry = build_profile(pd.DataFrame({"x": [1.0, np.inf, -np.inf, np.nan, 2.0]})).column("x")
    assert (entry["count"], entry["nulls"], entry["max"]) == (2, 3, 2.0)


def test_all_null_column_has_an_empty_summary() -> None:
    entry = build_profile(pd.DataFrame({"x": [np.nan] * 3})).column("x")
    assert entry["count"] == 0
    assert entry["null_rate"] == 1.0
    assert entry["quantiles"] == []


def test_predictions_are_profiled_like_a_column(frame: pd.DataFrame) -> None:
    scores = np.linspace(0, 1, len(frame))
    profile = build_profile(frame, prediction=scores)
    assert profile.prediction is not None
    assert profile.prediction["kind"] == "numeric"
    assert profile.prediction["mean"] == pytest.approx(0.5)
    labels = build_profile(
        frame, prediction=frame["store"].to_numpy(), prediction_kind="categorical"
    )
    assert labels.prediction is not None
    assert labels.prediction["counts"] == frame["store"].value_counts().to_dict()


def test_prediction_length_must_match(frame: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"3 predictions for 2000 rows"):
        build_profile(frame, prediction=np.zeros(3))


def test_a_column_declared_numeric_must_hold_numbers(frame: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"column 'store': column holds .* not numbers"):
        build_profile(frame, kinds={"store": "numeric"})


def test_unknown_column_lists_the_profiled_ones(frame: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"no column 'radios'") as info:
        build_profile(frame).column("radios")
    assert "'radius'" in (info.value.fix or "")


def test_json_round_trip(frame: pd.DataFrame) -> None:
    profile = build_profile(frame, prediction=np.linspace(0, 1, len(frame)))
    text = profile.to_json()
    assert json.loads(text)["version"] == PROFILE_VERSION
    assert Profile.from_json(text, "reports/profile.json") == profile


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"reports/profile.json: not a JSON profile"),
        ("[1, 2]", r"reports/profile.json: not a conveyor profile"),
        ('{"version": 0, "rows": 1, "columns": {}}', r"profile version 0 is not supported"),
        ('{"version": 1, "columns": {}}', r"corrupt profile: 'rows' or 'columns' missing"),
        (
            '{"version": 1, "rows": 1, "columns": {"x": {"kind": "text"}}}',
            r"column 'x' has no valid 'kind'",
        ),
        (
            '{"version": 1, "rows": 1, "columns": {"x": {"kind": "numeric", "count": 1}}}',
            r"column 'x' lacks 'nulls', 'unique', 'quantiles'",
        ),
    ],
)
def test_corrupt_or_old_documents_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConveyorError, match=message) as info:
        Profile.from_json(text, "reports/profile.json")
    assert info.value.where == "reports/profile.json"
    assert "dvc repro profile" in (info.value.fix or "")
