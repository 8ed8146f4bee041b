"""combine.sql over the memory budget: DuckDB over the files writes the in-memory path's bytes."""

from __future__ import annotations

import datetime
import decimal
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conveyor.errors import DataError
from conveyor.runtime import frames as frames_module
from conveyor.runtime import outofcore
from conveyor.runtime.frames import write_frame
from conveyor.runtime.stages._combine_sql import _InMemory, query_files
from conveyor.runtime.stages.combine import combine_frames
from conveyor.spec import CombineSpec

if TYPE_CHECKING:
    from pathlib import Path

TINY = 1  # bytes: every input is over it
ROWS = 3_000  # over four row groups of 700


def _sources(root: Path) -> dict[str, Path]:
    """Sales (every awkward dtype, late nulls) and stores, written as ingest writes them."""
    rng = np.random.default_rng(11)
    units = pd.array(rng.integers(0, 9, ROWS), dtype="Int64")
    units[rng.choice(ROWS, 40, replace=False)] = pd.NA
    units[ROWS - 1] = pd.NA  # a null in the last row group only, too
    returned = rng.integers(0, 3, ROWS).astype("float64")
    returned[2_500:2_510] = np.nan
    sales = pd.DataFrame(
        {
            "id": rng.permutation(ROWS),
            "store": rng.integers(1, 6, ROWS),
            "units": units,
            "returned": returned,
            "amount": rng.normal(100, 30, ROWS).round(2),
            "kind": pd.Categorical(
                rng.choice(["retail", "bulk", "online"], ROWS),
                categories=["retail", "online", "bulk"],  # not alphabetical: ORDER BY sees it
            ),
            "note": pd.array(
                [None if i % 13 == 0 else f"n{i % 50}" for i in range(ROWS)], dtype="str"
            ),
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, ROWS), "h"),
            "paid": pd.Timestamp("2024-03-01", tz="Europe/Oslo")
            + pd.to_timedelta(rng.integers(0, 10**6, ROWS), "s"),
            "flag": rng.integers(0, 2, ROWS).astype(bool),
            "opened": [datetime.date(2020, 1, 1 + i % 28) for i in range(ROWS)],
            "price": [decimal.Decimal(f"{i % 97}.{i % 10}5") for i in range(ROWS)],
            "ratio": rng.random(ROWS).astype("float32"),
            "checked": pd.array(
                [None if i % 7 == 0 else bool(i % 2) for i in range(ROWS)], dtype="boolean"
            ),
        }
    )
    stores = pd.DataFrame(
        {
            "store": [3, 1, 5, 2, 4],
            "region": pd.Categorical(["west", "east", "west", "north", "east"]),
            "size": [120, 80, 200, 95, 60],
        }
    )
    paths = {}
    for name, frame in (("sales", sales), ("stores", stores)):
        write_frame(root, f"{name}.parquet", frame)
        paths[name] = root / f"{name}.parquet"
    return paths


def _in_memory(root: Path, paths: dict[str, Path], query: str, name: str = "memory") -> Path:
    frames = {n: frames_module.read_frame(root, p.name, "combine") for n, p in paths.items()}
    write_frame(root, f"{name}.parquet", combine_frames(frames, CombineSpec(sql=query)))
    return root / f"{name}.parquet"


def _hidden(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("."))


