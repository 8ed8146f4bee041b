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
from contextlib import closing, contextmanager
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
from conveyor.components._sql_guard import (
    ReadOnlyAuthorizer,
    postgres_problem,
    writing_statement,
)
from conveyor.errors import DataError
from conveyor.plugins.base import Source

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import duckdb
    import pandas as pd

CSV_SUFFIXES = frozenset({".csv"})
PARQUET_SUFFIXES = frozenset({".parquet", ".parq", ".pq"})
SQLITE_SUFFIXES = frozenset({".sqlite", ".sqlite3", ".db"})
_SQLITE_MAGIC = b"SQLite format 3\x00"
_DUCKDB_MAGIC = b"DUCK"  # at byte 8 of a DuckDB database file
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_END_WITH_SELECT = "end the query with a SELECT"
_ROW_STATEMENTS = frozenset({"SELECT", "MULTI"})  # MULTI: PIVOT, which DuckDB expands
_READ_STATEMENTS = _ROW_STATEMENTS | {"CREATE", "EXPLAIN"}  # CREATE: in memory only
_READS_ONLY = (
    "a source query only reads: remove the statement, and compute the rows with SELECT "
    "(a DuckDB query may first CREATE temporary tables or views)"
)
_SUGGESTION = re.compile(r'\s*Did you mean "([^"]+)"\?')
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
            {"message": f"the query writes ('{statement}' statement)", "fix": _READS_ONLY},
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
        database = None
        if self.params.database is not None:
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
                return _read_sqlite(database, self.params.query)
            if head[8:12] != _DUCKDB_MAGIC:
                raise DataError(
                    f"'{self.params.database}' (params.database) is neither a DuckDB nor a "
                    "SQLite database",
                    where=WHERE,
                    fix="point params.database at a .duckdb or .sqlite file",
                )
        return self._read_duckdb(root, database)

    def _read_duckdb(self, root: Path, database: Path | None) -> pd.DataFrame:
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
            return _run_duckdb(
                connection, self.params.query, where=WHERE, root=root, sandbox=_SANDBOX
            )

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


def checked_statements(query: str, *, where: str) -> list[str]:
    """The statements of ``query`` (DuckDB's parser), refused unless each one only reads.

    What compile checks, now with DuckDB's own parser: no statement may write or change the
    engine, and the last one must return rows. Call it inside :func:`engine_errors`, which
    turns a parse error into a located DataError.

    Raises:
        DataError: a statement writes, or the last one returns no rows.
    """
    import duckdb

    statements = duckdb.extract_statements(query)
    for statement in statements:
        name = writing_statement(statement.query, sqlite=False)
        if name is None and statement.type.name not in _READ_STATEMENTS:
            name = statement.type.name
        if name is not None:
            raise DataError(f"the query writes ('{name}' statement)", where=where, fix=_READS_ONLY)
    last = statements[-1].type.name if statements else None
    if last not in _ROW_STATEMENTS:
        what = f"ends with {last} statement" if last else "holds no statement"
        raise DataError(
            f"the query {what}, which returns no rows", where=where, fix=_END_WITH_SELECT
        )
    return [statement.query for statement in statements]


@contextmanager
def engine_errors(
    connection: duckdb.DuckDBPyConnection,
    *,
    where: str,
    sandbox: str,
    root: Path | None = None,
) -> Iterator[None]:
    """Turn DuckDB's errors inside the block into located DataErrors naming ``where``.

    A refused file read is the ``sandbox`` fix; a locked setting is a write; any other engine
    error quotes DuckDB and lists the tables the query can use.
    """
    import duckdb

    try:
        yield
    except duckdb.PermissionException as exc:
        raise DataError(
            f"the query reads or writes a file it may not: {_engine_message(exc, root)}",
            where=where,
            fix=sandbox,
        ) from exc
    except duckdb.Error as exc:
        if "configuration has been locked" in str(exc):
            raise DataError(
                f"the query writes or changes the engine's settings: {_engine_message(exc, root)}",
                where=where,
                fix=_READS_ONLY,
            ) from exc
        rows = connection.execute(
            "SELECT DISTINCT table_name FROM information_schema.tables "
            "WHERE table_name NOT LIKE '\\_\\_conveyor%' ESCAPE '\\' ORDER BY 1"
        ).fetchall()
        names = [name for (name,) in rows]
        message = _engine_message(exc, root)
        # DuckDB may suggest one of its own catalog tables (pg_class); keep only real ones.
        suggestion = _SUGGESTION.search(message)
        if suggestion and suggestion.group(1) not in names:
            message = message[: suggestion.start()]
        raise DataError(
            f"the SQL query failed: {message}",
            where=where,
            fix=f"correct the query; the tables it can use are: {', '.join(names) or '(none)'}",
        ) from exc


def _read_sqlite(database: Path, query: str) -> pd.DataFrame:
    import sqlite3

    import pandas as pd

    uri = f"{database.resolve().as_uri()}?mode=ro"
    authorizer = ReadOnlyAuthorizer()
    with closing(sqlite3.connect(uri, uri=True)) as connection:
        if hasattr(connection, "enable_load_extension"):  # absent when SQLite lacks it
            connection.enable_load_extension(False)
        connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        connection.set_authorizer(authorizer)
        try:
            # What pandas.read_sql_query does, minus its TypeError on a query with no rows.
            cursor = connection.execute(query)
            if cursor.description is None:
                raise DataError(
                    "the query returns no rows: it is not a SELECT",
                    where=WHERE,
                    fix=_END_WITH_SELECT,
                )
            columns = [column[0] for column in cursor.description]
            return pd.DataFrame.from_records(cursor.fetchall(), columns=columns, coerce_float=True)
        except sqlite3.Error as exc:
            if authorizer.refused:
                raise DataError(
                    "the query writes or leaves the declared database: SQLite refused "
                    f"{authorizer.refused[0]}",
                    where=WHERE,
                    fix=f"{_READS_ONLY}; a SQLite query reads the tables of params.database",
                ) from exc
            rows = connection.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
            ).fetchall()
            names = ", ".join(name for (name,) in rows) or "(none)"
            raise DataError(
                f"the SQL query failed in SQLite: {exc}",
                where=WHERE,
                fix=f"correct params.query (SQLite dialect); its tables are: {names}",
            ) from exc


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


def _engine_message(exc: Exception, root: Path | None) -> str:
    message = str(exc).strip()
    return message.replace(f"{root}/", "") if root is not None else message
