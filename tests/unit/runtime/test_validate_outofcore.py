"""validate over the memory budget: partition by partition in process, the in-memory report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
import pytest

from conveyor.plugins.executor import InlineSession
from conveyor.runtime.frames import read_frame
from conveyor.runtime.validation import _sharded, validate_frame
from conveyor.runtime.validation._sharded import validate_parts
from conveyor.spec.schema import SchemaSpec
from tests.integration.test_validate_executor import NOW, SCHEMA, _table

if TYPE_CHECKING:
    from pathlib import Path

PASSING = {
    "columns": {
        "id": {"dtype": "int", "min": 0},
        "age": {"dtype": "int", "min": -1, "max": 130},
        "visits": {"dtype": "number", "min": 0, "max": 100},
        "code": {"dtype": "str"},
        "when": {"dtype": "datetime"},
    },
    "extra_columns": "allow",
    "rows": {"min": 10},
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("validate")
    table = _table()
    pq.write_table(table, root / "data.parquet", row_group_size=250)
    clean = table.drop_columns(["ratio"])  # its infinities fail any schema
    pq.write_table(clean, root / "clean.parquet", row_group_size=250)
    return root


def _written(report: Any, path: Path) -> bytes:
    report.write(path)
    return path.read_bytes()


@pytest.mark.parametrize(
    ("schema", "name", "passed"),
    [(SCHEMA, "data.parquet", False), (PASSING, "clean.parquet", True)],
)
def test_partitions_in_process_write_the_in_memory_report_without_reading_the_whole_file(
    dataset: Path, monkeypatch: pytest.MonkeyPatch, schema: dict, name: str, passed: bool
) -> None:
    spec = SchemaSpec.model_validate(schema)
    frame = read_frame(dataset, name, "validate")
    here = validate_frame(frame, spec, dataset=name, now=NOW)
    assert here.passed is passed
    seen: list[int] = []
    evidence = _sharded.part_evidence

    def counted(task: Any) -> Any:
        seen.append(task.start)
        return evidence(task)

    monkeypatch.setattr(_sharded, "part_evidence", counted)

    def never() -> None:
        raise AssertionError("the whole file was read")

    report = validate_parts(
        InlineSession(),
        dataset / name,
        never,
        spec,
        dataset=name,
        now=NOW,
        part_rows=500,
    )
    assert _written(report, dataset / "inline.json") == _written(here, dataset / "here.json")
    assert report.passed is passed
    if not passed:
        error = report.error("reports/validation.json").render()
        assert error == here.error("reports/validation.json").render()
    assert seen == list(range(0, 3000, 500))  # one partition at a time, in file order
