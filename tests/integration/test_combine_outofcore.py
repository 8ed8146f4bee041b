"""combine under a memory budget in a real DVC project: same bytes, so nothing downstream reruns."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from conveyor.runtime.outofcore import BUDGET_VARIABLE
from tests.conftest import conveyor, conveyor_in_process, dvc, sh
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


SQL = {
    "sorted": "SELECT v.patient, v.ward, v.age, v.label, w.beds, w.floor "
    "FROM visits AS v LEFT JOIN wards AS w USING (ward) ORDER BY ALL",
    "unsorted": "SELECT * FROM visits AS v LEFT JOIN wards AS w USING (ward)",
}


def _use_sql(root: Path, query: str) -> None:
    """The multi-source project's combine as ``data.combine.sql``, compiled and committed."""
    data = root / "conf" / "data" / "visits.yaml"
    text = data.read_text()
    start, end = text.index("combine:"), text.index("target:")
    data.write_text(text[:start] + f"combine:\n  sql: {json.dumps(query)}\n" + text[end:])
    conveyor_in_process("compile", cwd=root)
    sh("git", "commit", "-qam", "combine.sql", cwd=root)


@pytest.mark.slow
def test_a_budget_below_the_data_runs_combine_sql_in_duckdb_with_the_same_output(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _multi_source_project(project)
    _use_sql(project, SQL["sorted"])
    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)
    dvc("repro", "split", cwd=project)
    combined = project / "data" / "combined.parquet"
    in_memory = combined.read_bytes()
    monkeypatch.setenv(BUDGET_VARIABLE, "1kB")  # far below the sources
    done = dvc("repro", "-f", "combine", cwd=project)
    assert "combine: 200 rows x 6 columns (out of core, DuckDB)" in done.stdout
    assert combined.read_bytes() == in_memory
    assert json.loads(dvc("status", "--json", "split", cwd=project).stdout) == {}
    assert [p.name for p in combined.parent.iterdir() if p.name.startswith(".")] == [".gitignore"]

    _use_sql(project, SQL["unsorted"])  # a join without ORDER BY: its order is the engine's
    monkeypatch.delenv(BUDGET_VARIABLE)
    conveyor("run", "combine", cwd=project)
    in_memory = combined.read_bytes()
    monkeypatch.setenv(BUDGET_VARIABLE, "1kB")
    done = conveyor("run", "combine", cwd=project)
    assert "data.combine.sql runs in memory over the budget: it has no final ORDER BY" in (
        done.stdout
    )
    assert "(out of core" not in done.stdout
    assert combined.read_bytes() == in_memory


@pytest.mark.slow
def test_combine_sql_out_of_core_refuses_a_query_that_reads_another_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _multi_source_project(project)
    _use_sql(project, "SELECT * FROM visits, read_csv('/etc/passwd') ORDER BY ALL")
    dvc("repro", "ingest-visits", "ingest-wards", cwd=project)
    monkeypatch.setenv(BUDGET_VARIABLE, "1kB")
    done = conveyor("run", "combine", cwd=project, check=False)
    assert done.returncode != 0
    assert "data.combine.sql: the query reads or writes a file it may not" in done.stderr
    assert "root:" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert not (project / "data" / "combined.parquet").exists()