@pytest.fixture(autouse=True)
def _small_row_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Several row groups per file, so chunks cross row groups in both directions."""
    monkeypatch.setattr(frames_module, "_ROW_GROUP", 700)
    monkeypatch.setattr(outofcore, "ROW_GROUP", 700)


SAME_BYTES = {
    "join, GROUP BY, ORDER BY": """
        SELECT st.region, count(*) AS sales, sum(s.units) AS units, avg(s.units) AS mean_units,
               min(s.day) AS first_day, max(s.paid) AS last_paid, max(s.note) AS last_note,
               count(DISTINCT s.kind) AS kinds, bool_or(s.flag) AS any_flag
        FROM sales AS s JOIN stores AS st USING (store)
        GROUP BY st.region ORDER BY region""",
    "filter, no ORDER BY, several row groups": """
        SELECT * FROM sales WHERE units > 2 AND kind <> 'bulk' OR note IS NULL""",
    "ORDER BY over a float and a key": "SELECT id, kind, amount, note FROM sales "
    "ORDER BY amount DESC, id",
    "ORDER BY a categorical (category order, not alphabetical)": "SELECT * FROM sales "
    "ORDER BY kind, 1",
    "window functions over the input order": """
        SELECT id, row_number() OVER () AS n, lag(units) OVER () AS previous,
               amount * 2 AS double_amount
        FROM sales""",
    "every dtype passed through": "SELECT * FROM sales",
    "NaN and null filtered alike": "SELECT id, returned, checked FROM sales "
    "WHERE returned IS NULL OR NOT checked",
    "an aggregate without GROUP BY": "SELECT count(checked) AS known, count(*) AS rows, "
    "sum(price) AS price, max(opened) AS opened FROM sales",
    "a LIMIT, a view and expressions": """
        CREATE TEMP VIEW big AS SELECT * FROM sales WHERE amount > 100;
        SELECT id, upper(note) AS loud, date_trunc('day', day) AS d, paid::DATE AS paid_on,
               CASE WHEN flag THEN units END AS units_if_flag
        FROM big LIMIT 1500""",
    "an aggregate over a join, every column in ORDER BY ALL": """
        SELECT store, region, size, count(*) AS n, sum(units) AS units
        FROM sales JOIN stores USING (store) GROUP BY ALL ORDER BY ALL""",
}


@pytest.mark.parametrize("query", SAME_BYTES.values(), ids=SAME_BYTES.keys())
def test_the_query_out_of_core_writes_the_in_memory_bytes(tmp_path: Path, query: str) -> None:
    paths = _sources(tmp_path)
    memory = _in_memory(tmp_path, paths, query)
    out = tmp_path / "duck.parquet"
    rows = query_files(paths, query, out, budget=TINY)
    expected = pq.read_table(memory)
    assert rows == expected.num_rows
    assert pq.read_table(out).equals(expected)
    assert out.read_bytes() == memory.read_bytes()
    again = tmp_path / "again.parquet"
    query_files(paths, query, again, budget=TINY)
    assert again.read_bytes() == out.read_bytes()
    assert _hidden(tmp_path) == []


def test_the_dtypes_are_the_in_memory_ones(tmp_path: Path) -> None:
    paths = _sources(tmp_path)
    out = tmp_path / "duck.parquet"
    query_files(paths, "SELECT * FROM sales ORDER BY kind, id", out, budget=TINY)
    frame = pd.read_parquet(out)
    assert pq.ParquetFile(out).metadata.num_row_groups == 5
    assert frame["kind"].dtype == pd.CategoricalDtype(["retail", "online", "bulk"], ordered=True)
    assert frame["kind"].iloc[0] == "retail"  # the ENUM's order, not the alphabet's
    assert frame["units"].dtype == "Int64"  # an integer with nulls anywhere, as .df() gives it
    assert frame["paid"].dt.tz is not None
    assert frame["id"].dtype == "int64"


UNDECIDED = {
    "GROUP BY without ORDER BY": (
        "SELECT store, count(*) AS n FROM sales GROUP BY store",
        "no final ORDER BY, and the output order of",
    ),
    "a join without ORDER BY": (
        "SELECT * FROM sales JOIN stores USING (store)",
        "no final ORDER BY, and the output order of",
    ),
    "ORDER BY keys that tie": (
        "SELECT id, kind FROM sales ORDER BY kind",
        "different rows share the ORDER BY keys",
    ),
    "a float sum": (
        "SELECT store, sum(amount) AS total FROM sales GROUP BY store ORDER BY store",
        "floating-point",
    ),
    "an aggregate whose value follows the row order": (
        "SELECT store, string_agg(note, ',') AS notes FROM sales GROUP BY store ORDER BY store",
        "string_agg",
    ),
    "a partitioned window": (
        "SELECT id, row_number() OVER (PARTITION BY store ORDER BY day) AS n FROM sales "
        "ORDER BY id",
        "a window over partitions or an order",
    ),
    "a table materialized first": (
        "CREATE TEMP TABLE t AS SELECT store FROM sales GROUP BY store; SELECT * FROM t",
        "materializes rows",
    ),
}


@pytest.mark.parametrize(("query", "why"), UNDECIDED.values(), ids=UNDECIDED.keys())
def test_a_query_whose_result_could_differ_is_sent_to_memory_with_the_reason(
    tmp_path: Path, query: str, why: str
) -> None:
    paths = _sources(tmp_path)
    with pytest.raises(_InMemory, match=why):
        query_files(paths, query, tmp_path / "duck.parquet", budget=TINY)
    assert not (tmp_path / "duck.parquet").exists()
    assert _hidden(tmp_path) == []


HOSTILE = {
    "COPY to a file": "COPY (SELECT * FROM sales) TO '{target}' (FORMAT csv)",
    "COPY after a comment": "/* harmless */ SELECT 1; COPY sales TO '{target}'",
    "INSERT": "INSERT INTO sales SELECT * FROM sales; SELECT * FROM sales",
    "WITH ... INSERT": "WITH x AS (SELECT 1) INSERT INTO sales SELECT * FROM sales",
    "ATTACH": "ATTACH '{target}' AS evil; SELECT * FROM sales",
    "read_csv of /etc/passwd": "SELECT * FROM read_csv('/etc/passwd')",
    "a file path as a table": "SELECT * FROM '/etc/passwd'",
    "read_text": "SELECT * FROM read_text('/etc/hostname')",
    "a Parquet file outside the sources": "SELECT * FROM read_parquet('{outside}')",
    "glob of the filesystem": "SELECT * FROM glob('/etc/*')",
    "SET to widen the sandbox": "SET enable_external_access = true; SELECT * FROM sales",
    "a view that reads a file": (
        "CREATE TEMP VIEW v AS SELECT * FROM read_csv('/etc/passwd'); SELECT * FROM v"
    ),
    "INSTALL an extension": "INSTALL httpfs; SELECT * FROM sales",
    "EXPORT DATABASE": "EXPORT DATABASE '{folder}'",
    "a persistent secret": (
        "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'k', SECRET 'x'); SELECT 1 AS one"
    ),
}


@pytest.mark.parametrize("query", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_query_that_writes_or_reads_another_file_is_refused_as_in_memory(
    tmp_path: Path, query: str
) -> None:
    paths = _sources(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    write_frame(outside, "secret.parquet", pd.DataFrame({"password": ["hunter2"]}))
    target, folder = tmp_path / "stolen.csv", tmp_path / "export"
    text = query.format(target=target, outside=outside / "secret.parquet", folder=folder)
    with pytest.raises(DataError, match=r"^data\.combine\.sql: the (query|SQL query)") as memory:
        _in_memory(tmp_path, paths, text)
    with pytest.raises(DataError, match=r"^data\.combine\.sql: the (query|SQL query)") as duck:
        query_files(paths, text, tmp_path / "duck.parquet", budget=TINY)
    assert type(duck.value) is type(memory.value)
    assert "hunter2" not in duck.value.render()
    assert "root:" not in duck.value.render()
    assert not target.exists()
    assert not folder.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "elsewhere",
        "sales.parquet",
        "stores.parquet",
    ]
    assert pd.read_parquet(paths["sales"]).shape == (ROWS, 14)  # the source is untouched


def test_an_unknown_column_is_a_located_error_and_writes_nothing(tmp_path: Path) -> None:
    paths = _sources(tmp_path)
    query = "SELECT id, storee FROM sales ORDER BY id"
    with pytest.raises(DataError, match=r"^data\.combine\.sql: the SQL query failed") as caught:
        query_files(paths, query, tmp_path / "duck.parquet", budget=TINY)
    assert "storee" in str(caught.value)
    assert "store" in caught.value.render()
    assert caught.value.fix == "correct the query; the tables it can use are: sales, stores"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sales.parquet", "stores.parquet"]


def test_no_rows_is_the_in_memory_error(tmp_path: Path) -> None:
    paths = _sources(tmp_path)
    query = "SELECT * FROM sales WHERE id < 0"
    with pytest.raises(DataError, match="gave no rows"):
        _in_memory(tmp_path, paths, query)
    with pytest.raises(DataError, match="gave no rows"):
        query_files(paths, query, tmp_path / "duck.parquet", budget=TINY)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sales.parquet", "stores.parquet"]


def test_a_column_whose_type_differs_from_the_pandas_one_sends_the_query_to_memory(
    tmp_path: Path,
) -> None:
    paths = _sources(tmp_path)
    frame = pd.DataFrame({"store": [1, 2], "open_for": pd.to_timedelta([8, 10], "h")})
    write_frame(tmp_path, "stores.parquet", frame)  # INTERVAL in pandas, BIGINT in the file
    query = "SELECT * FROM stores"
    with pytest.raises(_InMemory, match="source 'stores' column 'open_for' is BIGINT in the file"):
        query_files(paths, query, tmp_path / "duck.parquet", budget=TINY)
    assert _hidden(tmp_path) == []


def test_a_killed_runs_spill_folder_is_removed_by_the_next_run(tmp_path: Path) -> None:
    paths = _sources(tmp_path)
    leftover = tmp_path / ".duck.parquet.999999999.abcdefgh.tmp"  # no such pid
    (leftover / "duckdb").mkdir(parents=True)
    (leftover / "duckdb" / "spill.block").write_bytes(b"half")
    query_files(paths, "SELECT id FROM sales WHERE flag", tmp_path / "duck.parquet", budget=TINY)
    assert not leftover.exists()
    assert _hidden(tmp_path) == []
