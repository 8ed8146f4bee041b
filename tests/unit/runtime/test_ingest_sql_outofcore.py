"""ingest over the memory budget: a ``sql`` source streamed a row group at a time, same bytes.

DuckDB queries over Parquet and CSV tables and a DuckDB database, and SQLite queries, each
written by the stage's in-memory path (``read`` then ``write_frame``) and by its out-of-core
path (``scan`` then ``ingest_frames``), over several row groups of 700 rows; DuckDB converts
one vector (2,048 rows) at a time, so row groups end inside its chunks.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conveyor.components.sql import SqlSource
from conveyor.errors import DataError
from conveyor.plugins.base import FrameScan
from conveyor.runtime import frames as frames_module
from conveyor.runtime import outofcore
from conveyor.runtime.frames import write_frame
from conveyor.runtime.stages._ingest_stream import ingest_frames

if TYPE_CHECKING:
    from pathlib import Path

ROWS = 5_000
GROUP = 700
LATE = 4_100  # past the first DuckDB vector and the first row groups
TABLES = {"sales": "data/sales", "stores": "data/stores.csv"}


@pytest.fixture(autouse=True)
def _small_row_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames_module, "_ROW_GROUP", GROUP)
    monkeypatch.setattr(outofcore, "ROW_GROUP", GROUP)


def _sales(n: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "store": rng.choice(["S1", "S2", "S3"], n),
            "qty": rng.integers(0, 9, n),
            "price": rng.normal(20, 5, n).round(2),
            "flag": rng.random(n) > 0.5,
            "note": [f"note {i % 13}" for i in range(n)],
        }
    )


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """Parquet files, a CSV file, a DuckDB database and a SQLite one, with late nulls."""
    data = tmp_path / "data"
    (data / "sales").mkdir(parents=True)
    sales = _sales()
    sales.iloc[:2_500].to_parquet(data / "sales" / "01.parquet", index=False)
    sales.iloc[2_500:].to_parquet(data / "sales" / "02.parquet", index=False)
    stores = pd.DataFrame({"store": ["S1", "S2", "S3"], "region": ["north", "south", None]})
    stores.to_csv(data / "stores.csv", index=False)
    with duckdb.connect(str(data / "shop.duckdb")) as con:
        con.register("frame", sales)
        con.execute(
            "CREATE TABLE orders AS SELECT id, store, "
            "CASE WHEN id = 4100 THEN NULL ELSE qty END AS qty, "
            "CAST(price AS DECIMAL(10, 2)) AS amount, "
            "DATE '2024-01-01' + CAST(id % 400 AS INTEGER) AS day, "
            "TIMESTAMP '2024-01-01 08:00:00' + to_minutes(CAST(id AS BIGINT)) AS at, "
            "CASE WHEN id = 4200 THEN NULL ELSE flag END AS flag, "
            "CASE WHEN id > 3000 THEN note END AS note, "
            "CAST(id AS HUGEINT) * 1000000000000 AS big "
            "FROM frame"
        )
    with closing(sqlite3.connect(data / "shop.sqlite")) as con:
        lite = sales.assign(
            qty=sales["qty"].astype("Int64").where(sales["id"] != LATE),
            note=sales["note"].where(sales["id"] > 3_000),
            day=[f"2024-01-{1 + i % 28:02d}" for i in range(ROWS)],
            flag=sales["flag"].astype(int),
        )
        lite.to_sql("orders", con, index=False)
        stores.to_sql("stores", con, index=False)
        con.commit()
    return tmp_path


CASES: dict[str, dict[str, Any]] = {
    "join, ORDER BY": {
        "query": "SELECT s.*, t.region FROM sales s JOIN stores t USING (store) ORDER BY s.id",
        "tables": TABLES,
    },
    "a scan without ORDER BY": {"query": "SELECT * FROM sales", "tables": TABLES},
    "a join without ORDER BY (one thread: the engine's order, the same on both passes)": {
        "query": "SELECT s.id, s.price, t.region FROM stores t JOIN sales s USING (store) "
        "WHERE s.qty > 1",
        "tables": TABLES,
    },
    "late nulls: integer, boolean, text": {
        "query": f"SELECT id, CASE WHEN id = {LATE} THEN NULL ELSE qty END AS qty, "  # noqa: S608
        f"CASE WHEN id = {LATE + 50} THEN NULL ELSE flag END AS flag, "
        "CASE WHEN id > 3000 THEN note END AS note, price FROM sales ORDER BY id",
        "tables": TABLES,
    },
    "group by": {
        "query": "SELECT store, region, count(*) AS n, sum(qty) AS qty, avg(price) AS price "
        "FROM sales JOIN stores USING (store) GROUP BY ALL ORDER BY store",
        "tables": TABLES,
    },
    "a script with a temporary table": {
        "query": "CREATE TEMP TABLE kept AS SELECT * FROM sales WHERE qty > 2; "
        "SELECT id, note FROM kept ORDER BY id DESC",
        "tables": TABLES,
    },
    "duckdb database: decimals, dates, timestamps, nulls": {
        "query": "SELECT * FROM orders ORDER BY id",
        "database": "data/shop.duckdb",
    },
    "duckdb database joined with a file": {
        "query": "SELECT o.id, o.amount, o.day, t.region FROM orders o "
        "LEFT JOIN stores t USING (store) WHERE o.id % 3 <> 0 ORDER BY o.id",
        "database": "data/shop.duckdb",
        "tables": {"stores": "data/stores.csv"},
    },
    "sqlite: late nulls, reals, text dates": {
        "query": "SELECT * FROM orders",
        "database": "data/shop.sqlite",
    },
    "sqlite: join without ORDER BY": {
        "query": "SELECT o.id, o.note, s.region FROM stores s JOIN orders o USING (store)",
        "database": "data/shop.sqlite",
    },
    "sqlite: join, ORDER BY": {
        "query": "SELECT o.id, o.qty * o.price AS total, s.region FROM orders o "
        "JOIN stores s USING (store) ORDER BY o.store, o.id",
        "database": "data/shop.sqlite",
    },
}


def _source(params: dict[str, Any]) -> SqlSource:
    source = SqlSource.from_config(params)
    assert isinstance(source, SqlSource)
    return source


def _scan(source: SqlSource, root: Path) -> FrameScan:
    scan = source.scan(root)
    assert isinstance(scan, FrameScan)
    return scan


def _in_memory(root: Path, source: SqlSource) -> bytes:
    """What the stage writes in memory: read(), then write_frame."""
    frame = source.read(root)
    frame.columns = [str(c) for c in frame.columns]
    write_frame(root, "memory.parquet", frame)
    return (root / "memory.parquet").read_bytes()


@pytest.mark.parametrize("case", list(CASES))
def test_streamed_ingest_writes_the_in_memory_bytes(shop: Path, case: str) -> None:
    source = _source(CASES[case])
    expected = _in_memory(shop, source)
    rows = ingest_frames(_scan(source, shop), shop / "streamed.parquet")
    assert rows == pq.ParquetFile(shop / "memory.parquet").metadata.num_rows
    assert (shop / "streamed.parquet").read_bytes() == expected
    assert pq.ParquetFile(shop / "streamed.parquet").num_row_groups == -(-rows // GROUP)


def test_the_dtypes_come_from_the_whole_result_not_the_first_chunk(shop: Path) -> None:
    source = _source(CASES["late nulls: integer, boolean, text"])
    frames = _scan(source, shop).chunks(GROUP)
    assert not isinstance(frames, str)
    got = list(frames)
    assert [len(f) for f in got] == [GROUP] * (ROWS // GROUP) + [ROWS % GROUP]
    whole = source.read(shop)
    assert got[0]["qty"].dtype == whole["qty"].dtype != np.int64  # the null is in frame 5
    assert got[0]["note"].dtype == whole["note"].dtype  # all null in frame 0
    pd.testing.assert_frame_equal(pd.concat(got, ignore_index=True), whole)


def test_the_size_is_what_the_query_reads(shop: Path) -> None:
    files = sorted((shop / "data" / "sales").iterdir())
    parquet = sum(
        pq.ParquetFile(f).metadata.row_group(i).total_byte_size
        for f in files
        for i in range(pq.ParquetFile(f).metadata.num_row_groups)
    )
    csv = (shop / "data" / "stores.csv").stat().st_size
    assert _scan(_source(CASES["join, ORDER BY"]), shop).size == parquet + csv
    lite = _source({"query": "SELECT 1", "database": "data/shop.sqlite"})
    assert _scan(lite, shop).size == (shop / "data" / "shop.sqlite").stat().st_size
    duck = _scan(_source({"query": "SELECT 1", "database": "data/shop.duckdb"}), shop).size
    assert duck >= 8 * ROWS * 9  # 9 columns of 5,000 rows, at least 8 bytes a cell


def test_a_sqlite_column_of_several_types_is_read_whole_and_says_why(shop: Path) -> None:
    """SQLite types each value: an INTEGER column may hold text in one row."""
    with closing(sqlite3.connect(shop / "data" / "shop.sqlite")) as con:
        con.execute("UPDATE orders SET qty = 'many' WHERE id = ?", (LATE + 1,))
        con.commit()
    source = _source({"query": "SELECT id, qty FROM orders", "database": "data/shop.sqlite"})
    assert _scan(source, shop).chunks(GROUP) == (
        "column 'qty' holds integer and text values (SQLite types each value, not each "
        "column), which pandas keeps as Python objects of several types"
    )
    assert source.read(shop)["qty"].dtype == object  # what Parquet refuses, located, in ingest


BAD = {
    "duckdb: unknown column": ({"query": "SELECT nope FROM sales", "tables": TABLES}, "nope"),
    "duckdb: a value that fails late": (
        {
            "query": f"SELECT id, CAST(CASE WHEN id = {LATE} THEN 'x' ELSE '1' END AS INTEGER) "  # noqa: S608
            "AS v FROM sales ORDER BY id",
            "tables": TABLES,
        },
        "Could not convert string 'x'",
    ),
    "duckdb: a file outside the tables": (
        {"query": "SELECT * FROM 'data/stores.csv'", "tables": {"sales": "data/sales"}},
        "reads or writes a file it may not",
    ),
    "sqlite: unknown table": (
        {"query": "SELECT * FROM order_lines", "database": "data/shop.sqlite"},
        "no such table: order_lines",
    ),
    "sqlite: no SELECT": (
        {"query": "-- nothing to see", "database": "data/shop.sqlite"},
        "the query returns no rows: it is not a SELECT",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_query_fails_as_in_memory_with_nothing_written(shop: Path, case: str) -> None:
    params, expected = BAD[case]
    source = _source(params)
    before = sorted(p.name for p in shop.iterdir())
    with pytest.raises(DataError, match=re.escape(expected)) as in_memory:
        source.read(shop)
    with pytest.raises(DataError, match=re.escape(expected)) as streamed:
        ingest_frames(_scan(source, shop), shop / "streamed.parquet")
    assert streamed.value.what == in_memory.value.what
    assert expected in streamed.value.what
    assert streamed.value.where == in_memory.value.where == "data.sources"
    assert streamed.value.fix == in_memory.value.fix
    assert sorted(p.name for p in shop.iterdir()) == before  # no output, no temporary


def test_a_query_without_rows_is_an_error_with_nothing_written(shop: Path) -> None:
    source = _source({"query": "SELECT * FROM sales WHERE id < 0", "tables": TABLES})
    assert source.read(shop).empty  # the stage refuses it: no rows
    with pytest.raises(DataError, match="the source produced no rows"):
        ingest_frames(_scan(source, shop), shop / "streamed.parquet")
    assert not (shop / "streamed.parquet").exists()


def test_a_postgres_source_is_not_scanned(tmp_path: Path) -> None:
    """A snapshot source: ingest reads it whole, to write the snapshot and its record."""
    source = _source(
        {"query": "SELECT 1 AS x ORDER BY 1", "postgres": {"dsn_env": "DSN", "database": "dw"}}
    )
    assert source.scan(tmp_path) is None
