"""The split stage on tiny frames with known row ids: exact rows per part, cuts at boundaries.

The oracles are worked out by hand (time cuts: which sorted row the quantile lands on) or are
scikit-learn's own splitters called directly on the row ids, the documented contract ("as
``train_test_split`` of the frame itself would"). ``run`` is driven in process on a parquet
file, so every refusal's text, where and fix is pinned.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

from conveyor.errors import DataError
from conveyor.runtime.params import ParamsView
from conveyor.runtime.plan import StageContext, StagePlan
from conveyor.runtime.stages import split as split_stage
from conveyor.spec import SplitSpec

if TYPE_CHECKING:
    from pathlib import Path

DATASET = "data/raw/rows.parquet"
SHUFFLE_FIX = "use more data, smaller test_size/valid_size, or strategy: "


def positions(parts: dict[str, np.ndarray]) -> dict[str, list[int]]:
    return {name: [int(i) for i in rows] for name, rows in parts.items()}


def frame(n: int = 20) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": range(n), "y": [i % 2 for i in range(n)], "g": [i // 4 for i in range(n)]}
    )


# --- random, stratified, group --------------------------------------------------------------


def test_random_holds_out_test_as_train_test_split_of_the_row_ids() -> None:
    from sklearn.model_selection import train_test_split

    parts = split_stage._shuffled(frame(10), SplitSpec(strategy="random", test_size=0.2), "y", 5)
    train, test = train_test_split(np.arange(10), test_size=0.2, random_state=5)
    assert list(parts) == ["train", "test"]
    assert positions(parts) == {"train": list(train), "test": list(test)}
    assert len(parts["test"]) == 2


def test_valid_is_cut_from_the_held_out_rows_in_proportion() -> None:
    from sklearn.model_selection import train_test_split

    spec = SplitSpec(strategy="random", test_size=0.3, valid_size=0.2)
    parts = split_stage._shuffled(frame(20), spec, "y", 11)
    train, rest = train_test_split(np.arange(20), test_size=0.5, random_state=11)
    valid, test = train_test_split(rest, test_size=0.6, random_state=11)
    assert list(parts) == ["train", "valid", "test"]
    assert positions(parts) == {"train": list(train), "valid": list(valid), "test": list(test)}
    assert [len(parts[p]) for p in parts] == [10, 4, 6]


def test_stratified_passes_the_classes_to_both_cuts() -> None:
    from sklearn.model_selection import train_test_split

    data = frame(40).assign(y=[0] * 30 + [1] * 10)
    spec = SplitSpec(strategy="stratified", test_size=0.25, valid_size=0.25)
    parts = split_stage._shuffled(data, spec, "y", 2)
    ids = np.arange(40)
    train, rest = train_test_split(ids, test_size=0.5, random_state=2, stratify=data["y"])
    valid, test = train_test_split(
        rest, test_size=0.5, random_state=2, stratify=data["y"].to_numpy()[rest]
    )
    assert positions(parts) == {"train": list(train), "valid": list(valid), "test": list(test)}
    assert [int(data["y"].iloc[parts[p]].sum()) for p in parts] == [5, 3, 2]  # 10 ones: 5/2.5/2.5


def test_the_same_seed_gives_the_same_rows_and_another_seed_other_rows() -> None:
    spec = SplitSpec(strategy="random", test_size=0.25)
    first = positions(split_stage._shuffled(frame(), spec, "y", 1))
    assert positions(split_stage._shuffled(frame(), spec, "y", 1)) == first
    assert positions(split_stage._shuffled(frame(), spec, "y", 2)) != first


def test_group_keeps_each_group_whole_as_group_shuffle_split() -> None:
    from sklearn.model_selection import GroupShuffleSplit

    data = frame(20)  # groups 0..4, four rows each
    spec = SplitSpec(strategy="group", group_column="g", test_size=0.25, valid_size=0.25)
    parts = split_stage._shuffled(data, spec, "y", 3)
    ids, groups = np.arange(20), data["g"].to_numpy()
    keep, held = next(GroupShuffleSplit(1, test_size=0.5, random_state=3).split(ids, groups=groups))
    rest = ids[held]
    inner = GroupShuffleSplit(1, test_size=0.5, random_state=3)
    v, t = next(inner.split(rest, groups=groups[rest]))
    assert positions(parts) == {
        "train": list(ids[keep]),
        "valid": list(rest[v]),
        "test": list(rest[t]),
    }
    sides = {p: {i // 4 for i in rows} for p, rows in positions(parts).items()}
    assert [len(sides[p]) for p in ("train", "valid", "test")] == [2, 1, 2]  # ceil(2.5), ceil(1.5)
    assert set.union(*sides.values()) == {0, 1, 2, 3, 4}


SIX = pd.DataFrame({"y": [0, 0, 0, 0, 0, 1], "g": [1] * 6})


@pytest.mark.parametrize(
    ("data", "spec", "message", "fallback"),
    [
        (
            SIX,
            SplitSpec(strategy="stratified", test_size=0.5),
            "cannot split 6 rows: The least populated class",
            "random",
        ),
        (
            SIX,
            SplitSpec(strategy="group", group_column="g", test_size=0.5),
            "cannot split 6 rows: ",
            "a different strategy",
        ),
        (
            SIX.iloc[:1],
            SplitSpec(strategy="random", test_size=0.5),
            "cannot split 1 rows: With n_samples=1, test_size=0.5 and train_size=None, the "
            "resulting train set will be empty.",
            "a different strategy",
        ),
        (  # the first cut holds out one group of two, which the second cannot cut
            pd.DataFrame({"y": [0, 1, 0, 1], "g": [1, 1, 2, 2]}),
            SplitSpec(strategy="group", group_column="g", test_size=0.2, valid_size=0.2),
            "cannot split 4 rows: ",
            "a different strategy",
        ),
    ],
    ids=["one member", "one group", "too few rows", "valid cut"],
)
def test_a_split_sklearn_cannot_make_is_a_data_error(
    data: pd.DataFrame, spec: SplitSpec, message: str, fallback: str
) -> None:
    with pytest.raises(DataError) as info:
        split_stage._shuffled(data, spec, "y", 0)
    assert info.value.what.startswith(message)
    assert info.value.where == "data.split"
    assert info.value.fix == SHUFFLE_FIX + fallback


# --- time -----------------------------------------------------------------------------------


def days(order: list[int]) -> pd.DataFrame:
    """Rows whose day is ``order[i]`` days after 2024-01-01, ids in row order."""
    start = pd.Timestamp("2024-01-01")
    return pd.DataFrame(
        {"id": range(len(order)), "t": [start + pd.Timedelta(days=d) for d in order]}
    )


SHUFFLED_DAYS = [3, 9, 0, 7, 1, 8, 2, 6, 4, 5]  # row i holds day SHUFFLED_DAYS[i]
BY_DAY = [2, 4, 6, 0, 8, 9, 7, 3, 5, 1]  # the rows sorted by day


def test_time_by_fraction_cuts_at_the_sorted_row_the_fraction_lands_on() -> None:
    spec = SplitSpec(strategy="time", time_column="t", test_size=0.2)
    parts = split_stage._by_time(days(SHUFFLED_DAYS), spec)
    assert positions(parts) == {"train": BY_DAY[:8], "test": BY_DAY[8:]}  # row 8 of 10 sorted
    spec = SplitSpec(strategy="time", time_column="t", test_size=0.2, valid_size=0.1)
    parts = split_stage._by_time(days(SHUFFLED_DAYS), spec)
    assert positions(parts) == {"train": BY_DAY[:7], "valid": BY_DAY[7:8], "test": BY_DAY[8:]}


@pytest.mark.parametrize(
    ("test_size", "first_test"),
    [(0.5, 5), (0.25, 8), (0.35, 6), (0.01, 9), (0.99, 0)],
    ids=["half", "7.5 rounds to 8", "6.5 rounds to 6", "under one row", "all but"],
)
def test_a_fraction_rounds_half_to_even_and_keeps_one_test_row(
    test_size: float, first_test: int
) -> None:
    """round(10 * (1 - f)), at most the last row: 0.01 of 10 rows still tests one."""
    spec = SplitSpec(strategy="time", time_column="t", test_size=test_size)
    parts = split_stage._by_time(days(list(range(10))), spec)
    assert positions(parts) == {
        "train": list(range(first_test)),
        "test": list(range(first_test, 10)),
    }


def test_ties_at_a_cut_stay_together_on_the_later_side_in_row_order() -> None:
    data = days([0, 1, 2, 2, 2, 0, 1, 3])  # sorted: rows 0 5 1 6 2 3 4 7
    spec = SplitSpec(strategy="time", time_column="t", test_size=0.5)  # cut at sorted row 4: day 2
    parts = split_stage._by_time(data, spec)
    assert positions(parts) == {"train": [0, 5, 1, 6], "test": [2, 3, 4, 7]}
    spec = SplitSpec(strategy="time", time_column="t", test_size=0.25, valid_size=0.25)
    parts = split_stage._by_time(data, spec)  # valid from sorted row 4 (day 2), test from 6 (2)
    assert positions(parts) == {"train": [0, 5, 1, 6], "valid": [], "test": [2, 3, 4, 7]}


def test_time_by_dates_at_exact_boundaries() -> None:
    data = days(SHUFFLED_DAYS)
    spec = SplitSpec(strategy="time", time_column="t", test_from="2024-01-09")  # day 8
    assert positions(split_stage._by_time(data, spec)) == {"train": BY_DAY[:8], "test": BY_DAY[8:]}
    spec = SplitSpec(
        strategy="time", time_column="t", valid_from="2024-01-06", test_from="2024-01-09"
    )
    assert positions(split_stage._by_time(data, spec)) == {
        "train": BY_DAY[:5],
        "valid": BY_DAY[5:8],
        "test": BY_DAY[8:],
    }
    same = SplitSpec(
        strategy="time", time_column="t", valid_from="2024-01-09", test_from="2024-01-09"
    )
    assert positions(split_stage._by_time(data, same)) == {
        "train": BY_DAY[:8],
        "valid": [],
        "test": BY_DAY[8:],
    }


def test_valid_from_after_test_from_is_refused() -> None:
    spec = SplitSpec(
        strategy="time", time_column="t", valid_from="2024-01-09", test_from="2024-01-08"
    )
    with pytest.raises(DataError) as info:
        split_stage._by_time(days(SHUFFLED_DAYS), spec)
    assert info.value.what == "valid_from (2024-01-09) is after test_from (2024-01-08)"
    assert info.value.where == "data.split.valid_from"
    assert info.value.fix == "valid rows come before the test rows: move valid_from earlier"


@pytest.mark.filterwarnings("ignore:Could not infer format")
def test_iso_strings_are_times_and_text_that_is_not_is_refused() -> None:
    data = days(SHUFFLED_DAYS).assign(t=lambda f: f["t"].dt.strftime("%Y-%m-%d"))
    spec = SplitSpec(strategy="time", time_column="t", test_from="2024-01-09")
    assert positions(split_stage._by_time(data, spec)) == {"train": BY_DAY[:8], "test": BY_DAY[8:]}
    with pytest.raises(DataError) as info:
        split_stage._by_time(data.assign(t=["soon"] * 10), spec)
    assert info.value.what.startswith("column 't' does not hold dates: ")
    assert "soon" in info.value.what
    assert info.value.where == "data.split.time_column"
    assert info.value.fix == "point time_column at a datetime column (or ISO date strings)"
    with pytest.raises(DataError) as info:
        split_stage._by_time(data.assign(t=[{"a": 1}] * 10), spec)
    assert info.value.what.startswith("column 't' does not hold dates: ")


def test_missing_times_are_counted_and_refused() -> None:
    data = days(SHUFFLED_DAYS)
    data.loc[[2, 5], "t"] = pd.NaT
    with pytest.raises(DataError) as info:
        split_stage._by_time(data, SplitSpec(strategy="time", time_column="t"))
    assert info.value.what == "column 't' has 2 missing times"
    assert info.value.where == "data.split.time_column"
    assert info.value.fix == (
        "fill or drop rows without a time before splitting (data.schema can forbid them)"
    )
    text = days(SHUFFLED_DAYS).assign(t=["2024-01-01"] * 9 + [None])
    with pytest.raises(DataError) as info:
        split_stage._by_time(text, SplitSpec(strategy="time", time_column="t"))
    assert info.value.what == "column 't' has 1 missing times"


@pytest.mark.parametrize("dtype", ["int64", "uint8", "float64"])
def test_a_numeric_time_column_is_cut_by_fraction_as_numbers(dtype: str) -> None:
    data = pd.DataFrame({"t": np.array(SHUFFLED_DAYS, dtype=dtype)})
    spec = SplitSpec(strategy="time", time_column="t", test_size=0.2)
    assert positions(split_stage._by_time(data, spec)) == {"train": BY_DAY[:8], "test": BY_DAY[8:]}


def test_a_numeric_time_column_cannot_be_cut_at_a_date() -> None:
    data = pd.DataFrame({"t": SHUFFLED_DAYS})
    spec = SplitSpec(strategy="time", time_column="t", test_from="2024-01-09")
    with pytest.raises(DataError) as info:
        split_stage._by_time(data, spec)
    assert info.value.what == (
        "the time column holds numbers, so '2024-01-09' cannot be compared with it"
    )
    assert info.value.where == "data.split.test_from"
    assert info.value.fix == "use test_size/valid_size fractions for a numeric time column"
    spec = SplitSpec(strategy="time", time_column="t", valid_from="x", test_from="2024-01-09")
    with pytest.raises(DataError) as info:
        split_stage._by_time(data.astype(float), spec)
    assert info.value.where == "data.split.test_from"


@pytest.mark.parametrize("key", ["test_from", "valid_from"])
def test_a_cut_that_is_not_a_date_is_refused_where_it_is(key: str) -> None:
    dates = {"test_from": "2024-01-09", "valid_from": "2024-01-02", key: "next tuesday"}
    spec = SplitSpec(strategy="time", time_column="t", **dates)
    with pytest.raises(DataError) as info:
        split_stage._by_time(days(SHUFFLED_DAYS), spec)
    assert info.value.what == "'next tuesday' is not a date"
    assert info.value.where == f"data.split.{key}"
    assert info.value.fix == "write an ISO date such as 2024-01-31"


def test_a_naive_date_is_read_in_the_columns_time_zone() -> None:
    data = days(SHUFFLED_DAYS).assign(t=lambda f: f["t"].dt.tz_localize("Asia/Tokyo"))
    spec = SplitSpec(strategy="time", time_column="t", test_from="2024-01-09")
    assert positions(split_stage._by_time(data, spec)) == {"train": BY_DAY[:8], "test": BY_DAY[8:]}
    # 2024-01-09 00:00 in UTC is 09:00 in Tokyo: day 8 (midnight Tokyo) is before it
    utc = SplitSpec(strategy="time", time_column="t", test_from="2024-01-09T00:00Z")
    assert positions(split_stage._by_time(data, utc)) == {"train": BY_DAY[:9], "test": BY_DAY[9:]}
    assert split_stage._as_time("2024-01-09", data["t"], "w") == pd.Timestamp(
        "2024-01-09", tz="Asia/Tokyo"
    )
    naive = split_stage._as_time("2024-01-09", days([0])["t"], "w")
    assert naive == pd.Timestamp("2024-01-09")
    assert naive.tzinfo is None


# --- parts and the stage --------------------------------------------------------------------


def _spec(**split: Any) -> Any:
    return SimpleNamespace(data=SimpleNamespace(split=SplitSpec(**split)))


def test_parts_are_train_test_with_valid_only_when_asked() -> None:
    assert split_stage.parts(_spec(strategy="random")) == ("train", "test")
    assert split_stage.parts(_spec(strategy="random", valid_size=0.1)) == ("train", "valid", "test")
    time = {"strategy": "time", "time_column": "t"}
    assert split_stage.parts(_spec(**time, test_from="2024-01-02")) == ("train", "test")
    assert split_stage.parts(_spec(**time, test_from="2024-01-02", valid_from="2024-01-01")) == (
        "train",
        "valid",
        "test",
    )


def context(root: Path, data: pd.DataFrame, split: dict[str, Any], seed: int = 0) -> StageContext:
    (root / "data" / "raw").mkdir(parents=True, exist_ok=True)
    data.to_parquet(root / DATASET, index=False)
    params = {"data": {"split": split, "target": "y"}, "seed": seed}
    outs = tuple(f"data/split/{p}.parquet" for p in split_stage.parts(_spec(**split)))
    plan = StagePlan("split", "", split_stage.READS, deps=(DATASET,), outs=outs)
    return StageContext(root, ParamsView(params, split_stage.READS, "split"), plan, None)  # type: ignore[arg-type]


def written(root: Path) -> dict[str, list[int]]:
    return {
        path.stem: pd.read_parquet(path)["id"].tolist()
        for path in sorted((root / "data" / "split").glob("*.parquet"))
    }


def test_the_stage_drops_rows_without_a_target_and_writes_each_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sklearn.model_selection import train_test_split

    data = frame(12).assign(y=[0, None, 1, 0, 1, 0, None, 1, 0, 1, 0, 1])
    split_stage.run(context(tmp_path, data, {"strategy": "random", "test_size": 0.3}, seed=4))
    labelled = data[data["y"].notna()].reset_index(drop=True)
    train, test = train_test_split(np.arange(10), test_size=0.3, random_state=4)
    assert written(tmp_path) == {
        "test": labelled["id"].iloc[test].tolist(),
        "train": labelled["id"].iloc[train].tolist(),
    }
    assert capsys.readouterr().out == (
        "split: dropped 2 rows with no 'y'\nsplit: random: train 7, test 3\n"
    )


def test_the_stage_reads_the_seed_and_says_nothing_of_rows_it_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sklearn.model_selection import train_test_split

    data = frame(20)
    split = {"strategy": "stratified", "test_size": 0.25, "valid_size": 0.25}
    split_stage.run(context(tmp_path, data, split, seed=9))
    train, rest = train_test_split(np.arange(20), test_size=0.5, random_state=9, stratify=data["y"])
    valid, test = train_test_split(
        rest, test_size=0.5, random_state=9, stratify=data["y"].to_numpy()[rest]
    )
    assert written(tmp_path) == {"test": list(test), "train": list(train), "valid": list(valid)}
    assert capsys.readouterr().out == "split: stratified: train 10, valid 5, test 5\n"


def test_the_stage_splits_by_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = days(SHUFFLED_DAYS).assign(y=1)
    split = {"strategy": "time", "time_column": "t", "test_size": 0.2, "valid_size": 0.1}
    split_stage.run(context(tmp_path, data, split))
    assert written(tmp_path) == {"test": BY_DAY[8:], "train": BY_DAY[:7], "valid": BY_DAY[7:8]}
    assert capsys.readouterr().out == "split: time: train 7, valid 1, test 2\n"


TIME = {"strategy": "time", "time_column": "t"}


@pytest.mark.parametrize(
    ("split", "times", "part"),
    [
        ({**TIME, "test_size": 0.5}, [1, 1, 1, 1, 1], "train"),  # cut at day 1: all are later
        ({**TIME, "test_from": "2024-01-01"}, [0, 0, 1, 1, 1], "train"),
        ({**TIME, "test_from": "2024-01-02", "valid_from": "2024-01-02"}, [0, 0, 1, 1, 1], "valid"),
        ({**TIME, "test_from": "2024-01-03"}, [0, 0, 1, 1, 1], "test"),
    ],
)
def test_an_empty_part_is_refused_and_nothing_is_written(
    tmp_path: Path, split: dict[str, Any], times: list[int], part: str
) -> None:
    data = days(times).assign(y=[1, 1, 1, 1, None])  # the last row has no target
    with pytest.raises(DataError) as info:
        split_stage.run(context(tmp_path, data, split))
    assert info.value.what == f"the {part} split is empty (4 labelled rows)"
    assert info.value.where == "data.split"
    assert info.value.fix == (
        "use more data, or change test_size/valid_size (or test_from/valid_from)"
    )
    assert not (tmp_path / "data" / "split").exists()


@pytest.mark.parametrize(
    ("split", "missing", "key"),
    [
        ({"strategy": "random"}, "y", "data.target"),
        ({"strategy": "group", "group_column": "grp"}, "grp", "data.split.group_column"),
        ({"strategy": "time", "time_column": "when"}, "when", "data.split.time_column"),
    ],
)
def test_a_column_the_split_needs_is_named_with_its_key(
    tmp_path: Path, split: dict[str, Any], missing: str, key: str
) -> None:
    data = pd.DataFrame({"id": [0, 1], "y": [0, 1], "grp": [0, 1], "when": [0, 1]})
    with pytest.raises(DataError) as info:
        split_stage.run(context(tmp_path, data.drop(columns=missing), split))
    assert info.value.what == f"column '{missing}' is not in {DATASET}"
    assert info.value.where == key


def test_the_stage_plan_of_the_default_project() -> None:
    from conveyor.config import load_project
    from tests.conftest import REPO

    project = load_project(REPO)
    (plan,) = split_stage.plan(project.spec, project.plugins)
    assert plan.name == "split"
    assert plan.desc == "Split the dataset into train/test (and valid) under data/split/"
    assert plan.reads == ("data.split", "data.target", "seed")
    assert plan.deps[0] == "data/raw/" + plan.deps[0].removeprefix("data/raw/")
    assert plan.deps[1:] == ("reports/validation.json",)
    assert plan.outs == tuple(f"data/split/{p}.parquet" for p in split_stage.parts(project.spec))


def test_a_missing_dataset_names_the_split_stage(tmp_path: Path) -> None:
    ctx = context(tmp_path, frame(4), {"strategy": "random"})
    (tmp_path / DATASET).unlink()
    with pytest.raises(DataError) as info:
        split_stage.run(ctx)
    assert info.value.what == f"input '{DATASET}' does not exist"
    assert info.value.where == "stage 'split'"


def test_dropping_unlabelled_rows_adds_no_column(tmp_path: Path) -> None:
    data = frame(10).assign(y=[0, 1, None, 0, 1, 0, 1, 0, 1, 0])
    split_stage.run(context(tmp_path, data, {"strategy": "random", "test_size": 0.3}))
    for part in ("train", "test"):
        written_part = pd.read_parquet(tmp_path / "data" / "split" / f"{part}.parquet")
        assert written_part.columns.tolist() == ["id", "y", "g"]


def test_ties_keep_row_order_in_a_long_column() -> None:
    """A stable sort: an unstable one reorders equal times past 16 rows."""
    data = days([1, 0] * 20)
    spec = SplitSpec(strategy="time", time_column="t", test_size=0.5)
    parts = split_stage._by_time(data, spec)
    assert positions(parts) == {"train": list(range(1, 40, 2)), "test": list(range(0, 40, 2))}
