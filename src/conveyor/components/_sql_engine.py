"""DuckDB for ``kind: sql``: the statement check, the engine's errors, and its rows in chunks.

:func:`checked_statements` and :func:`engine_errors` are the guard that ``sql.py`` (and
``combine``'s SQL) run every DuckDB query inside. :func:`duckdb_frames` is ``SqlSource.scan``'s
stream, which ingest uses above the memory budget: the query's rows in frames of ``read``'s
dtypes, never the whole result in pandas.

It runs the query twice on the engine ``read`` uses (the same sandboxed connection: one
thread, the same settings, so the same plan and the same row order). The first pass
aggregates the rows (a temporary view on the query's last statement, under a materialized
CTE): each column's null count and one of its values. ``.df()`` picks a column's dtype from
its nulls (an integer column is ``Int64`` with a null and ``int64`` without, a boolean one
``boolean`` or ``bool``, text that is all null ``object``), so two rows through DuckDB's own
conversion (a value of each column, null only where every value is, and a null wherever the
result holds one) give each column's dtype in ``.df()`` of the whole result. Should that
pass fail, the query's last statement runs plainly, so that a failing query raises its own
error quoting its own text (and one that does not fail is read in memory, saying why). The
second pass runs the last statement again, streaming (``fetch_df_chunk``: DuckDB's
conversion of up to 16 vectors, 32,768 rows, at a time), gives every chunk those dtypes and
cuts the rows into frames of the size asked for, each text column one Arrow chunk as in
``read``. DuckDB holds what the query needs (a sort, a join's hash table, a Parquet row group
being read) as it does in memory; what is no longer held is the result as one pandas frame.
"""

from __future__ import annotations

import re
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from conveyor.components._files import WHERE
from conveyor.components._frames import rechunked
from conveyor.components._sql_guard import writing_statement
from conveyor.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path

    import duckdb
    import pandas as pd

