"""Every split strategy on real frames: sizes, no group on both sides, no future rows in train."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conveyor.errors import DataError
from conveyor.runtime.stages import split as split_stage
from conveyor.spec import SplitSpec


def _shuffled(frame: pd.DataFrame, spec: SplitSpec, target: str, seed: int) -> dict:
    """The split as frames (the stage works with row positions)."""
    return {p: frame.iloc[r] for p, r in split_stage._shuffled(frame, spec, target, seed).items()}


def _by_time(frame: pd.DataFrame, spec: SplitSpec) -> dict:
    return {p: frame.iloc[r] for p, r in split_stage._by_time(frame, spec).items()}


def _frame(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "patient": rng.integers(0, 60, rows),
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 100, rows), "D"),
            "x": rng.normal(size=rows),
            "y": rng.integers(0, 2, rows),
        }
    )


@pytest.mark.parametrize("strategy", ["random", "stratified"])
def test_shuffled_splits_have_the_asked_sizes_and_cover_every_row(strategy: str) -> None:
    frame = _frame()
    spec = SplitSpec(strategy=strategy, test_size=0.25, valid_size=0.15)
    parts = _shuffled(frame, spec, "y", seed=3)
    assert [len(parts[p]) for p in ("train", "valid", "test")] == [240, 60, 100]
    indices = np.concatenate([parts[p].index for p in parts])
    assert sorted(indices) == list(range(len(frame)))


def test_stratified_keeps_the_class_balance() -> None:
    frame = _frame()
    parts = _shuffled(frame, SplitSpec(strategy="stratified", test_size=0.3), "y", seed=1)
    overall = frame["y"].mean()
    assert abs(parts["test"]["y"].mean() - overall) < 0.02


def test_same_seed_same_split_other_seed_other_split() -> None:
    frame, spec = _frame(), SplitSpec(strategy="random")
    first = _shuffled(frame, spec, "y", seed=7)["test"].index
    assert list(first) == list(_shuffled(frame, spec, "y", seed=7)["test"].index)
    assert list(first) != list(_shuffled(frame, spec, "y", seed=8)["test"].index)


def test_group_split_never_puts_a_group_on_two_sides() -> None:
    frame = _frame()
    spec = SplitSpec(strategy="group", group_column="patient", test_size=0.3, valid_size=0.2)
    parts = _shuffled(frame, spec, "y", seed=0)
    groups = {name: set(rows["patient"]) for name, rows in parts.items()}
    assert not groups["train"] & groups["test"]
    assert not groups["train"] & groups["valid"]
    assert not groups["valid"] & groups["test"]
    assert sum(len(rows) for rows in parts.values()) == len(frame)


def test_time_split_by_fraction_puts_no_future_row_in_train() -> None:
    frame = _frame()
    spec = SplitSpec(strategy="time", time_column="day", test_size=0.2, valid_size=0.1)
    parts = _by_time(frame, spec)
    assert parts["train"]["day"].max() < parts["valid"]["day"].min()
    assert parts["valid"]["day"].max() < parts["test"]["day"].min()
    assert sum(len(rows) for rows in parts.values()) == len(frame)
    assert parts["test"]["day"].is_monotonic_increasing
    assert 0.15 < len(parts["test"]) / len(frame) < 0.25  # ties at the cut move it a little


def test_time_split_by_dates() -> None:
    frame = _frame()
    spec = SplitSpec(
        strategy="time", time_column="day", valid_from="2024-03-01", test_from="2024-03-20"
    )
    parts = _by_time(frame, spec)
    assert parts["train"]["day"].max() < pd.Timestamp("2024-03-01")
    assert parts["valid"]["day"].between("2024-03-01", "2024-03-19").all()
    assert (parts["test"]["day"] >= pd.Timestamp("2024-03-20")).all()


def test_time_split_accepts_iso_strings() -> None:
    frame = _frame().assign(day=lambda f: f["day"].dt.strftime("%Y-%m-%d"))
    spec = SplitSpec(strategy="time", time_column="day", test_from="2024-03-20")
    parts = _by_time(frame, spec)
    assert (parts["test"]["day"] >= "2024-03-20").all()
    assert (parts["train"]["day"] < "2024-03-20").all()


def test_time_split_refuses_text_that_is_not_a_date() -> None:
    frame = _frame().assign(day="soon")
    spec = SplitSpec(strategy="time", time_column="day")
    with pytest.raises(DataError, match="column 'day' does not hold dates"):
        _by_time(frame, spec)


def test_time_split_refuses_missing_times() -> None:
    frame = _frame()
    frame.loc[3, "day"] = pd.NaT
    with pytest.raises(DataError, match="column 'day' has 1 missing times"):
        _by_time(frame, SplitSpec(strategy="time", time_column="day"))


def test_too_few_groups_is_a_data_error_with_a_fix() -> None:
    frame = _frame().assign(patient=1)
    spec = SplitSpec(strategy="group", group_column="patient", test_size=0.3)
    with pytest.raises(DataError, match="cannot split 400 rows") as info:
        _shuffled(frame, spec, "y", seed=0)
    assert "strategy" in str(info.value.fix)
