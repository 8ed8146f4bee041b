"""Drift tests against scipy as the oracle, the sample-size rule, quality checks, overrides."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats
from scipy.spatial import distance

from conveyor.errors import DataError, SpecError
from conveyor.monitoring import ColumnTest, DriftOptions, build_profile, compare


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(2024)


def _frame(n: int, *, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.normal(100 + 10 * shift, 10, n),
            "age": rng.gamma(4, 10, n),
            "items": rng.integers(0, 4, n),
            "store": rng.choice(["s1", "s2", "s3", "s4"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "member": rng.random(n) < 0.3,
        }
    )


def test_small_reference_ks_p_value_is_scipys_on_raw_values(rng: np.random.Generator) -> None:
    ref, cur = rng.normal(0, 1, 800), rng.normal(0.1, 1, 3000)
    result = compare(build_profile(pd.DataFrame({"x": ref})), pd.DataFrame({"x": cur}))
    drift = result.columns[0]
    expected = stats.ks_2samp(ref, cur)
    assert drift.method == "ks"
    assert drift.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert drift.statistic == pytest.approx(expected.statistic)
    assert drift.drifted == (expected.pvalue <= 0.05)


def test_small_reference_chisquare_p_value_is_scipys(rng: np.random.Generator) -> None:
    ref = rng.choice(["a", "b", "c", "d"], 600, p=[0.4, 0.3, 0.2, 0.1])
    cur = rng.choice(["a", "b", "c", "d"], 900, p=[0.3, 0.3, 0.2, 0.2])
    drift = compare(build_profile(pd.DataFrame({"c": ref})), pd.DataFrame({"c": cur})).columns[0]
    keys = ["a", "b", "c", "d"]
    observed = [int(np.sum(cur == k)) for k in keys]
    expected = [np.sum(ref == k) * len(cur) / len(ref) for k in keys]
    oracle = stats.chisquare(observed, expected)
    assert drift.method == "chisquare"
    assert drift.p_value == pytest.approx(oracle.pvalue, rel=1e-9)
    assert drift.drifted


def test_small_reference_with_3_to_5_numeric_values_uses_chisquare(
    rng: np.random.Generator,
) -> None:
    ref, cur = rng.integers(0, 4, 500), rng.integers(0, 4, 500)
    drift = compare(build_profile(pd.DataFrame({"n": ref})), pd.DataFrame({"n": cur})).columns[0]
    observed = np.bincount(cur, minlength=4)
    oracle = stats.chisquare(observed, np.bincount(ref, minlength=4) * len(cur) / len(ref))
    assert drift.method == "chisquare"
    assert drift.p_value == pytest.approx(oracle.pvalue, rel=1e-9)


def test_small_reference_z_test_p_value_is_the_pooled_two_proportion_test(
    rng: np.random.Generator,
) -> None:
    ref, cur = rng.random(700) < 0.3, rng.random(1200) < 0.36
    drift = compare(build_profile(pd.DataFrame({"b": ref})), pd.DataFrame({"b": cur})).columns[0]
    # share of values other than the smallest key ("False" < "True"): the share of True
    p1, p2 = ref.mean(), cur.mean()
    pooled = (ref.sum() + cur.sum()) / (len(ref) + len(cur))
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / len(ref) + 1 / len(cur)))
    assert drift.method == "ztest"
    assert drift.statistic == pytest.approx(z)
    expected = 2 * stats.norm.sf(abs(z))
    assert drift.p_value == pytest.approx(expected, rel=1e-9)
    assert drift.drifted == (expected < 0.05)


@pytest.mark.parametrize(("shift", "scale"), [(0.3, 1.0), (0.0, 1.5), (0.15, 0.8)])
def test_large_reference_wasserstein_from_quantiles_is_within_2_percent(
    shift: float, scale: float, rng: np.random.Generator
) -> None:
    ref, cur = rng.gamma(3, 2, 100_000), rng.gamma(3, 2, 100_000) * scale + shift * 3.5
    drift = compare(build_profile(pd.DataFrame({"x": ref})), pd.DataFrame({"x": cur})).columns[0]
    oracle = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert drift.method == "wasserstein"
    assert drift.statistic == pytest.approx(oracle, rel=0.02)
    assert drift.drifted == (oracle >= 0.1)


def test_large_reference_jensen_shannon_is_scipys_on_the_counts(rng: np.random.Generator) -> None:
    levels = ["a", "b", "c", "d", "e"]
    ref = rng.choice(levels, 5000, p=[0.3, 0.3, 0.2, 0.1, 0.1])
    cur = rng.choice([*levels, "f"], 4000, p=[0.2, 0.2, 0.2, 0.2, 0.1, 0.1])
    drift = compare(build_profile(pd.DataFrame({"c": ref})), pd.DataFrame({"c": cur})).columns[0]
    keys = [*levels, "f"]
    oracle = distance.jensenshannon(
        [np.sum(ref == k) for k in keys], [np.sum(cur == k) for k in keys]
    )
    assert drift.method == "jensenshannon"
    assert drift.statistic == pytest.approx(oracle, rel=1e-12)
    assert drift.drifted


def test_psi_follows_the_documented_recipe_on_a_hand_computed_case() -> None:
    # reference 0..1999: 10 quantile bins of 10% each; current: half in the lowest bin, half in
    # the highest, none in the 8 between (their share becomes 1e-4)
    reference = pd.DataFrame({"x": np.arange(2000.0)})
    current = pd.DataFrame({"x": np.r_[np.full(500, 10.0), np.full(500, 1990.0)]})
    options = DriftOptions(columns={"x": ColumnTest("psi", 7.0)})
    drift = compare(build_profile(reference), current, options=options).columns[0]
    by_hand = 2 * (0.5 - 0.1) * math.log(0.5 / 0.1) + 8 * (1e-4 - 0.1) * math.log(1e-4 / 0.1)
    assert by_hand == pytest.approx(6.8082, abs=1e-4)
    assert drift.method == "psi"
    assert drift.statistic == drift.psi == pytest.approx(by_hand, rel=1e-9)
    assert drift.threshold == 7.0
    assert not drift.drifted


def test_a_tiny_shift_at_a_million_rows_is_not_drift_though_ks_would_say_so(
    rng: np.random.Generator,
) -> None:
    ref, cur = rng.normal(0, 1, 1_000_000), rng.normal(0.02, 1, 1_000_000)
    profile = build_profile(pa.table({"x": ref}))
    current = pa.table({"x": cur})
    drift = compare(profile, current).columns[0]
    assert drift.method == "wasserstein"
    assert drift.statistic == pytest.approx(0.02, abs=0.005)
    assert not drift.drifted
    assert stats.ks_2samp(ref, cur).pvalue < 1e-20  # what a p-value test would flag
    ks = compare(profile, current, options=DriftOptions(ColumnTest("ks"))).columns[0]
    assert ks.method == "ks"
    assert ks.p_value is not None
    assert ks.p_value < 1e-20
    assert ks.drifted


def test_no_drift_between_two_samples_of_the_same_distribution() -> None:
    report = compare(build_profile(_frame(5000, seed=1)), _frame(5000, seed=2))
    assert report.drifted() == []
    assert report.quality == ()
    assert not report.dataset_drift
    methods = {drift.name: drift.method for drift in report.columns}
    assert methods == {
        "amount": "wasserstein",
        "age": "wasserstein",
        "items": "jensenshannon",
        "store": "jensenshannon",
        "member": "jensenshannon",
    }


def test_planted_shift_new_category_and_null_jump_are_flagged_by_name() -> None:
    current = _frame(5000, seed=3, shift=0.5)  # amount moves by half a standard deviation
    current.loc[:999, "store"] = "s9"  # a new store: 20% of the rows
    current.loc[:1499, "age"] = np.nan  # 30% nulls where the reference had none
    report = compare(build_profile(_frame(5000, seed=1)), current)
    assert report.drifted() == ["amount", "store"]
    assert report.drifted_share == pytest.approx(0.4)
    assert not report.dataset_drift
    assert {(issue.column, issue.check) for issue in report.quality} == {
        ("store", "new_categories"),
        ("age", "null_rate"),
    }
    new = next(issue for issue in report.quality if issue.check == "new_categories")
    assert new.observed == pytest.approx(0.2)
    assert new.detail == "1 new: 's9'"


def test_dataset_drift_is_the_share_of_drifted_columns() -> None:
    current = _frame(5000, seed=3, shift=0.5)
    current["items"] = current["items"] + 1  # 2 of 5 drifted: amount, items
    profile = build_profile(_frame(5000, seed=1))
    assert compare(profile, current).drifted() == ["amount", "items"]
    assert compare(profile, current, options=DriftOptions(dataset_share=0.4)).dataset_drift
    assert not compare(profile, current, options=DriftOptions(dataset_share=0.41)).dataset_drift


def test_quality_thresholds_decide_what_is_an_issue() -> None:
    reference = pd.DataFrame({"x": np.linspace(0, 10, 2000), "c": ["a", "b"] * 1000})
    current = pd.DataFrame(
        {"x": np.r_[np.linspace(0, 10, 1880), np.full(120, 11.0)], "c": ["a"] * 1970 + ["z"] * 30}
    )
    profile = build_profile(reference)
    found = compare(profile, current).quality
    assert {(issue.column, issue.check, issue.observed) for issue in found} == {
        ("x", "out_of_range", 0.06),
        ("c", "new_categories", 0.015),
    }
    lenient = DriftOptions(out_of_range_share=0.1, new_category_share=0.02)
    assert compare(profile, current, options=lenient).quality == ()


def test_per_column_override_and_ignore_list() -> None:
    reference, current = _frame(5000, seed=1), _frame(5000, seed=3, shift=0.5)
    options = DriftOptions(
        columns={"amount": ColumnTest("psi", 10.0), "store": ColumnTest("chisquare", 0.01)},
        ignore=("member", "age"),
    )
    report = compare(build_profile(reference), current.drop(columns="member"), options=options)
    by_name = {drift.name: drift for drift in report.columns}
    assert list(by_name) == ["amount", "items", "store"]
    assert by_name["amount"].method == "psi"
    assert by_name["amount"].threshold == 10.0
    assert not by_name["amount"].drifted  # PSI of a 0.5 sigma shift is far below 10
    assert by_name["store"].method == "chisquare"
    assert by_name["store"].threshold == 0.01


def test_a_numeric_only_method_on_a_categorical_column_is_a_spec_error() -> None:
    profile = build_profile(_frame(500, seed=1))
    options = DriftOptions(columns={"store": ColumnTest("wasserstein")})
    with pytest.raises(SpecError, match=r"method 'wasserstein' needs numbers") as info:
        compare(profile, _frame(500, seed=2), options=options)
    assert info.value.where == "monitor.drift.columns.store"
    # project-wide, it applies to the numeric columns and leaves the others on auto
    report = compare(profile, _frame(500, seed=2), options=DriftOptions(ColumnTest("wasserstein")))
    assert {drift.name: drift.method for drift in report.columns}["store"] == "chisquare"
    assert {drift.name: drift.method for drift in report.columns}["amount"] == "wasserstein"


def test_missing_columns_are_named() -> None:
    profile = build_profile(_frame(500, seed=1))
    with pytest.raises(DataError, match=r"current data: the batch lacks 2 .*'age', 'store'"):
        compare(profile, _frame(500, seed=2).drop(columns=["age", "store"]))


def test_prediction_drift_uses_the_same_rules(rng: np.random.Generator) -> None:
    reference = _frame(3000, seed=1)
    profile = build_profile(reference, prediction=rng.beta(2, 5, 3000))
    shifted = compare(profile, _frame(3000, seed=2), current_prediction=rng.beta(5, 2, 3000))
    assert shifted.prediction is not None
    assert shifted.prediction.method == "wasserstein"
    assert shifted.prediction.drifted
    assert shifted.to_dict()["prediction_drift"] == shifted.prediction.statistic
    assert compare(profile, _frame(3000, seed=2)).prediction is None
    with pytest.raises(DataError, match=r"2 predictions for 3000 rows"):
        compare(profile, _frame(3000, seed=2), current_prediction=np.zeros(2))


def test_report_dict_is_json_with_flat_metrics_first() -> None:
    current = _frame(2000, seed=3, shift=0.5)
    current.loc[:10, "age"] = np.nan
    report = compare(build_profile(_frame(2000, seed=1)), current)
    body = json.loads(json.dumps(report.to_dict(plots=True), allow_nan=False))
    assert list(body)[:5] == [
        "dataset_drift",
        "drifted_share",
        "drifted_columns",
        "prediction_drift",
        "quality_issues",
    ]
    assert body["dataset_drift"] == 0
    assert body["drifted_columns"] == 1
    numeric, categorical = body["columns"]["amount"]["plot"], body["columns"]["store"]["plot"]
    assert len(numeric["edges"]) == len(numeric["reference"]) + 1 == 21
    assert sum(numeric["current"]) == pytest.approx(1.0)
    assert sum(numeric["reference"]) == pytest.approx(1.0)
    assert categorical["categories"][:2] == ["s1", "s2"]
    assert "plot" not in report.to_dict()["columns"]["amount"]


def test_pandas_and_arrow_batches_give_the_same_report() -> None:
    profile = build_profile(_frame(3000, seed=1))
    current = _frame(3000, seed=4, shift=0.3)
    as_arrow = pa.Table.from_pandas(current, preserve_index=False)
    assert compare(profile, as_arrow) == compare(profile, current)


def test_an_empty_current_column_is_reported_as_a_null_jump_not_drift() -> None:
    profile = build_profile(_frame(2000, seed=1))
    current = _frame(2000, seed=2).assign(amount=np.nan)
    report = compare(profile, current)
    amount = report.columns[0]
    assert (amount.method, amount.drifted) == ("none", False)
    assert [(issue.column, issue.check) for issue in report.quality] == [("amount", "null_rate")]