END_WITH_SELECT = "end the query with a SELECT"
READS_ONLY = (
    "a source query only reads: remove the statement, and compute the rows with SELECT "
    "(a DuckDB query may first CREATE temporary tables or views)"
)
_ROW_STATEMENTS = frozenset({"SELECT", "MULTI"})  # MULTI: PIVOT, which DuckDB expands
_READ_STATEMENTS = _ROW_STATEMENTS | {"CREATE", "EXPLAIN"}  # CREATE: in memory only
_SUGGESTION = re.compile(r'\s*Did you mean "([^"]+)"\?')
_ROWS = "__conveyor_rows"
"""The view on the query's rows that the first pass aggregates (hidden from error messages)."""
_VECTOR = 2048
"""Rows in a DuckDB vector; ``fetch_df_chunk`` fetches whole vectors."""
_FETCH = 16 * _VECTOR
"""Rows converted at a time at most: DuckDB's conversion of a whole 250,000-row group held
about 110 MiB more at its peak (2M rows of 14 columns), and one vector at a time was slower."""


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
            raise DataError(f"the query writes ('{name}' statement)", where=where, fix=READS_ONLY)
    last = statements[-1].type.name if statements else None
    if last not in _ROW_STATEMENTS:
        what = f"ends with {last} statement" if last else "holds no statement"
        raise DataError(
            f"the query {what}, which returns no rows", where=where, fix=END_WITH_SELECT
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
                fix=READS_ONLY,
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


def duckdb_frames(
    connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    query: str,
    rows: int,
    *,
    sandbox: str,
    root: Path,
) -> Iterator[pd.DataFrame] | str:
    """``query``'s rows in frames of ``rows`` rows with ``.df()``'s dtypes; or why they cannot be.

    ``connect`` opens the sandboxed connection ``read`` runs the query on. The first pass runs
    here, so a failing query raises ``read``'s error before any frame is made.

    Raises:
        DataError: as ``read``: the query writes, fails, or reads a file it may not.
    """
    import duckdb

    stack = ExitStack()
    try:
        connection = stack.enter_context(connect())
        with engine_errors(connection, where=WHERE, sandbox=sandbox, root=root):
            statements = checked_statements(query, where=WHERE)
            relation = connection.sql(query)  # runs the statements before the last
            names = [str(name) for name in relation.columns]
            folded = [name.lower() for name in names]
            twice = next((n for n, f in zip(names, folded, strict=True) if folded.count(f) > 1), "")
            if twice:
                stack.close()
                return f"the query returns more than one column named '{twice}'"
            try:
                connection.execute(f"CREATE TEMP VIEW {_ROWS} AS {statements[-1]}")
                dtypes = _whole_dtypes(connection, names)
            except duckdb.Error as exc:  # the query's own error, with its text; or ours
                _drain(connection, statements[-1])
                stack.close()
                return f"DuckDB cannot sample the result's columns: {str(exc).splitlines()[0]}"
        errors = engine_errors(connection, where=WHERE, sandbox=sandbox, root=root)
        return _frames(stack, errors, connection, statements[-1], dtypes, rows)
    except BaseException:
        stack.close()
        raise


def _whole_dtypes(connection: duckdb.DuckDBPyConnection, names: list[str]) -> list[Any]:
    """Each column's dtype in ``.df()`` of the whole result, decided by its nulls (see above).

    One run of the query (a materialized CTE): each column's null count and one of its values;
    the two sample rows made from them go through DuckDB's own conversion.
    """
    quoted = [_quoted(name) for name in names]
    facts = ", ".join(
        f"count(*) - count({q}) AS n{i}, any_value({q}) AS v{i}" for i, q in enumerate(quoted)
    )
    first = ", ".join(f"v{i} AS {q}" for i, q in enumerate(quoted))
    second = ", ".join(
        f"CASE WHEN n{i} > 0 THEN NULL ELSE v{i} END AS {q}" for i, q in enumerate(quoted)
    )
    sample = connection.sql(
        f"WITH facts AS MATERIALIZED (SELECT {facts} FROM {_ROWS}) "  # noqa: S608
        f"SELECT {first} FROM facts UNION ALL SELECT {second} FROM facts"
    )
    return list(sample.df().dtypes)


def _drain(connection: duckdb.DuckDBPyConnection, statement: str) -> None:
    """Run ``statement`` through to its last row, for its own error (with its own text)."""
    import duckdb

    result = connection.execute(statement)
    try:
        while len(result.fetch_df_chunk(16)):
            pass
    except duckdb.Error:
        connection.abort()
        raise


def _frames(
    stack: ExitStack,
    errors: AbstractContextManager[None],
    connection: duckdb.DuckDBPyConnection,
    statement: str,
    dtypes: list[Any],
    rows: int,
) -> Iterator[pd.DataFrame]:
    """The second pass: DuckDB's chunks in the whole result's dtypes, cut into ``rows`` rows."""
    with stack, errors:
        yield from rechunked(_chunks(connection, statement, dtypes, rows), rows)


def _chunks(
    connection: duckdb.DuckDBPyConnection, statement: str, dtypes: list[Any], rows: int
) -> Iterator[pd.DataFrame]:
    """DuckDB's conversion of about ``rows`` rows at a time, each column in its whole dtype.

    ``statement`` (the query's last) streams; an engine error drops its unfinished result, so
    that the connection can answer which tables there are.
    """
    import duckdb

    result = connection.execute(statement)
    try:
        while len(chunk := result.fetch_df_chunk(max(1, min(rows, _FETCH) // _VECTOR))):
            for index, dtype in enumerate(dtypes):
                if chunk.dtypes.iloc[index] != dtype:
                    chunk.isetitem(index, chunk.iloc[:, index].astype(dtype).array)
            yield chunk
    except duckdb.Error:
        connection.abort()
        raise


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _engine_message(exc: Exception, root: Path | None) -> str:
    message = str(exc).strip()
    return message.replace(f"{root}/", "") if root is not None else message
