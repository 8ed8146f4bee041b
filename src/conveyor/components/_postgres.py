"""A PostgreSQL query as a snapshot: read-only, one statement, the declared database, stable types.

``kind: sql`` with ``params.postgres`` runs its query here, through psycopg 3 (the
``postgres`` extra). The connection string never appears in conf/ or params.yaml: ``dsn_env``
names the environment variable that holds it. Each run:

1. connects (``connect_timeout``) and opens a ``READ ONLY`` transaction, checked on the
   server (``transaction_read_only`` is ``on``), with a local ``statement_timeout``;
2. refuses a server whose ``current_database()`` is not ``postgres.database``;
3. runs the query as ``DECLARE ... CURSOR FOR <query>``: PostgreSQL then accepts exactly one
   ``SELECT``/``VALUES``/``TABLE`` statement, with no data-modifying ``WITH``; a function that
   writes (``nextval``, ...) fails in the read-only transaction;
4. fetches the rows in batches into Arrow columns typed from the columns' declared PostgreSQL
   types (:data:`_ARROW_TYPES`), so that the same rows always give the same snapshot bytes;
5. rolls back: nothing the query did can persist.

Every failure is a located ``DataError``: a missing variable, an unreachable server, refused
credentials, another database, a refused write, a timeout, an invalid query.
"""

from __future__ import annotations

import os
import re
from contextlib import closing
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from conveyor.components._files import WHERE, StrictParams
from conveyor.errors import DataError, PluginError
from conveyor.plugins.base import SNAPSHOT_SCHEMA

if TYPE_CHECKING:
    import pandas as pd
    import psycopg
    import pyarrow as pa

_ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_SECRET_KEYS = frozenset(
    {"dsn", "url", "uri", "conninfo", "connection", "connection_string", "password", "passwd"}
)
_KEEP_OUT = (
    "put the connection string in an environment variable and name it here, e.g. "
    "postgres: {dsn_env: WAREHOUSE_DSN, database: warehouse}; keep the password in "
    "~/.pgpass or PGPASSWORD. conf/ and params.yaml are committed: they never hold credentials"
)
_BATCH = 10_000
_CURSOR = "conveyor_snapshot"
_WHERE_PG = f"{WHERE}.params.postgres"
_READS_ONLY = (
    "a source query only reads: compute the rows with one SELECT, and give the role that the "
    "DSN names SELECT rights only"
)
_LOADERS = {"numeric": "float", "json": "text", "jsonb": "text", "uuid": "text"}
"""Columns loaded as another Python type: numeric as float, json and uuid as their text."""


class PostgresParams(StrictParams):
    """Where a ``sql`` source's PostgreSQL database is, and how its snapshot is taken."""

    dsn_env: str = Field(min_length=1)
    """The environment variable holding the connection string (libpq URI or key=value)."""
    database: str = Field(min_length=1)
    """The database the query must run in: the DSN's ``current_database()`` must equal it."""
    statement_timeout: float = Field(default=300.0, gt=0)
    """Seconds the query may run before the server cancels it."""
    connect_timeout: int = Field(default=10, ge=1)
    """Seconds to wait for the server to answer."""
    refresh: Literal["manual", "always"] = "manual"
    """``manual``: ``dvc repro`` reuses the snapshot until ``dvc repro -f ingest-<source>``;
    ``always``: the ingest stage is ``always_changed``, so every ``dvc repro`` queries again."""

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: Any) -> Any:  # noqa: ANN401 - raw YAML
        if isinstance(data, dict) and (keys := sorted(_SECRET_KEYS & set(data))):
            raise PydanticCustomError(
                "value_error",
                "{message}",
                {
                    "message": f"'{keys[0]}' would put a connection string or password in conf/",
                    "fix": f"remove '{keys[0]}': {_KEEP_OUT}",
                },
            )
        return data

    @field_validator("dsn_env")
    @classmethod
    def _names_a_variable(cls, value: str) -> str:
        if re.fullmatch(_ENV_NAME, value):
            return value
        if any(mark in value for mark in ("://", "=", "@")):  # never echo it: it may hold a secret
            raise PydanticCustomError(
                "value_error",
                "{message}",
                {
                    "message": "dsn_env holds a connection string, not the name of an "
                    "environment variable",
                    "fix": _KEEP_OUT,
                },
            )
        msg = f"'{value}' is not an environment variable name (letters, digits, _)"
        raise ValueError(msg)


