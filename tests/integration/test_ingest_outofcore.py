"""``conveyor run ingest-<source>`` under a memory budget: the in-memory bytes, or its error."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from conveyor.runtime.outofcore import BUDGET_VARIABLE
from tests.conftest import conveyor, conveyor_in_process, dvc

if TYPE_CHECKING:
    from pathlib import Path

EVENTS = """\
sources:
  events:
    kind: parquet
    params: {path: parts}
target: label
split: {strategy: stratified, test_size: 0.3}
"""


def _events_project(root: Path) -> Path:
    """A Parquet source of three files (one with a null integer), compiled; its raw output."""
    (root / "parts").mkdir()
    for k in range(3):
        rows = pd.DataFrame(
            {
                "age": np.arange(400) % 70 + 18,
                "visits": pd.array(np.arange(400) % 9, dtype="int64"),
                "city": np.where(np.arange(400) % 3 == 0, "oslo", "lima"),
                "label": np.arange(400) % 2,
            }
        )
        if k == 2:  # still int64 in Parquet; pandas reads the whole column as float64
            rows["visits"] = rows["visits"].astype("Int64")
            rows.loc[399, "visits"] = pd.NA
        rows.to_parquet(root / "parts" / f"part-{k}.parquet", row_group_size=150)
    (root / "conf" / "data" / "events.yaml").write_text(EVENTS)
    conveyor_in_process("compile", "data=events", "features=none", "deploy=[]", cwd=root)
    return root / "data" / "raw" / "events.parquet"


@pytest.mark.slow
def test_ingest_over_the_budget_writes_the_in_memory_bytes(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = _events_project(project)
    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)
    here = conveyor("run", "ingest-events", cwd=project)
    assert here.stdout.strip() == "ingest-events: 1200 rows x 4 columns"
    expected = output.read_bytes()
    output.unlink()
    monkeypatch.setenv(BUDGET_VARIABLE, "1kB")  # far below the files' 1200 rows
    over = conveyor("run", "ingest-events", cwd=project)
    assert over.stdout.strip() == (
        "ingest-events: 1200 rows x 4 columns (out of core, a row group at a time)"
    )
    assert output.read_bytes() == expected
    assert [p.name for p in output.parent.iterdir()] == ["events.parquet"]  # no temporary
    monkeypatch.setenv(BUDGET_VARIABLE, "1TB")  # above the data: in memory, as without one
    assert conveyor("run", "ingest-events", cwd=project).stdout == here.stdout
    assert output.read_bytes() == expected


@pytest.mark.slow
@pytest.mark.parametrize("budget", ["lots", "1kB"])
def test_bad_input_fails_ingest_located_with_nothing_written(
    project: Path, monkeypatch: pytest.MonkeyPatch, budget: str
) -> None:
    output = _events_project(project)
    monkeypatch.setenv(BUDGET_VARIABLE, budget)
    if budget == "lots":
        done = conveyor("run", "ingest-events", cwd=project, check=False)
        assert done.returncode == 2
        assert f"environment variable {BUDGET_VARIABLE}: 'lots' is not a memory size" in (
            done.stderr
        )
    else:  # a file in the source folder that is CSV text, named like Parquet
        (project / "parts" / "part-3.parquet").write_text("age,label\n30,1\n")
        done = conveyor("run", "ingest-events", cwd=project, check=False)
        assert done.returncode != 0
        assert "data.sources.events: cannot read 'parts/part-3.parquet' as Parquet" in (done.stderr)
        assert "fix: check that params.path names Parquet files only" in done.stderr
    assert "Traceback" not in done.stderr
    assert not output.parent.exists() or list(output.parent.iterdir()) == []


PIPELINE = """\
sources:
  events:
    kind: parquet
    params: {path: parts}
target: label
split: {strategy: stratified, test_size: 0.3}
schema:
  columns:
    age: {dtype: int, min: 0, max: 120, nullable: false}
    label: {dtype: int, allowed: [0, 1]}
