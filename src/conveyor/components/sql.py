"""``kind: sql``: a query run by an embedded engine, and ``query_frames`` for in-memory frames.

DuckDB runs the query over the declared ``tables`` (csv/parquet files, folders or globs,
registered as views) and, when ``database`` is a DuckDB file, over its tables (opened
read-only). The query can read no other file: the engine is sandboxed to the declared paths,
so every input is a DVC dependency of ingest and a changed input reruns it.

A SQLite ``database`` runs through Python's ``sqlite3`` module instead, read-only:
DuckDB reads SQLite through an extension that it downloads on first use, and stages run
offline. A SQLite query therefore cannot join ``tables``, and SQLite's loose typing applies
(dates come back as text). DuckDB runs single-threaded so that a query without ``ORDER BY``
returns its rows in the same order on every run; write ``ORDER BY`` anyway when order matters.

A query only reads, and creates or changes no file: ``compile`` refuses a statement that
writes (``_sql_guard.writing_statement``); at run time SQLite opens the database read-only
with an authorizer that allows nothing but reads of it, and DuckDB runs with external access
off, only the declared files allowed, and its configuration locked, so that no statement can
widen the sandbox, move its temp or log files, or load an extension. Every file (database,
table) must really be inside the project: a symlink that leads out is refused.

With ``postgres:`` the query runs on a PostgreSQL server instead (``_postgres.py``): the
connection string comes from the environment variable that ``dsn_env`` names, the query is
one ``SELECT ... ORDER BY`` run in a read-only transaction on the declared database, and
ingest records the query and the snapshot's hash beside it (``snapshot_record``). The
database is no DVC dependency: ``dvc repro -f ingest-<source>`` or ``refresh: always``
takes a new snapshot.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from conveyor.components._files import (
    WHERE,
    StrictParams,
    check_project_path,
    dependency,
    expand,
    is_glob,
    missing_path_error,
    refuse_outside,
)
from conveyor.components._postgres import PostgresParams, read_postgres
from conveyor.components._sql_engine import (
    READS_ONLY,
    checked_statements,
    engine_errors,
)
from conveyor.components._sql_guard import postgres_problem, writing_statement
from conveyor.errors import DataError
from conveyor.plugins.base import Source

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import duckdb
    import pandas as pd

    from conveyor.plugins.base import FrameScan

__all__ = ["SqlParams", "SqlSource", "checked_statements", "engine_errors", "query_frames"]

CSV_SUFFIXES = frozenset({".csv"})
PARQUET_SUFFIXES = frozenset({".parquet", ".parq", ".pq"})
SQLITE_SUFFIXES = frozenset({".sqlite", ".sqlite3", ".db"})
_SQLITE_MAGIC = b"SQLite format 3\x00"
_DUCKDB_MAGIC = b"DUCK"  # at byte 8 of a DuckDB database file
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SANDBOX = (
    "declare every file the query reads under params.tables (view name: path), so that DVC "
    "tracks it, and query the view by name"
)
# Offline and deterministic: never download an extension; one thread keeps row order stable.
_CONFIG: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "threads": 1,
}
# After the views are made: no file but the declared ones, and no SET can undo it.
_SANDBOX_SQL = ("SET enable_external_access = false", "SET lock_configuration = true")


class SqlParams(StrictParams):
    """A SQL query over project files and/or a database file."""

    query: str = Field(min_length=1)
    """The SQL; a single SELECT (or a script whose last statement is a SELECT)."""
    database: str | None = None
    """A DuckDB database file, or a SQLite one (``.sqlite``, ``.sqlite3``, ``.db``)."""
    tables: dict[str, str] = Field(default_factory=dict)
    """View name -> a csv/parquet file, folder or glob, e.g. ``{sales: data/sales/*.parquet}``."""
    postgres: PostgresParams | None = None
    """A PostgreSQL database instead of files: ``{dsn_env: WAREHOUSE_DSN, database: dw}``."""

    @field_validator("database")
    @classmethod
    def _database_inside_project(cls, value: str | None) -> str | None:
        return None if value is None else check_project_path(value, glob=False)

    @field_validator("tables")
    @classmethod
    def _tables_are_files(cls, value: dict[str, str]) -> dict[str, str]:
        checked = {}
        for name, path in value.items():
            if not _TABLE_NAME.fullmatch(name):
                msg = f"table name '{name}' is not a plain SQL identifier (letters, digits, _)"
                raise ValueError(msg)
            checked[name] = check_project_path(path)
            suffix = PurePosixPath(checked[name]).suffix
            if suffix and suffix not in CSV_SUFFIXES | PARQUET_SUFFIXES:
                msg = f"table '{name}': '{path}' is not a .csv or .parquet file"
                raise ValueError(msg)
        return checked

    @model_validator(mode="after")
    def _sqlite_reads_no_files(self) -> SqlParams:
        if self.tables and self.database and PurePosixPath(self.database).suffix in SQLITE_SUFFIXES:
            msg = (
                "a SQLite database cannot be joined with 'tables' (SQLite runs through Python's "
                "sqlite3); convert it to DuckDB, or read the files with a separate source"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _postgres_alone(self) -> SqlParams:
        if self.postgres is not None and (self.tables or self.database):
            msg = (
                "a PostgreSQL source reads its database only: remove 'tables' and 'database' "
                "(read files with another source and join them in data.combine)"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _reads_only(self) -> SqlParams:
        if self.postgres is not None:
            problem = postgres_problem(self.query)
            if problem is None:
                return self
            what, fix = problem
            error = PydanticCustomError("value_error", "{message}", {"message": what, "fix": fix})
            details = InitErrorDetails(type=error, loc=("query",), input=self.query)
            raise ValidationError.from_exception_data(type(self).__name__, [details])
        sqlite = self.database is not None and PurePosixPath(self.database).suffix in (
            SQLITE_SUFFIXES
        )
        statement = writing_statement(self.query, sqlite=sqlite)
        if statement is None:
            return self
        error = PydanticCustomError(
            "value_error",
            "{message}",
            {"message": f"the query writes ('{statement}' statement)", "fix": READS_ONLY},
        )
        details = InitErrorDetails(type=error, loc=("query",), input=self.query)
        raise ValidationError.from_exception_data(type(self).__name__, [details])


class SqlSource(Source[SqlParams]):
    """``kind: sql`` — ``params: {query: "SELECT * FROM sales", tables: {sales: data/s.csv}}``."""

    Params = SqlParams

    def read(self, root: Path) -> pd.DataFrame:
        """Run the query; a SQL error is a DataError that quotes the engine."""
        if self.params.postgres is not None:
            return read_postgres(self.params.postgres, self.params.query)
        database, sqlite = self._database(root)
        if database is not None and sqlite:
            from conveyor.components._sqlite import read_sqlite

            return read_sqlite(database, self.params.query)
        with self._duckdb(root, database) as connection:
            return _run_duckdb(
                connection, self.params.query, where=WHERE, root=root, sandbox=_SANDBOX
            )

    def scan(self, root: Path) -> FrameScan | None:
        """The query's rows in frames of ``read``'s dtypes, the query run twice (see below).

        DuckDB: ``_sql_engine.duckdb_frames``; SQLite: ``_sqlite.sqlite_frames``. The size is
        what the query reads, known before it runs: each Parquet table's uncompressed size
        (from the footers), each CSV table's file size, and a database's file size (for DuckDB
        at least 8 bytes a cell of its tables, from its catalog, as it stores them
        compressed). A query's result can be smaller (a filter) or larger (a join) than what it
        reads; a query that reads no file (``range()``) measures 0 and runs in memory.

        PostgreSQL: None. It is a snapshot source (``snapshot_record``), which ingest reads in
        memory to write the snapshot and its record as one set.
        """
        if self.params.postgres is not None:
            return None
        from conveyor.plugins.base import FrameScan

        query = self.params.query
        database, sqlite = self._database(root)
        if database is not None and sqlite:
            from conveyor.components._sqlite import sqlite_frames

            return FrameScan(
                database.stat().st_size, lambda rows: sqlite_frames(database, query, rows)
            )
        from conveyor.components._sql_engine import duckdb_frames

        size = self._input_bytes(root, database)

        def chunks(rows: int) -> Iterator[pd.DataFrame] | str:
            return duckdb_frames(
                lambda: self._duckdb(root, database), query, rows, sandbox=_SANDBOX, root=root
            )

        return FrameScan(size, chunks)

    def _database(self, root: Path) -> tuple[Path | None, bool]:
        """``params.database`` once checked, and whether it is SQLite; (None, False) without one.

        Checked: inside the project, present, and a DuckDB or SQLite file.
        """
        if self.params.database is None:
            return None, False
        refuse_outside(root, self.params.database, key="database")
        database = root / self.params.database
        if not database.is_file():
            raise missing_path_error(
                root, self.params.database, kind="sql database", key="database"
            )
        with database.open("rb") as stream:
            head = stream.read(16)
        if head.startswith(_SQLITE_MAGIC):
            if self.params.tables:
                raise DataError(
                    f"'{self.params.database}' is a SQLite database: it cannot be joined "
                    "with 'tables'",
                    where=WHERE,
                    fix="convert it to DuckDB, or read the files with a separate source",
                )
            return database, True
        if head[8:12] != _DUCKDB_MAGIC:
            raise DataError(
                f"'{self.params.database}' (params.database) is neither a DuckDB nor a "
                "SQLite database",
                where=WHERE,
                fix="point params.database at a .duckdb or .sqlite file",
            )
        return database, False

    @contextmanager
    def _duckdb(self, root: Path, database: Path | None) -> Iterator[duckdb.DuckDBPyConnection]:
        """The sandboxed connection the query runs on: one view per table, nothing else read."""
        import duckdb

        views = {name: _table_files(root, name, path) for name, path in self.params.tables.items()}
        target = str(database) if database else ":memory:"
        try:
            connection = duckdb.connect(target, read_only=database is not None, config=_CONFIG)
        except duckdb.Error as exc:
            raise DataError(
                f"cannot open '{self.params.database}' with DuckDB {duckdb.__version__}: {exc}",
                where=WHERE,
                fix="check that it is a DuckDB database written by this DuckDB version",
            ) from exc
        with connection:
            for name, (reader, files, hive) in views.items():
                listed = ", ".join(_literal(str(f)) for f in files)
                scan = f"{reader}([{listed}], union_by_name = true, hive_partitioning = {hive})"
                # The name is a checked identifier and the paths are quoted literals.
                view = f'CREATE TEMP VIEW "{name}" AS SELECT * FROM {scan}'  # noqa: S608
                connection.execute(view)
            allowed = ", ".join(_literal(str(f)) for _, files, _ in views.values() for f in files)
            connection.execute(f"SET allowed_paths = [{allowed}]")
            for statement in _SANDBOX_SQL:
                connection.execute(statement)
            yield connection

    def _input_bytes(self, root: Path, database: Path | None) -> int:
        """What the query reads, in bytes (see :meth:`scan`)."""
        from conveyor.components._parquet_scan import uncompressed_bytes

        total = 0
        for name, path in self.params.tables.items():
            reader, files, _ = _table_files(root, name, path)
            if reader == "read_parquet":
                total += uncompressed_bytes(files)
            else:
                total += sum(file.stat().st_size for file in files)
        if database is not None:
            with self._duckdb(root, database) as connection:
                ((cells,),) = connection.execute(
                    "SELECT coalesce(sum(estimated_size * column_count), 0) FROM duckdb_tables()"
                ).fetchall()
            total += max(database.stat().st_size, 8 * int(cells))
        return total

    def snapshot_record(self) -> dict[str, Any] | None:
        """For PostgreSQL: the query and database, recorded beside the snapshot."""
        postgres = self.params.postgres
        if postgres is None:
            return None
        return {
            "engine": "postgresql",
            "database": postgres.database,
            "dsn_env": postgres.dsn_env,
            "query": self.params.query,
            "refresh": postgres.refresh,
        }

    def always_changed(self) -> bool:
        """With ``postgres.refresh: always``, every ``dvc repro`` takes a new snapshot."""
        return self.params.postgres is not None and self.params.postgres.refresh == "always"

    def local_files(self) -> list[str]:
        """The database file and every table's file, folder, or glob folder prefix."""
        files = [self.params.database] if self.params.database else []
        return sorted({*files, *(dependency(p) for p in self.params.tables.values())})


def query_frames(query: str, frames: dict[str, pd.DataFrame], *, where: str) -> pd.DataFrame:
    """Run DuckDB SQL over in-memory frames, each queryable under its key in ``frames``.

    The query sees these frames only (no files). Rows come back in a stable order for the
    same inputs, but write ``ORDER BY`` when the order matters.

    Args:
        query: The SQL, e.g. ``SELECT * FROM sales JOIN stores USING (store)``.
        frames: Table name -> frame.
        where: The config path named in errors, e.g. ``data.combine.query``.

    Returns:
        The result as a frame with a fresh RangeIndex.

    Raises:
        DataError: the SQL is invalid or fails on these frames.
    """
    import duckdb

    with duckdb.connect(":memory:", config={**_CONFIG, "enable_external_access": False}) as con:
        for name, frame in frames.items():
            con.register(name, frame)
        con.execute("SET lock_configuration = true")
        sandbox = "query the frames by name; the SQL cannot read files"
        return _run_duckdb(con, query, where=where, sandbox=sandbox)


def _run_duckdb(
    connection: duckdb.DuckDBPyConnection,
    query: str,
    *,
    where: str,
    sandbox: str,
    root: Path | None = None,
) -> pd.DataFrame:
    """Run ``query`` on an open DuckDB connection; engine errors become a located DataError.

    ``sandbox`` is the fix shown when the query reads a file it may not; ``root`` is cut from
    the paths that the engine's messages quote.
    """
    with engine_errors(connection, where=where, sandbox=sandbox, root=root):
        checked_statements(query, where=where)
        frame: pd.DataFrame = connection.sql(query).df()
    return frame.reset_index(drop=True)


def _table_files(root: Path, name: str, path: str) -> tuple[str, list[Path], bool]:
    """The DuckDB reader for ``path``, its files (sorted), and whether to read hive keys.

    Hive keys (``year=2024/``) are read below a folder or glob only, never from the path of
    the project itself.
    """
    suffixes = CSV_SUFFIXES | PARQUET_SUFFIXES
    files, _ = expand(root, path, kind="sql table", suffixes=suffixes, key=f"tables.{name}")
    kinds = {f.suffix in CSV_SUFFIXES for f in files}
    if len(kinds) > 1 or any(f.suffix not in CSV_SUFFIXES | PARQUET_SUFFIXES for f in files):
        odd = sorted({f.suffix or f.name for f in files})
        raise DataError(
            f"sql table '{path}' (params.tables.{name}) mixes file types ({', '.join(odd)})",
            where=WHERE,
            fix="point each table at csv files only or parquet files only",
        )
    reader = "read_csv" if kinds == {True} else "read_parquet"
    return reader, files, is_glob(path) or (root / path).is_dir()


def _literal(text: str) -> str:
    escaped = text.replace("'", "''")
    return f"'{escaped}'"
