"""data.schema checks: each passes on good data and fails on planted bad rows with evidence."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

from conveyor.errors import DataError, DataValidationError
from conveyor.runtime.validation import ValidationReport, validate_frame
from conveyor.spec.schema import SchemaSpec

if TYPE_CHECKING:
    from pathlib import Path

NOW = datetime(2024, 3, 1, tzinfo=UTC)


def good() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "age": [30, 41, 57, 62, 18, 99],
            "mean radius": [1.5, 2.5, 3.0, np.nan, 4.0, 5.0],
            "ward": ["a", "b", "a", "c", "b", "a"],
            "code": ["AB1", "AB22", "AB3", "AB4", "AB5", "AB6"],
            "visits": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
            "flag": [True, False, True, True, False, True],
            "ts": pd.date_range("2024-02-20", periods=6, freq="D"),
        }
    )


def check(frame: pd.DataFrame, **schema: Any) -> ValidationReport:
    return validate_frame(frame, SchemaSpec.model_validate(schema), dataset="x.parquet", now=NOW)


def only_failure(report: ValidationReport) -> dict[str, Any]:
    assert len(report.failures) == 1, [f.line() for f in report.failures]
    return report.failures[0].to_dict()


def planted(column: str, row: int, value: Any) -> pd.DataFrame:
    frame = good()
    if column in ("age", "id") and not isinstance(value, int):
        frame[column] = frame[column].astype(object)
    frame.loc[row, column] = value
    return frame


@pytest.mark.parametrize(
    ("rule", "column", "row", "bad", "expected", "observed"),
    [
        ({"max": 120}, "age", 4, 430, 120, 430),
        ({"min": 18}, "age", 2, 3, 18, 3),
        ({"allowed": ["a", "b", "c"]}, "ward", 3, "X", ["a", "b", "c"], ["X"]),
        ({"regex": r"AB\d+"}, "code", 1, "xAB2", r"AB\d+", ["xAB2"]),
        ({"nullable": False}, "ward", 5, None, False, 1),
        ({"unique": True}, "id", 4, 1, True, 1),
    ],
)
def test_a_rule_passes_on_good_rows_and_names_the_planted_bad_one(
    rule: dict[str, Any], column: str, row: int, bad: Any, expected: Any, observed: Any
) -> None:
    assert check(good(), columns={column: rule}, extra_columns="allow").passed
    report = check(planted(column, row, bad), columns={column: rule}, extra_columns="allow")
    failure = only_failure(report)
    (key,) = rule
    assert failure["column"] == column
    assert failure["check"] == key
    assert failure["rule"] == f"data.schema.columns.{column}.{key}"
    assert failure["severity"] == "error"
    assert failure["expected"] == expected
    assert failure["observed"] == observed
    assert {"_row": row, column: None if bad is None else bad} in failure["sample"]
    assert not report.passed


def test_max_message_reads_like_the_issue() -> None:
    frame = good()
    frame.loc[[2, 4], "age"] = [430, 200]
    report = check(frame, columns={"age": {"max": 120}})
    assert report.failures[0].line() == (
        "'age' max: expected <= 120, observed 430 in 2 rows (rows 2, 4)"
    )


def test_sample_keeps_five_rows_and_counts_all() -> None:
    frame = pd.DataFrame({"x": np.arange(100.0)})
    failure = only_failure(check(frame, columns={"x": {"max": 9}}))
    assert failure["failed_rows"] == 90
    assert [r["_row"] for r in failure["sample"]] == [10, 11, 12, 13, 14]
    assert failure["message"].endswith("in 90 rows (rows 10, 11, 12, 13, 14, ...)")


@pytest.mark.parametrize(
    ("column", "dtype"),
    [
        ("id", "int"),
        ("id", "number"),
        ("visits", "int"),  # nullable Int64
        ("mean radius", "float"),
        ("mean radius", "number"),
        ("ward", "str"),
        ("ward", "category"),  # text stands for a category
        ("flag", "bool"),
        ("ts", "datetime"),
    ],
)
def test_dtype_accepts_the_storage_pandas_picks(column: str, dtype: str) -> None:
    assert check(good(), columns={column: {"dtype": dtype}}, extra_columns="allow").passed


@pytest.mark.parametrize(
    ("values", "dtype", "observed"),
    [
        ([1.0, 2.0, 3.0], "int", "float64"),  # whole numbers in a float column are not int
        (["1", "2", "3"], "int", "str"),
        ([1, 2, 3], "str", "int64"),
        ([1, "a", 2.5], "str", "object (mixed-integer)"),
        ([1, 0, 1], "bool", "int64"),
    ],
)
def test_dtype_fails_on_a_different_kind(values: list[Any], dtype: str, observed: str) -> None:
    frame = pd.DataFrame({"c": values})
    failure = only_failure(check(frame, columns={"c": {"dtype": dtype}}))
    assert (failure["check"], failure["expected"], failure["observed"]) == (
        "dtype",
        dtype,
        observed,
    )
    assert failure["failed_rows"] is None


def test_str_accepts_object_and_string_dtypes() -> None:
    for series in (
        pd.Series(["a", None], dtype=object),
        pd.Series(["a", None], dtype="string"),
        pd.Series(["a", None], dtype="str"),
    ):
        assert check(pd.DataFrame({"c": series}), columns={"c": {"dtype": "str"}}).passed


def test_a_wrong_dtype_is_one_failure_not_one_per_range_rule() -> None:
    frame = pd.DataFrame({"age": ["young", "old"]})
    report = check(frame, columns={"age": {"dtype": "int", "min": 0, "max": 120}})
    assert [f.check for f in report.failures] == ["dtype"]


def test_max_null_fraction() -> None:
    frame = pd.DataFrame({"x": [1.0, None, None, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]})
    assert check(frame, columns={"x": {"max_null_fraction": 0.2}}).passed
    failure = only_failure(check(frame, columns={"x": {"max_null_fraction": 0.1}}))
    assert failure["observed"] == 0.2
    assert failure["failed_rows"] == 2
    assert failure["sample"] == [{"_row": 1, "x": None}, {"_row": 2, "x": None}]
    assert "expected <= 10% nulls, observed 20%" in failure["message"]


def test_missing_column_suggests_the_renamed_one() -> None:
    frame = good().rename(columns={"age": "age_years"})
    report = check(frame, columns={"age": {"max": 120}, "radius": {}})
    lines = [f.line() for f in report.failures]
    assert "'age' present: column 'age' is missing; did you mean 'age_years'?" in lines
    assert "'radius' present: column 'radius' is missing; did you mean 'mean radius'?" in lines
    assert [f.check for f in report.failures if f.column == "age"] == ["present"]


@pytest.mark.parametrize(
    ("policy", "passed", "severity"),
    [("allow", True, None), ("warn", True, "warning"), ("error", False, "error")],
)
def test_extra_columns_policy(policy: str, passed: bool, severity: str | None) -> None:
    report = check(good(), columns={"id": {}, "age": {}}, extra_columns=policy)
    assert report.passed is passed
    if severity is None:
        assert report.failures == ()
        return
    failure = only_failure(report)
    assert (failure["column"], failure["check"], failure["severity"]) == (
        None,
        "extra_columns",
        severity,
    )
    assert failure["observed"] == ["mean radius", "ward", "code", "visits", "flag", "ts"]


def test_the_time_column_counts_as_listed() -> None:
    frame = good()[["id", "ts"]]
    assert check(frame, columns={"id": {}}, time={"column": "ts"}, extra_columns="error").passed


@pytest.mark.parametrize(
    ("rows", "check_name", "passed"),
    [
        ({"min": 6, "max": 6}, None, True),
        ({"min": 7}, "min_rows", False),
        ({"max": 5}, "max_rows", False),
    ],
)
def test_row_count_bounds(rows: dict[str, int], check_name: str | None, passed: bool) -> None:
    report = check(good(), rows=rows)
    assert report.passed is passed
    if check_name:
        failure = only_failure(report)
        assert (failure["check"], failure["observed"], failure["column"]) == (check_name, 6, None)


def test_monotonic_time() -> None:
    assert check(good(), time={"column": "ts", "monotonic": "strictly_increasing"}).passed
    frame = good()
    frame.loc[3, "ts"] = pd.Timestamp("2024-01-01")
    failure = only_failure(check(frame, time={"column": "ts", "monotonic": "increasing"}))
    assert failure["check"] == "monotonic"
    assert failure["rule"] == "data.schema.time.monotonic"
    assert failure["sample"] == [
        {"_row": 3, "ts": "2024-01-01T00:00:00", "_previous": "2024-02-22T00:00:00"}
    ]
    ties = good()
    ties.loc[3, "ts"] = ties.loc[2, "ts"]
    assert check(ties, time={"column": "ts", "monotonic": "increasing"}).passed
    assert not check(ties, time={"column": "ts", "monotonic": "strictly_increasing"}).passed


def test_monotonic_parses_text_dates() -> None:
    frame = pd.DataFrame({"day": ["2024-01-02", "2024-01-01"]})
    failure = only_failure(check(frame, time={"column": "day", "monotonic": "increasing"}))
    assert failure["failed_rows"] == 1


def test_freshness() -> None:
    newest = "2024-02-25T00:00:00"  # the last of good()'s days, 5 days before NOW
    assert check(good(), time={"column": "ts", "max_age_days": 6}).passed
    report = check(good(), time={"column": "ts", "max_age_days": 2})
    failure = only_failure(report)
    assert (failure["check"], failure["expected"], failure["observed"]) == ("max_age_days", 2, 5)
    assert failure["sample"] == [{"_row": 5, "ts": newest}]
    assert f"observed {newest} (5.0 days old)" in failure["message"]


def test_freshness_of_tz_aware_times() -> None:
    frame = pd.DataFrame(
        {"ts": pd.date_range("2024-02-28", periods=2, freq="D", tz="Europe/Paris")}
    )
    assert check(frame, time={"column": "ts", "max_age_days": 3}).passed


def test_missing_time_column_is_located() -> None:
    failure = only_failure(check(good(), time={"column": "tss", "monotonic": "increasing"}))
    assert failure["rule"] == "data.schema.time.column"
    assert "did you mean 'ts'?" in failure["message"]


def test_warnings_do_not_fail() -> None:
    rule = {"max": 120, "severity": "warning"}
    report = check(planted("age", 1, 430), columns={"age": rule}, extra_columns="allow")
    assert report.passed
    assert len(report.warnings) == 1
    assert "passed with 1 warning" in report.summary("reports/validation.json")


def test_report_is_strict_json_without_nan(tmp_path: Path) -> None:
    frame = good()
    frame["score"] = [np.nan, np.inf, 1.0, 2.0, 3.0, 4.0]
    frame.loc[0, "ts"] = pd.NaT
    report = check(
        frame,
        columns={"score": {"nullable": False}, "visits": {"min": 3}, "ts": {"nullable": False}},
    )
    path = tmp_path / "reports" / "validation.json"
    report.write(path)
    text = path.read_text()
    data = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the report"))
    assert data["passed"] is False
    # +1 warning: 'score' is an unlisted column; +1 error: its inf (strict JSON: shown as null)
    assert (data["errors"], data["warnings"]) == (4, 1)
    finite = next(c for c in data["checks"] if c["check"] == "finite")
    assert (finite["observed"], finite["sample"]) == (["inf"], [{"_row": 1, "score": None}])
    assert data["checked"] > len(data["checks"])
    assert {"_row": 0, "score": None} in data["checks"][0]["sample"]
    assert {"_row": 0, "visits": 1} in data["checks"][1]["sample"]
    assert data["checks"][2]["sample"] == [{"_row": 0, "ts": None}]


def test_error_summarises_each_failure_with_a_fix() -> None:
    report = check(planted("age", 1, 430), columns={"age": {"max": 120}, "wards": {}})
    error = report.error("reports/validation.json")
    assert isinstance(error, DataError)
    with pytest.raises(
        DataValidationError, match=r"2 checks failed \(and 1 warning\) on x\.parquet"
    ):
        raise error
    assert error.render().splitlines() == [
        "data.schema: 2 checks failed (and 1 warning) on x.parquet "
        "(details in reports/validation.json):",
        "  - 'age' max: expected <= 120, observed 430 in 1 row (row 1)",
        "  - 'wards' present: column 'wards' is missing; did you mean 'ward'?",
        "  fix: correct the rows at the source (the report samples them), or, if the data "
        "changed on purpose, update data.schema in conf/data/ and run 'conveyor compile'",
    ]


def test_validation_reads_the_frame_without_changing_it() -> None:
    frame = good()
    before = frame.copy()
    check(frame, columns={"age": {"max": 1}, "code": {"regex": "x"}}, time={"column": "ts"})
    pd.testing.assert_frame_equal(frame, before)


def test_min_max_on_a_text_dtype_is_a_spec_error() -> None:
    with pytest.raises(ValueError, match="dtype 'str' is not numeric"):
        SchemaSpec.model_validate({"columns": {"ward": {"dtype": "str", "max": 3}}})


def test_observed_null_fraction_is_exact() -> None:
    frame = pd.DataFrame({"x": [None, 1.0, 2.0]})
    failure = only_failure(check(frame, columns={"x": {"max_null_fraction": 0.3}}))
    assert math.isclose(failure["observed"], 1 / 3)
    assert "observed 33.3%" in failure["message"]


def test_time_checks_on_a_column_without_dates_say_so() -> None:
    frame = pd.DataFrame({"when": ["soon", "later"], "n": [2, 1]})
    failure = only_failure(check(frame, time={"column": "when", "monotonic": "increasing"}))
    assert "expected dates or numbers, observed str values" in failure["message"]
    report = check(frame, time={"column": "n", "monotonic": "increasing", "max_age_days": 1})
    assert [f.line() for f in report.failures] == [
        "'n' monotonic: expected increasing, observed times earlier than the row before "
        "in 1 row (row 1)",
        "'n' max_age_days: expected a datetime column, observed int64",
    ]
