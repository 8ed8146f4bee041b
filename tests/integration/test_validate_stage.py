"""data.schema gates the pipeline: bad rows stop `dvc repro` at validate, before any training."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest
import yaml

from tests.conftest import conveyor_in_process, conveyor_warm, dvc

if TYPE_CHECKING:
    from pathlib import Path

DATA = """\
sources:
  patients:
    kind: csv
    params: {path: patients.csv}
target: label
split: {strategy: stratified, test_size: 0.3}
schema:
  columns:
    age: {dtype: int, min: 0, max: 120, nullable: false}
    bmi: {dtype: float, min: 10, max: 60, severity: %(bmi_severity)s}
    label: {dtype: int, allowed: [0, 1]}
  extra_columns: error
  rows: {min: 20}
"""


def _rows(n: int = 60) -> list[dict[str, Any]]:
    return [{"age": 20 + i, "bmi": 18.5 + (i % 20), "label": i % 2} for i in range(n)]


def _write_source(root: Path, rows: list[dict[str, Any]]) -> None:
    pd.DataFrame(rows).to_csv(root / "patients.csv", index=False)


def _patients_project(root: Path, rows: list[dict[str, Any]], bmi: str = "error") -> None:
    _write_source(root, rows)
    (root / "conf" / "data" / "patients.yaml").write_text(DATA % {"bmi_severity": bmi})
    # deploy=[]: a model of random rows is never blessed, and the deploy stages would refuse it.
    conveyor_in_process("compile", "data=patients", "features=none", "deploy=[]", cwd=root)
    assert "validate" in yaml.safe_load((root / "dvc.yaml").read_text())["stages"]


def _report(root: Path) -> dict[str, Any]:
    return json.loads((root / "reports" / "validation.json").read_text())


def _digests(root: Path, *folders: str) -> dict[str, str]:
    files = [p for f in folders for p in sorted((root / f).rglob("*")) if p.is_file()]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.mark.slow
def test_a_bad_row_stops_repro_at_validate_and_nothing_downstream_runs(project: Path) -> None:
    rows = _rows()
    _patients_project(project, rows)
    dvc("repro", cwd=project)
    assert _report(project)["passed"] is True
    assert json.loads(dvc("status", "--json", cwd=project).stdout) == {}
    before = _digests(project, "data/split", "models")
    assert before

    rows[17]["age"] = 430
    _write_source(project, rows)
    done = dvc("repro", cwd=project, check=False)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert (
        "error: data.schema: 1 check failed on data/raw/patients.parquet "
        "(details in reports/validation.json):\n"
        "  - 'age' max: expected <= 120, observed 430 in 1 row (row 17)\n"
        "  fix: correct the rows at the source"
    ) in done.stderr
    report = _report(project)
    assert report["passed"] is False
    (failure,) = report["checks"]
    assert (failure["column"], failure["check"], failure["observed"]) == ("age", "max", 430)
    assert failure["sample"] == [{"_row": 17, "age": 430}]
    # ingest ran and kept its output; split and train never ran on the bad rows.
    assert pd.read_parquet(project / "data" / "raw" / "patients.parquet")["age"].max() == 430
    assert _digests(project, "data/split", "models") == before


@pytest.mark.slow
def test_a_renamed_column_fails_before_split_with_did_you_mean(project: Path) -> None:
    rows = [{"age_years" if k == "age" else k: v for k, v in row.items()} for row in _rows()]
    _patients_project(project, rows)
    done = dvc("repro", cwd=project, check=False)
    assert done.returncode != 0
    assert "'age' present: column 'age' is missing; did you mean 'age_years'?" in done.stderr
    assert "extra_columns: columns not in data.schema.columns: 'age_years'" in done.stderr
    assert (project / "data" / "raw" / "patients.parquet").is_file()
    assert not (project / "data" / "split").exists()
    assert not (project / "models").exists()
    checks = {(c["column"], c["check"]) for c in _report(project)["checks"]}
    assert checks == {("age", "present"), (None, "extra_columns")}


@pytest.mark.slow
def test_a_warning_level_violation_lets_repro_finish(project: Path) -> None:
    rows = _rows()
    rows[5]["bmi"] = 75.0
    _patients_project(project, rows, bmi="warning")
    done = dvc("repro", cwd=project)
    assert "passed with 1 warning" in done.stdout + done.stderr
    assert "'bmi' max: expected <= 60, observed 75 in 1 row (row 5)" in done.stdout + done.stderr
    report = _report(project)
    assert (report["passed"], report["errors"], report["warnings"]) == (True, 0, 1)
    assert (project / "reports" / "metrics.json").is_file()


@pytest.mark.slow
def test_schema_infer_writes_a_draft_that_validates_its_dataset(project: Path) -> None:
    conveyor_warm("run", "ingest-breast_cancer", cwd=project)
    draft = project / "schema_draft.yaml"
    done = conveyor_in_process("schema", "infer", "-o", str(draft), cwd=project)
    assert done.stdout == ""
    assert "wrote" in done.stderr
    text = draft.read_text()
    assert text.startswith("# Drafted by `conveyor schema infer` from data/raw/breast_cancer")
    printed = conveyor_in_process("schema", "infer", cwd=project).stdout
    assert printed.splitlines()[2:] == text.splitlines()[2:]  # all but the time it was drafted
    columns = yaml.safe_load(text)["schema"]["columns"]
    assert columns["diagnosis"] == {"dtype": "int", "nullable": False, "min": 0, "max": 1}
    assert len(columns) == 31

    # Pasted under the data config in place of its reviewed schema, it compiles and passes.
    data_conf = project / "conf" / "data" / "breast_cancer.yaml"
    reviewed = data_conf.read_text()
    data_conf.write_text(reviewed[: reviewed.index("\nschema:\n") + 1] + text)
    conveyor_in_process("compile", cwd=project)
    done = conveyor_warm("run", "validate", cwd=project)
    assert "validate: data/raw/breast_cancer.parquet passed" in done.stdout
    assert _report(project)["passed"] is True


def test_schema_infer_outside_a_compiled_project_is_a_located_error(tmp_path: Path) -> None:
    done = conveyor_in_process("schema", "infer", "--source", "x", cwd=tmp_path, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "error: no params.yaml" in done.stderr