def read_postgres(params: PostgresParams, query: str) -> pd.DataFrame:
    """Run ``query`` in a read-only transaction on the declared database; rows as a frame."""
    try:
        import psycopg  # noqa: F401 - the extra is installed
    except ImportError as exc:
        raise PluginError(
            f"a PostgreSQL source needs psycopg: {exc}",
            where=_WHERE_PG,
            fix="pip install 'conveyor-mlops[postgres]'",
        ) from exc
    with closing(_connect(params)) as connection:
        try:
            return _snapshot(connection, params, query)
        finally:
            if not connection.closed:
                connection.rollback()


def _connect(params: PostgresParams) -> psycopg.Connection[Any]:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    env = params.dsn_env
    dsn = os.environ.get(env, "").strip()
    if not dsn:
        raise DataError(
            f"the environment variable '{env}' is not set",
            where=f"{_WHERE_PG}.dsn_env",
            fix=f"export {env}='postgresql://USER@HOST:5432/{params.database}' before the stage "
            "runs (the password in ~/.pgpass or PGPASSWORD, never in conf/)",
        )
    try:
        conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        # Not chained, and libpq's words not quoted: they may repeat part of the password.
        raise DataError(
            f"'{env}' does not hold a valid PostgreSQL connection string",
            where=f"{_WHERE_PG}.dsn_env",
            fix="write it as postgresql://USER@HOST:PORT/DATABASE or 'host=... dbname=...' "
            "(percent-encode spaces and special characters in a URI)",
        ) from None
    try:
        connection: psycopg.Connection[Any] = psycopg.connect(
            dsn, connect_timeout=params.connect_timeout, application_name="conveyor"
        )
    except psycopg.OperationalError as exc:
        raise _connection_error(str(exc), params) from exc
    connection.read_only = True  # every transaction starts with BEGIN READ ONLY
    from psycopg.types.numeric import FloatLoader
    from psycopg.types.string import TextLoader

    for name, load_as in _LOADERS.items():
        connection.adapters.register_loader(name, FloatLoader if load_as == "float" else TextLoader)
    return connection


def _connection_error(message: str, params: PostgresParams) -> DataError:
    detail = message.strip().splitlines()[0] if message.strip() else "no answer"
    detail = detail.removeprefix("connection failed: ").replace("FATAL:  ", "")
    where = f"{_WHERE_PG}.dsn_env"
    env = params.dsn_env
    if "authentication failed" in message or "no password supplied" in message:
        return DataError(
            f"PostgreSQL refused the credentials in '{env}': {detail}",
            where=where,
            fix=f"check the user and password that '{env}' (or ~/.pgpass, PGPASSWORD) gives",
        )
    if "does not exist" in message:
        return DataError(
            f"PostgreSQL refused the connection in '{env}': {detail}",
            where=where,
            fix=f"point '{env}' at an existing role and the database '{params.database}'",
        )
    return DataError(
        f"cannot reach the PostgreSQL server that '{env}' names: {detail}",
        where=where,
        fix=f"start the server, or correct the host and port in '{env}' (waited "
        f"{params.connect_timeout}s: postgres.connect_timeout)",
    )


def _snapshot(
    connection: psycopg.Connection[Any], params: PostgresParams, query: str
) -> pd.DataFrame:
    import psycopg

    database, read_only = connection.execute(
        "SELECT current_database(), current_setting('transaction_read_only')"
    ).fetchone() or ("", "")
    if database != params.database:
        raise DataError(
            f"'{params.dsn_env}' connects to the database '{database}', but conf/ declares "
            f"'{params.database}'",
            where=f"{_WHERE_PG}.database",
            fix=f"point '{params.dsn_env}' at '{params.database}', or declare the database the "
            "query is meant for",
        )
    if read_only != "on":  # a pooler or proxy that ignored BEGIN READ ONLY: refuse to go on
        raise DataError(
            "the server did not open a read-only transaction",
            where=_WHERE_PG,
            fix="connect to PostgreSQL directly, not through a proxy that rewrites transactions",
        )
    milliseconds = max(1, round(params.statement_timeout * 1000))
    connection.execute("SELECT set_config('statement_timeout', %s, true)", [f"{milliseconds}ms"])
    try:
        with connection.cursor(name=_CURSOR) as cursor:
            cursor.execute(query)
            description = cursor.description or []
            names = [column.name for column in description]
            if len(set(names)) != len(names):
                twice = sorted({n for n in names if names.count(n) > 1})
                raise DataError(
                    f"the query returns the column name '{twice[0]}' more than once",
                    where=f"{WHERE}.params.query",
                    fix="give each column its own name with AS",
                )
            types = [_arrow_type(column.name, column.type_code) for column in description]
            batches = []
            while rows := cursor.fetchmany(_BATCH):
                batches.append(_batch(rows, names, types))
    except psycopg.Error as exc:
        raise _query_error(exc, params) from exc
    return _frame(batches, names, types)