"""


@pytest.mark.slow
def test_the_stages_that_read_the_budget_rerun_under_it_to_the_same_outputs(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ingest, validate and profile under 1 kB: dvc status stays clean (same md5s as dvc.lock)."""
    (project / "parts").mkdir()
    rng = np.random.default_rng(3)
    for k in range(3):
        rows = pd.DataFrame(
            {
                "age": rng.integers(18, 90, 300),
                "visits": pd.array(rng.integers(0, 9, 300), dtype="Int64"),
                "score": rng.normal(size=300),
                "label": rng.integers(0, 2, 300),
            }
        )
        rows.loc[rows.index[::37], "visits"] = pd.NA
        rows.to_parquet(project / "parts" / f"part-{k}.parquet", row_group_size=120)
    (project / "conf" / "data" / "events.yaml").write_text(PIPELINE)
    conveyor_in_process("compile", "data=events", "features=none", "deploy=[]", cwd=project)
    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)
    dvc("repro", cwd=project)
    monkeypatch.setenv(BUDGET_VARIABLE, "1kB")
    done = dvc("repro", "-f", "-s", "ingest-events", "validate", "profile", cwd=project)
    assert done.stdout.count("(out of core") == 2  # ingest's and profile's lines
    assert json.loads(dvc("status", "--json", cwd=project).stdout) == {}


VISITS_CSV = """\
sources:
  visits:
    kind: csv
    params: {path: visits.csv, na_values: ["n/a"]}
target: label
split: {strategy: stratified, test_size: 0.3}
"""


@pytest.mark.slow
def test_a_csv_source_over_the_budget_writes_the_in_memory_bytes(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The integer and boolean columns' nulls are in the parser's second chunk (131,072 rows)."""
    n = 150_000
    rng = np.random.default_rng(4)
    rows = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n).astype(str),
            "member": np.where(rng.random(n) > 0.5, "True", "False"),
            "city": rng.choice(["oslo", "lima"], n),
            "label": rng.integers(0, 2, n),
        },
        dtype=object,
    )
    rows.loc[140_000, ["age", "member"]] = ["n/a", ""]
    rows.to_csv(project / "visits.csv", index=False)
    (project / "conf" / "data" / "visits.yaml").write_text(VISITS_CSV)
    conveyor_in_process("compile", "data=visits", "features=none", "deploy=[]", cwd=project)
    output = project / "data" / "raw" / "visits.parquet"
    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)
    here = conveyor("run", "ingest-visits", cwd=project)
    assert here.stdout.strip() == "ingest-visits: 150000 rows x 4 columns"
    expected = output.read_bytes()
    output.unlink()
    monkeypatch.setenv(BUDGET_VARIABLE, "1kB")
    over = conveyor("run", "ingest-visits", cwd=project)
    assert over.stdout.strip() == (
        "ingest-visits: 150000 rows x 4 columns (out of core, a row group at a time)"
    )
    assert output.read_bytes() == expected
    assert pd.read_parquet(output)["age"].dtype == np.float64  # the null past the first chunk
    assert [p.name for p in output.parent.iterdir()] == ["visits.parquet"]  # no temporary

    rows.loc[145_000, "city"] = "oslo,extra"  # one field too many, bare
    (project / "visits.csv").write_text(
        rows.to_csv(index=False).replace('"oslo,extra"', "oslo,extra")
    )
    output.unlink()
    done = conveyor("run", "ingest-visits", cwd=project, check=False)
    assert done.returncode != 0
    assert (
        "data.sources.visits: cannot parse 'visits.csv' as CSV: Expected 4 fields in line "
        "145002, saw 5" in done.stderr
    )
    assert "Traceback" not in done.stderr
    assert list(output.parent.iterdir()) == []


@pytest.mark.slow
def test_a_csv_column_of_numbers_and_text_is_read_whole_and_refused_located(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Text in the parser's third chunk (65,536 rows at 8 columns), numbers in the others:
    pandas keeps Python ints beside strs."""
    n = 140_000
    rows = pd.DataFrame({f"c{k}": np.arange(n) % 7 for k in range(6)}, dtype=object)
    rows["code"] = pd.Series(np.arange(n) % 10, dtype=object)
    rows["label"] = np.arange(n) % 2
    rows.loc[135_000, "code"] = "unknown"
    rows.to_csv(project / "visits.csv", index=False)
    (project / "conf" / "data" / "visits.yaml").write_text(VISITS_CSV)
    conveyor_in_process("compile", "data=visits", "features=none", "deploy=[]", cwd=project)
    monkeypatch.setenv(BUDGET_VARIABLE, "1kB")
    done = conveyor("run", "ingest-visits", cwd=project, check=False)
    assert done.stdout.strip() == (
        "ingest-visits: read in memory over the budget: column 'code' holds number and text in "
        "different parts of the file, which pandas keeps as Python objects of several types"
    )
    assert done.returncode == 1
    assert (
        "error: data.sources.visits: the rows cannot be stored as Parquet: a column holds "
        "values of several types (" in done.stderr
    )
    assert "fix: give the column one type in the source" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (project / "data" / "raw").exists() or not any((project / "data" / "raw").iterdir())
