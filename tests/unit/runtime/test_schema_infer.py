"""`conveyor schema infer`: the draft is a valid data.schema that its own data passes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import pandas as hpd

from conveyor.errors import DataError
from conveyor.runtime.validation import validate_frame
from conveyor.runtime.validation.infer import draft_schema, infer_schema, render_schema
from conveyor.spec.schema import SchemaSpec
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)


def varied() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": [101, 102, 103, 104, 105, 106],
            "orderID": ["a1", "a2", "a3", "a4", "a5", "a6"],
            "mean radius": [1.5, 2.5, np.nan, 4.25, 0.1, 1e-7],
            "ward": ["north", "south", "north", None, "yes", "south"],
            "visits": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
            "paid": [True, False, True, True, False, True],
            "kind": pd.Categorical(["x", "y", "x", "x", "y", "x"]),
            "mixed": [1, "a", 2.5, None, "b", 3],
            "huge": [2**60, 1, 2, 3, 4, 5],
            "f32": np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.7], dtype="float32"),
            "empty": [np.nan] * 6,
            "a: b #c": [1, 2, 3, 4, 5, 6],
            "ts": pd.date_range("2024-01-01", periods=6, freq="h"),
        }
    )


def round_trip(frame: pd.DataFrame) -> tuple[str, SchemaSpec]:
    text = render_schema(infer_schema(frame), origin="data/raw/x.parquet")
    return text, SchemaSpec.model_validate(yaml.safe_load(text)["schema"])


def test_the_draft_is_a_valid_schema_that_its_data_passes() -> None:
    frame = varied()
    _, schema = round_trip(frame)
    report = validate_frame(frame, schema, dataset="x", now=NOW)
    assert report.failures == (), [f.line() for f in report.failures]
    assert list(schema.columns) == list(frame.columns)


def test_each_column_gets_what_it_shows() -> None:
    _, schema = round_trip(varied())
    columns = schema.columns
    assert columns["patient_id"].unique
    assert columns["orderID"].unique
    assert not columns["mean radius"].unique  # all distinct, but not an id
    assert (columns["mean radius"].min, columns["mean radius"].max) == (1e-7, 4.25)
    assert columns["mean radius"].max_null_fraction == pytest.approx(0.18)  # 1/6 rounded up
    assert columns["visits"].dtype == "int"
    assert columns["ward"].allowed == ["north", "south", "yes"]
    assert columns["paid"].allowed == [False, True]
    assert columns["kind"].dtype == "category"
    assert columns["kind"].allowed == ["x", "y"]
    assert columns["mixed"].dtype is None
    assert columns["huge"].min is None  # beyond what a float bound holds exactly
    assert not columns["ts"].nullable
    assert schema.rows is not None
    assert schema.rows.min == 3
    assert schema.time is not None
    assert (schema.time.column, schema.time.monotonic) == ("ts", "strictly_increasing")


def test_many_text_levels_get_no_allowed_list_and_say_so() -> None:
    frame = pd.DataFrame({"city": [f"c{i % 21}" for i in range(42)], "few": ["a", "b"] * 21})
    text, schema = round_trip(frame)
    assert schema.columns["city"].allowed is None
    assert schema.columns["few"].allowed == ["a", "b"]
    assert "city:  # 21 distinct values (> 20): no allowed list" in text
    assert "allowed: [a, b]  # 2 levels seen (<= 20): a new one will fail" in text


def test_names_that_merely_end_in_id_letters_are_not_ids() -> None:
    frame = pd.DataFrame({"paid": [1, 2, 3], "valid": ["x", "y", "z"], "user id": [1, 2, 3]})
    _, schema = round_trip(frame)
    assert not schema.columns["paid"].unique
    assert not schema.columns["valid"].unique
    assert schema.columns["user id"].unique


def test_time_block_only_for_one_datetime_column_and_order_as_seen() -> None:
    frame = pd.DataFrame({"ts": pd.to_datetime(["2024-01-02", "2024-01-01"])})
    _, schema = round_trip(frame)
    assert schema.time is not None
    assert schema.time.monotonic is None
    frame["other"] = frame["ts"]
    _, schema = round_trip(frame)
    assert schema.time is None


def test_the_yaml_says_where_from_and_to_review_it() -> None:
    text, _ = round_trip(varied())
    assert text.startswith(
        "# Drafted by `conveyor schema infer` from data/raw/x.parquet (6 rows x 13 columns).\n"
        "# Review it before use"
    )
    assert "2024" not in text.split("schema:")[0]  # no date: it is pasted into git-tracked conf/
    assert "\nschema:\n  columns:\n    patient_id:\n      dtype: int\n" in text


@settings(max_examples=60, deadline=None)
@given(
    frame=hpd.data_frames(
        [
            # infinity never passes: validate refuses it in any float column (issue 17)
            hpd.column("f", dtype=float, elements=st.floats(allow_nan=True, allow_infinity=False)),
            hpd.column("i", dtype=int, elements=st.integers(-(2**62), 2**62)),
            hpd.column("s", elements=st.sampled_from(["a", "b", "c", None, "yes", "1"])),
            hpd.column("b", dtype=bool),
        ],
        index=hpd.range_indexes(min_size=1, max_size=30),
    )
)
def test_any_frame_passes_its_own_draft(frame: pd.DataFrame) -> None:
    _, schema = round_trip(frame)
    report = validate_frame(frame, schema, dataset="x", now=NOW)
    assert report.failures == (), [f.line() for f in report.failures]


def project_with_dataset(root: Path, frame: pd.DataFrame | None) -> None:
    (root / "params.yaml").write_text((REPO / "params.yaml").read_text())
    if frame is not None:
        (root / "data" / "raw").mkdir(parents=True)
        frame.to_parquet(root / "data" / "raw" / "breast_cancer.parquet", index=False)


def test_draft_reads_the_dataset_validate_reads(tmp_path: Path) -> None:
    project_with_dataset(tmp_path, pd.DataFrame({"mean radius": [1.0, 2.0], "diagnosis": [0, 1]}))
    text = draft_schema(tmp_path)
    assert "from data/raw/breast_cancer.parquet (2 rows x 2 columns)" in text
    assert text == draft_schema(tmp_path, source="breast_cancer")


def test_draft_from_a_csv_file_needs_no_project(tmp_path: Path) -> None:
    (tmp_path / "visits.csv").write_text("age,ward\n31,a\n40,b\n")
    text = draft_schema(tmp_path, file="visits.csv")
    assert "from visits.csv (2 rows x 2 columns)" in text
    assert SchemaSpec.model_validate(yaml.safe_load(text)["schema"]).columns["age"].max == 40


def test_a_dataset_not_yet_produced_says_which_stage_makes_it(tmp_path: Path) -> None:
    project_with_dataset(tmp_path, None)
    with pytest.raises(
        DataError, match=r"'data/raw/breast_cancer\.parquet' does not exist yet"
    ) as info:
        draft_schema(tmp_path)
    assert "dvc repro ingest-breast_cancer" in str(info.value.fix)


def test_an_unknown_source_suggests_the_close_one(tmp_path: Path) -> None:
    project_with_dataset(tmp_path, None)
    with pytest.raises(DataError, match="no source named 'breast_cancr'") as info:
        draft_schema(tmp_path, source="breast_cancr")
    assert "did you mean 'breast_cancer'?" in str(info.value.fix)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.txt", "a", "unknown file type '.txt'"),
        ("missing.csv", None, "'.*missing.csv' does not exist"),
        ("bad.parquet", "not parquet", "cannot read '.*bad.parquet'"),
    ],
)
def test_unreadable_files_are_data_errors(
    tmp_path: Path, name: str, content: Any, message: str
) -> None:
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(DataError, match=message):
        draft_schema(tmp_path, file=name)
