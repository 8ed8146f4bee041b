"""``conveyor run ingest-<source>`` of a ``sql`` and a generator source under a memory budget."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from conveyor.runtime.outofcore import BUDGET_VARIABLE
from tests.conftest import conveyor, conveyor_in_process

if TYPE_CHECKING:
    from pathlib import Path

ORDERS = """\
sources:
  orders:
    kind: sql
    params:
      query: >-
        SELECT o.id, o.qty, o.city, c.region, o.label FROM orders o
        LEFT JOIN cities c USING (city) ORDER BY o.id
      tables: {orders: parts, cities: cities.csv}
target: label
split: {strategy: stratified, test_size: 0.3}
"""
BAD = ORDERS.replace("c.region", "c.regio")


def _orders_project(root: Path, conf: str = ORDERS) -> Path:
    """Two Parquet files (a null integer in the second) and a CSV file; compiled."""
    (root / "parts").mkdir()
    for k in range(2):
        n = 600
        rows = pd.DataFrame(
            {
                "id": np.arange(n) + k * n,
                "qty": pd.array(np.arange(n) % 9, dtype="Int64"),
                "city": np.where(np.arange(n) % 3 == 0, "oslo", "lima"),
                "label": np.arange(n) % 2,
            }
        )
        if k == 1:
            rows.loc[n - 1, "qty"] = pd.NA
        rows.to_parquet(root / "parts" / f"part-{k}.parquet", index=False)
    pd.DataFrame({"city": ["oslo", "lima"], "region": ["north", None]}).to_csv(
        root / "cities.csv", index=False
    )
    (root / "conf" / "data" / "orders.yaml").write_text(conf)
    conveyor_in_process("compile", "data=orders", "features=none", "deploy=[]", cwd=root)
    return root / "data" / "raw" / "orders.parquet"


@pytest.mark.slow
def test_a_sql_source_over_the_budget_writes_the_in_memory_bytes(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = _orders_project(project)
    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)
    here = conveyor("run", "ingest-orders", cwd=project)
    assert here.stdout.strip() == "ingest-orders: 1200 rows x 5 columns"
    expected = output.read_bytes()
    output.unlink()
    monkeypatch.setenv(BUDGET_VARIABLE, "1kB")  # far below the files
    over = conveyor("run", "ingest-orders", cwd=project)
    assert over.stdout.strip() == (
        "ingest-orders: 1200 rows x 5 columns (out of core, a row group at a time)"
    )
    assert output.read_bytes() == expected
    assert pd.read_parquet(output)["qty"].dtype != np.int64  # the null in the last rows
    assert [p.name for p in output.parent.iterdir()] == ["orders.parquet"]  # no temporary


@pytest.mark.slow
def test_a_bad_sql_query_over_the_budget_fails_located_with_nothing_written(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = _orders_project(project, BAD)
    monkeypatch.setenv(BUDGET_VARIABLE, "1kB")
    done = conveyor("run", "ingest-orders", cwd=project, check=False)
    assert done.returncode == 1
    assert "error: data.sources.orders: the SQL query failed: Binder Error" in done.stderr
    assert "regio" in done.stderr
    assert "fix: correct the query; the tables it can use are: cities, orders" in done.stderr
    assert "Traceback" not in done.stderr
    assert not output.parent.exists() or list(output.parent.iterdir()) == []


TABLE = """\
sources:
  wide:
    kind: synthetic_table
    params: {rows: 70000, numeric: 4, categorical: 2, null_fraction: 0.05, seed: 4}
target: target
split: {strategy: stratified, test_size: 0.3}
"""


@pytest.mark.slow
def test_a_generator_over_the_budget_writes_the_in_memory_bytes(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "conf" / "data" / "wide.yaml").write_text(TABLE)
    conveyor_in_process("compile", "data=wide", "features=none", "deploy=[]", cwd=project)
    output = project / "data" / "raw" / "wide.parquet"
    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)
    here = conveyor("run", "ingest-wide", cwd=project)
    assert here.stdout.strip() == "ingest-wide: 70000 rows x 7 columns"
    expected = output.read_bytes()
    output.unlink()
    monkeypatch.setenv(BUDGET_VARIABLE, "1MB")  # the rows take 2.7 MB
    over = conveyor("run", "ingest-wide", cwd=project)
    assert over.stdout.strip() == (
        "ingest-wide: 70000 rows x 7 columns (out of core, a row group at a time)"
    )
    assert output.read_bytes() == expected
