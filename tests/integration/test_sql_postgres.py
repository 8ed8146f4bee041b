"""``kind: sql`` with ``postgres:`` against a real PostgreSQL server the tests start.

The server runs once per session (``postgres_server.py``). The role the source connects as may
write the table and the sequence, so that a refused write is refused by the read-only
transaction, not by a missing privilege.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from conveyor.components._postgres import PostgresParams, read_postgres
from conveyor.components._sql_guard import postgres_problem
from conveyor.components.sql import SqlSource
from conveyor.errors import DataError
from conveyor.runtime.frames import write_parquet
from conveyor.runtime.stages import ingest
from tests.conftest import conveyor, conveyor_in_process, dvc
from tests.integration import postgres_server

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.integration.postgres_server import Server

ENV = "CONVEYOR_TEST_WAREHOUSE_DSN"
QUERY = "SELECT id, store, amount, qty, placed, day, note, flag FROM orders ORDER BY id"
ROWS = 40  # generate_series(1, 40) below
SETUP = [
    f"CREATE ROLE {postgres_server.READER} LOGIN PASSWORD '{postgres_server.READER_PASSWORD}'",
    "CREATE DATABASE warehouse",
    "CREATE DATABASE other",
]
TABLE = [
    "CREATE TABLE orders (id int PRIMARY KEY, store text NOT NULL, amount numeric(10, 2), "
    "qty int NOT NULL, placed timestamptz NOT NULL, day date NOT NULL, note text, flag bool)",
    "INSERT INTO orders SELECT i, 's' || (i % 3), (i * 1.25)::numeric(10, 2), i % 7, "
    "timestamptz '2024-01-01 12:00:00+02' + i * interval '1 hour', date '2024-01-01' + i, "
    "CASE WHEN i % 5 = 0 THEN NULL ELSE 'n' || i END, i % 2 = 0 FROM generate_series(1, 40) i",
    "CREATE SEQUENCE s",
    f"GRANT ALL ON orders, s TO {postgres_server.READER}",
]


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    reason = postgres_server.why_not()
    if reason:
        pytest.skip(reason)
    import psycopg

    with postgres_server.running_server() as running:
        with psycopg.connect(running.superuser("postgres"), autocommit=True) as connection:
            for statement in SETUP:
                connection.execute(statement)
        with psycopg.connect(running.superuser("warehouse"), autocommit=True) as connection:
            for statement in TABLE:
                connection.execute(statement)
        yield running


@pytest.fixture
def dsn(server: Server, monkeypatch: pytest.MonkeyPatch) -> str:
    value = server.dsn("warehouse")
    monkeypatch.setenv(ENV, value)
    return value


def _source(query: str = QUERY, **postgres: Any) -> SqlSource:
    params = {"query": query, "postgres": {"dsn_env": ENV, "database": "warehouse", **postgres}}
    source = SqlSource.from_config(params)
    assert isinstance(source, SqlSource)
    return source


def _state(server: Server) -> tuple[Any, ...]:
    """The table's rows and the sequence's state, read as the superuser."""
    import psycopg

    with psycopg.connect(server.superuser("warehouse")) as connection:
        rows = connection.execute("SELECT * FROM orders ORDER BY id").fetchall()
        sequence = connection.execute("SELECT last_value, is_called FROM s").fetchone()
        tables = connection.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
    return (tuple(rows), sequence, tables)


def test_snapshot_equals_the_table_with_stable_types(dsn: str, tmp_path: Path) -> None:
    import psycopg

    frame = _source().read(tmp_path)
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(QUERY).fetchall()
    assert len(frame) == ROWS
    assert list(frame.columns) == ["id", "store", "amount", "qty", "placed", "day", "note", "flag"]
    assert frame["id"].tolist() == [row[0] for row in rows]
    assert frame["store"].tolist() == [row[1] for row in rows]
    assert frame["amount"].tolist() == [float(row[2]) for row in rows]
    assert frame["amount"].dtype == "float64"  # numeric -> float64, not Decimal objects
    assert frame["qty"].dtype == "int64"
    assert str(frame["placed"].dt.tz) == "UTC"  # timestamptz -> tz-aware UTC
    assert frame["placed"].tolist() == [pd.Timestamp(row[4]) for row in rows]
    assert frame["placed"].iloc[0] == pd.Timestamp("2024-01-01 11:00:00", tz="UTC")
    assert frame["day"].tolist() == [row[5] for row in rows]
    assert frame["note"].isna().sum() == ROWS // 5
    assert frame["flag"].tolist() == [row[7] for row in rows]


def test_types_come_from_the_declared_types_not_the_values(dsn: str, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    del dsn
    query = (
        "SELECT id, CASE WHEN id = 2 THEN NULL ELSE id END AS k, NULL::timestamptz AS t, "
        "NULL::numeric AS n, NULL::text AS s, NULL::bool AS b, NULL::date AS d, "
        "NULL::bytea AS x FROM orders WHERE id <= 3 ORDER BY id"
    )
    frame = _source(query).read(tmp_path)
    ingest._write_snapshot(tmp_path, "orders", frame, {"query": query})  # as the stage writes
    schema = pq.read_schema(tmp_path / "data" / "raw" / "orders.parquet")
    written = {field.name: str(field.type) for field in schema}
    assert written == {
        "id": "int64",
        "k": "int64",  # NULLs do not make it float64 in the snapshot
        "t": "timestamp[us, tz=UTC]",
        "n": "double",
        "s": "string",
        "b": "bool",
        "d": "date32[day]",
        "x": "binary",
    }
    record = json.loads((tmp_path / "data" / "raw" / "orders.snapshot.json").read_text())
    assert record["columns"] == written


def test_same_rows_give_the_same_snapshot_bytes(dsn: str, tmp_path: Path) -> None:
    del dsn
    source = _source()
    write_parquet(tmp_path / "a.parquet", source.read(tmp_path))
    write_parquet(tmp_path / "b.parquet", source.read(tmp_path))
    first = (tmp_path / "a.parquet").read_bytes()
    assert first == (tmp_path / "b.parquet").read_bytes()
    # and other rows give other bytes: the hash follows the data
    write_parquet(
        tmp_path / "c.parquet",
        _source(QUERY.replace("ORDER BY id", "ORDER BY id DESC")).read(tmp_path),
    )
    assert (tmp_path / "c.parquet").read_bytes() != first


SYNTAX = r"failed in PostgreSQL \(42601\): syntax error"
READ_ONLY = r"the query writes: PostgreSQL refused it in a read-only transaction"
WRITES = [
    # (query, refused by the compile-time guard too, how the server refuses it on its own)
    ("INSERT INTO orders (id, store, qty, placed, day) VALUES (999, 'x', 1, now(), "
     "current_date) RETURNING id", True, SYNTAX),  # a cursor holds a SELECT only
    ("DROP TABLE orders", True, SYNTAX),
    ("SELECT id FROM orders ORDER BY id; DROP TABLE orders", True, "several statements"),
    ("SET default_transaction_read_only = off", True, SYNTAX),
    # as a simple-protocol script this would commit the read-only transaction, then delete
    ("SELECT id FROM orders ORDER BY id; COMMIT; DELETE FROM orders", True, "several statements"),
    ("SELECT nextval('s') AS n ORDER BY 1", False, READ_ONLY),
    ("WITH gone AS (DELETE FROM orders WHERE id < 5 RETURNING id) SELECT id FROM gone ORDER BY id",
     False, READ_ONLY),
    ("SELECT set_config('transaction_read_only', 'off', true) AS x ORDER BY 1", False,
     "read-write mode must be set before any query"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "guarded", "refusal"), WRITES)
def test_writes_are_refused_and_change_nothing(
    server: Server, dsn: str, query: str, guarded: bool, refusal: str
) -> None:
    del dsn
    before = _state(server)
    if guarded:  # compile (and the run-time revalidation of params) refuse it first
        with pytest.raises(ValidationError, match=r"statement|does not only read"):
            _source(query)
    else:
        assert postgres_problem(query) is None
    # and the server refuses it on its own, past the guard
    params = PostgresParams(dsn_env=ENV, database="warehouse")
    with pytest.raises(DataError, match=refusal) as err:
        read_postgres(params, query)
    assert err.value.where == "data.sources.params.query"
    assert _state(server) == before


def test_another_database_than_declared_is_refused(
    server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(ENV, server.dsn("other"))
    with pytest.raises(
        DataError, match=r"connects to the database 'other'.*declares 'warehouse'"
    ) as err:
        _source().read(tmp_path)
    assert err.value.where == "data.sources.params.postgres.database"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, f"environment variable '{ENV}' is not set"),
        ("postgresql://reader:wrong@127.0.0.1:{port}/warehouse", "refused the credentials"),
        ("postgresql://nobody:x@127.0.0.1:{port}/warehouse", "refused the credentials"),
        (
            "postgresql://reader:reader-secret@127.0.0.1:{port}/nodb",
            'refused the connection.*database "nodb" does not exist',
        ),
        ("postgresql://reader:pa ss@h/x", "does not hold a valid PostgreSQL connection string"),
        (
            "postgresql://reader:x@127.0.0.1:{closed}/warehouse",
            "cannot reach the PostgreSQL server",
        ),
    ],
)
def test_connection_failures_are_located_and_keep_the_password_out(
    server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str | None, message: str
) -> None:
    if value is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        closed = postgres_server._free_port()
        monkeypatch.setenv(ENV, value.format(port=server.port, closed=closed))
    with pytest.raises(DataError, match=message) as err:
        _source(connect_timeout=3).read(tmp_path)
    assert err.value.where == "data.sources.params.postgres.dsn_env"
    for secret in ("wrong", "pa ss", postgres_server.READER_PASSWORD):
        assert secret not in err.value.render()
    assert err.value.__cause__ is None or "pa ss" not in str(err.value.__cause__)


@pytest.mark.parametrize(
    ("query", "options", "message"),
    [
        ("SELECT * FROM nowhere ORDER BY 1", {}, r"failed in PostgreSQL \(42P01\).*nowhere"),
        (
            "SELECT pg_sleep(5)::text AS z ORDER BY 1",
            {"statement_timeout": 0.2},
            "statement_timeout",
        ),
        ("SELECT 1 AS a, 2 AS a ORDER BY 1", {}, "column name 'a' more than once"),
    ],
)
def test_query_errors_are_located(
    dsn: str, tmp_path: Path, query: str, options: dict[str, Any], message: str
) -> None:
    del dsn
    with pytest.raises(DataError, match=message) as err:
        _source(query, **options).read(tmp_path)
    assert err.value.where == "data.sources.params.query"
    assert err.value.fix


def test_an_unmapped_type_names_the_cast(dsn: str, tmp_path: Path) -> None:
    del dsn
    with pytest.raises(DataError, match=r"'pair' has the PostgreSQL type 'int4\[\]'") as err:
        _source("SELECT ARRAY[1, 2] AS pair ORDER BY 1").read(tmp_path)
    assert "pair::text" in (err.value.fix or "")


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        (QUERY, None),
        ("WITH x AS (SELECT 1 AS a) SELECT a FROM x ORDER BY a", None),
        ("VALUES (1), (2) ORDER BY 1", None),
        ("SELECT * FROM (SELECT id FROM orders ORDER BY id) t", "no ORDER BY"),
        ("SELECT 'ORDER BY' AS s FROM orders", "no ORDER BY"),
        ("EXPLAIN SELECT 1 ORDER BY 1", "'EXPLAIN'"),
        ("SELECT 1 ORDER BY 1; SELECT 2 ORDER BY 1", "2 statements"),
        ("WITH x AS (SELECT 1) INSERT INTO orders SELECT * FROM x", "'INSERT'"),
    ],
)
def test_the_guard_wants_one_ordered_read(query: str, problem: str | None) -> None:
    found = postgres_problem(query)
    assert (found is None) == (problem is None)
    if problem is not None:
        assert found is not None
        assert problem in found[0]


@pytest.mark.parametrize(
    ("postgres", "message"),
    [
        ({"dsn_env": "postgresql://u:hunter2@db/warehouse"}, "holds a connection string"),
        ({"dsn_env": "host=db password=hunter2"}, "holds a connection string"),
        ({"dsn_env": "WAREHOUSE_DSN", "dsn": "postgresql://u:hunter2@db/w"}, "'dsn' would put"),
        ({"dsn_env": "WAREHOUSE_DSN", "password": "hunter2"}, "'password' would put"),
        ({"dsn_env": "WAREHOUSE DSN"}, "not an environment variable name"),
    ],
)
def test_compile_refuses_credentials_in_conf(
    project: Path, postgres: dict[str, Any], message: str
) -> None:
    _postgres_project(project, {"database": "warehouse", **postgres})
    done = conveyor_in_process("compile", cwd=project, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    err = done.stderr
    assert message in err
    assert "conf/data/orders.yaml" in err
    assert "data.sources.orders.params.postgres" in err
    assert "hunter2" not in done.stdout + err  # the secret is not repeated
    assert "hunter2" not in (project / "params.yaml").read_text()  # nor written on
    assert "Traceback" not in err


def _postgres_project(root: Path, postgres: dict[str, Any], query: str = QUERY) -> None:
    data = {
        "sources": {"orders": {"kind": "sql", "params": {"query": query, "postgres": postgres}}},
        "target": "flag",
        "split": {"strategy": "random", "test_size": 0.25},
    }
    (root / "conf" / "data" / "orders.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    config = root / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("data: breast_cancer", "data: orders"))


def test_a_postgres_source_reads_no_files() -> None:
    params = {
        "query": QUERY,
        "tables": {"extra": "data/extra.csv"},
        "postgres": {"dsn_env": ENV, "database": "warehouse"},
    }
    with pytest.raises(ValidationError, match="reads its database only"):
        SqlSource.from_config(params)


def test_refresh_always_compiles_to_always_changed(project: Path) -> None:
    _postgres_project(project, {"dsn_env": ENV, "database": "warehouse"})
    conveyor_in_process("compile", cwd=project)
    stage = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]["ingest-orders"]
    assert "always_changed" not in stage
    assert stage["outs"] == [
        "data/raw/orders.parquet",
        {"data/raw/orders.snapshot.json": {"cache": False}},
    ]
    assert not [dep for dep in stage.get("deps", []) if not dep.endswith(".py")]
    _postgres_project(project, {"dsn_env": ENV, "database": "warehouse", "refresh": "always"})
    conveyor_in_process("compile", cwd=project)
    stage = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]["ingest-orders"]
    assert stage["always_changed"] is True


@pytest.mark.slow
def test_conveyor_run_ingest_snapshots_the_table(
    server: Server, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _postgres_project(project, {"dsn_env": ENV, "database": "warehouse"})
    conveyor_in_process("compile", cwd=project)
    snapshot = project / "data" / "raw" / "orders.parquet"
    record_file = project / "data" / "raw" / "orders.snapshot.json"

    # the server is down: a located error, an exit code, no traceback, nothing written
    monkeypatch.setenv(
        ENV, f"postgresql://reader:x@127.0.0.1:{postgres_server._free_port()}/warehouse"
    )
    down = conveyor("run", "ingest-orders", cwd=project, check=False)
    assert down.returncode == 1
    assert "error: data.sources.orders.params.postgres.dsn_env: cannot reach" in down.stderr
    assert "Traceback" not in down.stderr
    assert not snapshot.exists()
    assert not record_file.exists()
    assert not [p for p in project.rglob("*.tmp") if ".git" not in p.parts]

    monkeypatch.setenv(ENV, server.dsn("warehouse"))
    conveyor("run", "ingest-orders", cwd=project)
    first, record_text = snapshot.read_bytes(), record_file.read_text()
    conveyor("run", "ingest-orders", cwd=project)
    assert snapshot.read_bytes() == first  # byte-identical: no time, host or order drift
    assert record_file.read_text() == record_text
    record = json.loads(record_text)
    assert record["sha256"] == hashlib.sha256(first).hexdigest()
    assert record["query"] == QUERY
    assert record["database"] == "warehouse"
    assert record["rows"] == ROWS
    assert record["columns"]["placed"] == "timestamp[us, tz=UTC]"
    assert "reader-secret" not in record_text
    assert pd.read_parquet(snapshot)["id"].tolist() == list(range(1, ROWS + 1))


@pytest.mark.slow
def test_dvc_refreshes_the_snapshot_only_when_asked(
    server: Server, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    monkeypatch.setenv(ENV, server.dsn("warehouse"))
    query = "SELECT id, qty FROM orders WHERE id <= 3 ORDER BY id"
    _postgres_project(project, {"dsn_env": ENV, "database": "warehouse"}, query=query)
    conveyor_in_process("compile", cwd=project)
    snapshot = project / "data" / "raw" / "orders.parquet"
    dvc("repro", "ingest-orders", cwd=project)
    first = snapshot.read_bytes()
    with psycopg.connect(server.superuser("warehouse"), autocommit=True) as connection:
        connection.execute("UPDATE orders SET qty = qty + 100 WHERE id = 2")
    try:
        # the database is no dependency: DVC keeps the snapshot until asked
        assert "ingest-orders" not in dvc("status", "ingest-orders", cwd=project).stdout
        dvc("repro", "ingest-orders", cwd=project)
        assert snapshot.read_bytes() == first
        dvc("repro", "-f", "ingest-orders", cwd=project)
        assert pd.read_parquet(snapshot)["qty"].tolist()[1] == 102
        # refresh: always -> always_changed: DVC reruns it every time
        postgres = {"dsn_env": ENV, "database": "warehouse", "refresh": "always"}
        _postgres_project(project, postgres, query=query)
        conveyor_in_process("compile", cwd=project)
        dvc("repro", "ingest-orders", cwd=project)
        assert "always changed" in dvc("status", "ingest-orders", cwd=project).stdout
    finally:
        with psycopg.connect(server.superuser("warehouse"), autocommit=True) as connection:
            connection.execute("UPDATE orders SET qty = qty - 100 WHERE id = 2")
