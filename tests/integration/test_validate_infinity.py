"""``inf`` in a numeric column fails ``conveyor run validate``, not train: column and row count.

Before: validate passed (no data.schema rule looks for infinity) and train failed with
scikit-learn's "Input X contains infinity", blaming the model's params.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from tests.conftest import conveyor, conveyor_in_process

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # each case starts 'conveyor run <stage>' (the slow rule)

DATA = """\
sources:
  patients:
    kind: csv
    params: {path: patients.csv}
target: label
split: {strategy: stratified, test_size: 0.3}
schema:
  columns:
    bmi: {dtype: float, min: 10, severity: warning}
    label: {dtype: int, allowed: [0, 1]}
  extra_columns: allow
"""


def _project(root: Path, bmi: list[float], dose: list[float]) -> None:
    rows = len(bmi)
    frame = pd.DataFrame({"bmi": bmi, "dose": dose, "label": [i % 2 for i in range(rows)]})
    frame.to_csv(root / "patients.csv", index=False)
    (root / "conf" / "data" / "patients.yaml").write_text(DATA)
    conveyor_in_process("compile", "data=patients", "features=none", "deploy=[]", cwd=root)
    conveyor("run", "ingest-patients", cwd=root)


def test_infinity_in_a_listed_and_an_unlisted_column_fails_validate(project: Path) -> None:
    bmi = [20.0 + i for i in range(30)]
    dose = [1.5 * i for i in range(30)]
    bmi[4], bmi[9] = float("inf"), float("-inf")
    dose[7] = float("inf")
    dose[8] = 1.7976931348623157e308  # the largest float: finite, so not flagged
    _project(project, bmi, dose)
    done = conveyor("run", "validate", cwd=project, check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert (
        "error: data.schema: 2 checks failed (and 1 warning) on data/raw/patients.parquet "
        "(details in reports/validation.json):\n"
        "  - 'bmi' finite: expected finite numbers, observed inf and -inf in 2 rows (rows 4, 9)\n"
        "  - 'dose' finite: expected finite numbers, observed inf in 1 row (row 7)\n"
    ) in done.stderr
    report = json.loads((project / "reports" / "validation.json").read_text())
    finite = {c["column"]: c for c in report["checks"] if c["check"] == "finite"}
    assert finite["bmi"]["rule"] == "data.schema.columns.bmi"
    assert finite["dose"]["rule"] == "data.schema"
    assert (finite["bmi"]["failed_rows"], finite["dose"]["failed_rows"]) == (2, 1)
    assert {c["severity"] for c in finite.values()} == {"error"}  # bmi's warning is for its rules
    assert report["checked"] == 6  # the schema's rules only: finiteness is not one of them
    assert not (project / "data" / "split").exists()


def test_without_a_schema_train_names_the_infinite_column_not_the_model(project: Path) -> None:
    (project / "patients.csv").write_text(
        "bmi,dose,label\n"
        + "".join(f"{20 + i},{'inf' if i % 5 == 3 else i},{i % 2}\n" for i in range(30))
    )
    (project / "conf" / "data" / "patients.yaml").write_text(DATA[: DATA.index("schema:")])
    conveyor_in_process("compile", "data=patients", "deploy=[]", cwd=project)  # standard: a scaler
    for stage in ("ingest-patients", "split"):
        conveyor("run", stage, cwd=project)
    done = conveyor("run", "train", cwd=project, check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert (
        "fix: infinite values in 'dose': replace them at the source, and add data.schema "
        "(conf/data/) so that validate reports their rows before training"
    ) in done.stderr