def _query_error(exc: psycopg.Error, params: PostgresParams) -> DataError:
    primary = exc.diag.message_primary or str(exc).strip()
    state = exc.sqlstate or ""
    where = f"{WHERE}.params.query"
    if state == "25006" or (state == "0A000" and "data-modifying" in primary):
        return DataError(
            f"the query writes: PostgreSQL refused it in a read-only transaction ({primary})",
            where=where,
            fix=_READS_ONLY,
        )
    if state == "57014":
        return DataError(
            f"the query ran past postgres.statement_timeout ({params.statement_timeout:g}s) and "
            "the server cancelled it",
            where=where,
            fix="make the query cheaper (an index, fewer rows), or raise "
            "params.postgres.statement_timeout",
        )
    if "multiple commands" in primary:
        return DataError("the query holds several statements", where=where, fix="write one SELECT")
    return DataError(
        f"the SQL query failed in PostgreSQL ({state}): {primary}",
        where=where,
        fix="correct params.query (PostgreSQL dialect), and check that the role may read "
        "the tables it names",
    )


_ARROW_TYPES: dict[str, str] = {
    "bool": "bool",
    "int2": "int64",
    "int4": "int64",
    "int8": "int64",
    "oid": "int64",
    "float4": "float64",
    "float8": "float64",
    "numeric": "float64",
    "text": "string",
    "varchar": "string",
    "bpchar": "string",
    "name": "string",
    "char": "string",
    "uuid": "string",
    "json": "string",
    "jsonb": "string",
    "date": "date32",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
    "time": "time",
    "interval": "duration",
    "bytea": "binary",
}
"""PostgreSQL type -> the snapshot's column type. Numeric becomes float64 (cast to ::text in
the query to keep every digit); timestamptz is UTC; any other type is refused, with a cast."""


def _arrow_type(column: str, oid: int) -> pa.DataType:
    import pyarrow as pa
    from psycopg.postgres import types as registry

    info = registry.get(oid)  # an array's oid gives its element's info
    name = str(oid) if info is None else info.name if info.oid == oid else f"{info.name}[]"
    kind = _ARROW_TYPES.get(name)
    if kind is None:
        raise DataError(
            f"column '{column}' has the PostgreSQL type '{name}', which a snapshot does not map",
            where=f"{WHERE}.params.query",
            fix=f"cast it in the query, e.g. {column}::text, or to one of: "
            f"{', '.join(sorted(_ARROW_TYPES))}",
        )
    special = {
        "timestamp": pa.timestamp("us"),
        "timestamptz": pa.timestamp("us", tz="UTC"),
        "time": pa.time64("us"),
        "duration": pa.duration("us"),
        "date32": pa.date32(),
        "binary": pa.binary(),
        "string": pa.string(),
    }
    return special.get(kind) or pa.type_for_alias(kind)


def _batch(rows: list[tuple[Any, ...]], names: list[str], types: list[pa.DataType]) -> pa.Table:
    import pyarrow as pa

    columns = []
    for i, name in enumerate(names):
        try:
            columns.append(pa.array([row[i] for row in rows], type=types[i], from_pandas=False))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(
                f"column '{name}' holds a value the snapshot cannot store as {types[i]}: {exc}",
                where=f"{WHERE}.params.query",
                fix=f"cast it in the query, e.g. {name}::text",
            ) from exc
    return pa.Table.from_arrays(columns, schema=_schema(names, types))


def _schema(names: list[str], types: list[pa.DataType]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([pa.field(name, kind) for name, kind in zip(names, types, strict=True)])


def _frame(batches: list[pa.Table], names: list[str], types: list[pa.DataType]) -> pd.DataFrame:
    import pyarrow as pa

    table = pa.concat_tables(batches) if batches else _schema(names, types).empty_table()
    frame: pd.DataFrame = table.to_pandas()
    frame.attrs[SNAPSHOT_SCHEMA] = table.schema  # the snapshot keeps the declared types
    return frame
