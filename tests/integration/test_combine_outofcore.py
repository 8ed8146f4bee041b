"""combine under a memory budget in a real DVC project: same bytes, so nothing downstream reruns."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from conveyor.runtime.outofcore import BUDGET_VARIABLE
from tests.conftest import dvc
from tests.integration.test_sources import _multi_source_project

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.slow
def test_a_budget_below_the_data_runs_combine_in_duckdb_with_the_same_output(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _multi_source_project(project)
    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)
    dvc("repro", "split", cwd=project)
    combined = project / "data" / "combined.parquet"
    in_memory = combined.read_bytes()
    monkeypatch.setenv(BUDGET_VARIABLE, "1kB")  # far below the sources
    done = dvc("repro", "-f", "combine", cwd=project)
    assert "(out of core, DuckDB)" in done.stdout
    assert combined.read_bytes() == in_memory
    assert json.loads(dvc("status", "--json", "split", cwd=project).stdout) == {}
    assert [p.name for p in combined.parent.iterdir() if p.name.startswith(".")] == [".gitignore"]


@pytest.mark.slow
def test_a_bad_budget_fails_combine_naming_the_variable(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _multi_source_project(project)
    dvc("repro", "ingest-visits", "ingest-wards", cwd=project)
    monkeypatch.setenv(BUDGET_VARIABLE, "lots")
    done = dvc("repro", "combine", cwd=project, check=False)
    assert done.returncode != 0
    assert f"environment variable {BUDGET_VARIABLE}: 'lots' is not a memory size" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (project / "data" / "combined.parquet").exists()
