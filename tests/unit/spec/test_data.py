"""The ``data:`` contract: combine covers the sources, split options fit the strategy."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from conveyor.spec import DataSpec, SchemaSpec, SplitSpec

SOURCES = {"sales": {"kind": "csv"}, "stores": {"kind": "csv"}}


def _data(**extra: Any) -> DataSpec:
    return DataSpec.model_validate({"sources": SOURCES, "target": "y", **extra})


def test_several_sources_need_a_combine() -> None:
    with pytest.raises(ValidationError, match=r"2 sources \(sales, stores\) need a 'combine:'"):
        _data()


def test_join_must_use_every_source_once() -> None:
    with pytest.raises(ValidationError, match=r"sources \['stores'\] are never joined"):
        _data(combine={"base": "sales", "join": [{"source": "sales", "keys": "id"}]})
    with pytest.raises(ValidationError, match=r"unknown sources \['shops'\]"):
        _data(combine={"base": "sales", "join": [{"source": "shops", "keys": "id"}]})


def test_join_or_sql_not_both() -> None:
    with pytest.raises(ValidationError, match="either 'join'"):
        _data(combine={"base": "sales", "join": [{"source": "stores", "keys": "id"}], "sql": "x"})
    with pytest.raises(ValidationError, match="'join' needs 'base'"):
        _data(combine={"join": [{"source": "stores", "keys": "id"}]})


def test_valid_combines() -> None:
    joined = _data(combine={"base": "sales", "join": [{"source": "stores", "keys": ["id", "d"]}]})
    assert joined.combine is not None
    assert joined.combine.join is not None
    assert joined.combine.join[0].columns == ["id", "d"]
    assert joined.combine.join[0].how == "left"
    assert _data(combine={"sql": "SELECT * FROM sales JOIN stores USING (id)"}).combine


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ({"strategy": "group"}, "'group_column' is required by strategy 'group'"),
        ({"strategy": "time"}, "'time_column' is required by strategy 'time'"),
        ({"strategy": "random", "time_column": "t"}, "'time_column' is required by strategy"),
        ({"strategy": "random", "test_from": "2024-01-01"}, "for strategy 'time' only"),
        (
            {"strategy": "time", "time_column": "t", "valid_from": "2024-01-01"},
            "'valid_from' needs 'test_from'",
        ),
        (
            {"strategy": "time", "time_column": "t", "test_from": "2024-01-01", "test_size": 0.3},
            "as dates \\(test_from\\) or fractions, not both",
        ),
        ({"test_size": 0.6, "valid_size": 0.4}, "leaves no rows for training"),
    ],
)
def test_inconsistent_split_options(split: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SplitSpec.model_validate(split)


def test_schema_is_read_under_its_yaml_name() -> None:
    data = DataSpec.model_validate(
        {
            "sources": {"a": {"kind": "csv"}},
            "target": "y",
            "schema": {"columns": {"age": {"dtype": "int", "min": 0, "max": 120}}},
        }
    )
    assert isinstance(data.schema_, SchemaSpec)
    assert data.schema_.columns["age"].max == 120


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ({"regex": "[a-"}, "is not a valid regular expression"),
        ({"min": 5, "max": 1}, r"min \(5\) is greater than max \(1\)"),
        ({"nullable": False, "max_null_fraction": 0.1}, "nullable: false allows no nulls"),
        ({"dtype": "integer"}, "Input should be 'int'"),
    ],
)
def test_bad_column_checks(column: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SchemaSpec.model_validate({"columns": {"age": column}})
