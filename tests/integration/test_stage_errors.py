"""Bad data met by a stage: a located error with a fix and an exit code, never a traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.conftest import conveyor, conveyor_in_process

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # each case starts 'conveyor run <stage>' (the slow rule)

DATA = """\
sources:
  visits:
    kind: csv
    params: {path: visits.csv}
target: label
split: {strategy: stratified, test_size: 0.4}
"""


def _visits_project(root: Path, rows: str) -> None:
    (root / "visits.csv").write_text("age,ward,label\n" + rows)
    (root / "conf" / "data" / "visits.yaml").write_text(DATA)
    conveyor_in_process("compile", "data=visits", "features=none", cwd=root)


def test_text_column_without_an_encoder_names_it_and_the_fix(project: Path) -> None:
    _visits_project(project, "".join(f"{i},{'ab'[i % 2]},{i % 2}\n" for i in range(20)))
    conveyor("run", "ingest-visits", cwd=project)
    conveyor("run", "split", cwd=project)
    done = conveyor("run", "train", cwd=project, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert (
        "error: features, model: fitting xgboost on data/split/train.parquet failed" in done.stderr
    )
    assert "fix: columns 'ward' are not numeric: add a transform" in done.stderr
    assert not (project / "models" / "diagnostics").exists()  # nothing half-written


def test_missing_target_column_suggests_the_close_one(project: Path) -> None:
    _visits_project(project, "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    conveyor_in_process("compile", "data=visits", "features=none", "data.target=labl", cwd=project)
    conveyor("run", "ingest-visits", cwd=project)
    done = conveyor("run", "split", cwd=project, check=False)
    assert done.returncode == 1
    assert "error: data.target: column 'labl' is not in data/raw/visits.parquet" in done.stderr
    assert "fix: did you mean 'label'?" in done.stderr


def test_missing_source_file_says_how_to_get_it(project: Path) -> None:
    _visits_project(project, "1,2,0\n")
    (project / "visits.csv").unlink()
    done = conveyor("run", "ingest-visits", cwd=project, check=False)
    assert done.returncode == 1
    assert "error: data.sources.visits: csv source file 'visits.csv' does not exist" in done.stderr
    assert "dvc pull visits.csv" in done.stderr


def test_unreadable_csv_fails_ingest_naming_the_source_and_line(project: Path) -> None:
    _visits_project(project, "1,a,0\n2,b,1\n")
    conveyor("run", "ingest-visits", cwd=project)
    raw = project / "data" / "raw" / "visits.parquet"
    before = raw.read_bytes()
    (project / "visits.csv").write_text("age,ward,label\n1,a,0\n2,b,1,extra\n")
    done = conveyor("run", "ingest-visits", cwd=project, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "error: data.sources.visits:" in done.stderr
    assert "Expected 3 fields in line 3, saw 4" in done.stderr
    assert "fix:" in done.stderr
    assert raw.read_bytes() == before  # the failed read wrote nothing over the last good rows


def test_a_query_with_no_rows_fails_ingest(project: Path) -> None:
    _visits_project(project, "".join(f"{i},a,{i % 2}\n" for i in range(10)))
    data = project / "conf" / "data" / "visits.yaml"
    data.write_text(
        data.read_text().replace(
            "kind: csv\n    params: {path: visits.csv}",
            "kind: sql\n    params:\n      query: SELECT * FROM v WHERE age > 100\n"
            "      tables: {v: visits.csv}",
        )
    )
    conveyor_in_process("compile", "data=visits", "features=none", cwd=project)
    done = conveyor("run", "ingest-visits", cwd=project, check=False)
    assert done.returncode == 1
    assert "error: data.sources.visits: the source produced no rows" in done.stderr


def test_a_column_that_changed_type_fails_validate_and_keeps_the_raw_rows(project: Path) -> None:
    _visits_project(project, "".join(f"{i},a,{i % 2}\n" for i in range(20)))
    data = project / "conf" / "data" / "visits.yaml"
    data.write_text(data.read_text() + "schema:\n  columns:\n    age: {dtype: int, min: 0}\n")
    conveyor_in_process("compile", "data=visits", "features=none", cwd=project)
    (project / "visits.csv").write_text("age,ward,label\n1,a,0\nunknown,b,1\n3,a,0\n")
    conveyor("run", "ingest-visits", cwd=project)
    done = conveyor("run", "validate", cwd=project, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "'age' dtype: expected int" in done.stderr
    assert "reports/validation.json" in done.stderr
    assert (project / "data" / "raw" / "visits.parquet").is_file()  # earlier output intact
    assert not (project / "data" / "split").exists()  # split never ran
