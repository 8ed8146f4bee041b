"""``conveyor run validate`` under a memory budget: the in-memory report, error and exit code."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from conveyor.runtime.outofcore import BUDGET_VARIABLE
from tests.conftest import conveyor, conveyor_in_process
from tests.integration.test_validate_executor import PATIENTS

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.slow
@pytest.mark.parametrize("broken", [True, False])
def test_validate_over_the_budget_writes_the_in_memory_report(
    project: Path, monkeypatch: pytest.MonkeyPatch, broken: bool
) -> None:
    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)
    rows = pd.DataFrame({"age": np.arange(60) + 20, "label": np.arange(60) % 2})
    if broken:
        rows.loc[17, "age"] = 430
        rows.loc[40, "label"] = 3
    rows.to_csv(project / "patients.csv", index=False)
    (project / "conf" / "data" / "patients.yaml").write_text(PATIENTS)
    conveyor_in_process("compile", "data=patients", "features=none", "deploy=[]", cwd=project)
    conveyor("run", "ingest-patients", cwd=project)
    report = project / "reports" / "validation.json"
    here = conveyor("run", "validate", cwd=project, check=False)
    assert here.returncode == (1 if broken else 0)
    expected = report.read_bytes()
    report.unlink()
    monkeypatch.setenv(BUDGET_VARIABLE, "lots")  # proves the stage reads the budget
    bad = conveyor("run", "validate", cwd=project, check=False)
    assert bad.returncode == 2
    assert f"environment variable {BUDGET_VARIABLE}: 'lots' is not a memory size" in bad.stderr
    assert not report.exists()
    monkeypatch.setenv(BUDGET_VARIABLE, "100B")  # far below the dataset
    over = conveyor("run", "validate", cwd=project, check=False)
    assert (over.returncode, over.stdout, over.stderr) == (
        here.returncode,
        here.stdout,
        here.stderr,
    )
    assert report.read_bytes() == expected
