"""``kind: sql`` over a SQLite database: read-only through Python's ``sqlite3``, whole or in frames.

:func:`read_sqlite` is what ``pandas.read_sql_query`` does: every row fetched, then
``DataFrame.from_records``, which decides each column's dtype from all of its values (integers
are ``int64``, or ``float64`` with a null or a float among them; text is ``str``; a column of
nulls only is ``object``). SQLite types each value, not each column (type affinity), so those
values can be of any type in any row.

:func:`sqlite_frames` is ``SqlSource.scan``'s stream, which ingest uses above the memory
budget. A first pass runs the query and notes which Python types each column's values have
(with one value of each); ``from_records`` decides a dtype from those types alone. The second
pass runs the query again and converts each batch of rows with those sample values in front
(then dropped), so every batch gets the dtype of the whole column, value for value. A column
whose values are of several types other than integers beside floats (text beside integers:
SQLite's affinity allows it) is a column pandas keeps as Python objects of several types, which
Parquet cannot store: the source is then read whole, and ingest says why (and fails as in
memory).
"""

from __future__ import annotations

from contextlib import closing, contextmanager
from typing import TYPE_CHECKING, Any

from conveyor.components._csv_stream import one_chunk_text
from conveyor.components._files import WHERE
from conveyor.components._sql_engine import END_WITH_SELECT, READS_ONLY
from conveyor.components._sql_guard import ReadOnlyAuthorizer
from conveyor.errors import DataError

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator
    from pathlib import Path

    import pandas as pd

_FETCH = 8192
"""Rows fetched at a time in the first pass."""
_KINDS = {int: "integer", float: "real", str: "text", bytes: "blob"}
_ONE_TYPE = ({int, float}, {str}, {bytes})
"""Sets of value types a column may hold (besides nulls) and keep one type in pandas."""


def read_sqlite(database: Path, query: str) -> pd.DataFrame:
    """Every row of ``query`` on ``database`` as one frame, as ``pandas.read_sql_query`` reads.

    Raises:
        DataError: the query is no SELECT, writes, or fails (the error names the tables).
    """
    import pandas as pd

    with _session(database) as (connection, authorizer), _errors(connection, authorizer):
        cursor, columns = _run(connection, query)
        # What pandas.read_sql_query does, minus its TypeError on a query with no rows.
        return pd.DataFrame.from_records(cursor.fetchall(), columns=columns, coerce_float=True)


def sqlite_frames(database: Path, query: str, rows: int) -> Iterator[pd.DataFrame] | str:
    """``query``'s rows in frames of ``rows`` rows with ``read_sqlite``'s dtypes; or why not.

    The first pass runs here, so a failing query raises ``read_sqlite``'s error before any
    frame is made.

    Raises:
        DataError: as :func:`read_sqlite`.
    """
    with _session(database) as (connection, authorizer), _errors(connection, authorizer):
        cursor, columns = _run(connection, query)
        seen: list[dict[type, Any]] = [{} for _ in columns]
        while batch := cursor.fetchmany(_FETCH):
            for values, found in zip(zip(*batch, strict=True), seen, strict=True):
                for kind in set(map(type, values)) - found.keys():
                    found[kind] = next(v for v in values if type(v) is kind)
    for name, found in zip(columns, seen, strict=True):
        kinds = found.keys() - {type(None)}
        if kinds and not any(kinds <= allowed for allowed in _ONE_TYPE):
            listed = " and ".join(sorted(_KINDS.get(k, k.__name__) for k in kinds))
            return (
                f"column '{name}' holds {listed} values (SQLite types each value, not each "
                "column), which pandas keeps as Python objects of several types"
            )
    width = max((len(found) for found in seen), default=0)
    samples = [list(found.values()) or [None] for found in seen]
    lead = [tuple(values[min(i, len(values) - 1)] for values in samples) for i in range(width)]
    return _frames(database, query, columns, lead, rows)


def _frames(
    database: Path, query: str, columns: list[str], lead: list[tuple[Any, ...]], rows: int
) -> Iterator[pd.DataFrame]:
    """The second pass: each batch converted behind ``lead`` (the sample rows), then cut off."""
    import pandas as pd

    with _session(database) as (connection, authorizer), _errors(connection, authorizer):
        cursor, _ = _run(connection, query)
        while batch := cursor.fetchmany(rows):
            frame = pd.DataFrame.from_records(lead + batch, columns=columns, coerce_float=True)
            yield one_chunk_text(frame.iloc[len(lead) :].reset_index(drop=True))


@contextmanager
def _session(database: Path) -> Iterator[tuple[sqlite3.Connection, ReadOnlyAuthorizer]]:
    """``database`` opened read-only, with no extension, no ATTACH and the authorizer."""
    import sqlite3

    uri = f"{database.resolve().as_uri()}?mode=ro"
    authorizer = ReadOnlyAuthorizer()
    with closing(sqlite3.connect(uri, uri=True)) as connection:
        if hasattr(connection, "enable_load_extension"):  # absent when SQLite lacks it
            connection.enable_load_extension(False)
        connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        connection.set_authorizer(authorizer)
        yield connection, authorizer


def _run(connection: sqlite3.Connection, query: str) -> tuple[sqlite3.Cursor, list[str]]:
    """The cursor of ``query`` and its column names; a DataError for a statement with no rows."""
    cursor = connection.execute(query)
    if cursor.description is None:
        raise DataError(
            "the query returns no rows: it is not a SELECT", where=WHERE, fix=END_WITH_SELECT
        )
    return cursor, [column[0] for column in cursor.description]


@contextmanager
def _errors(connection: sqlite3.Connection, authorizer: ReadOnlyAuthorizer) -> Iterator[None]:
    """SQLite's errors inside the block as located DataErrors (a refused action: a write)."""
    import sqlite3

    try:
        yield
    except sqlite3.Error as exc:
        if authorizer.refused:
            raise DataError(
                "the query writes or leaves the declared database: SQLite refused "
                f"{authorizer.refused[0]}",
                where=WHERE,
                fix=f"{READS_ONLY}; a SQLite query reads the tables of params.database",
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
