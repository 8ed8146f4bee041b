"""``combine.sql`` out of core: the user's query in DuckDB over the Parquet files, same bytes.

In memory, ``combine`` reads every source into pandas, registers the frames with DuckDB (one
thread) and writes ``.df()`` of the query. Out of core the query runs over views on the raw
Parquet files instead, with the memory limit and spill folder of ``outofcore.duckdb_session``,
into a temporary table that DuckDB spills as it needs; that table is then read back a chunk at
a time through DuckDB's own conversion to pandas and written as ``frames.write_parquet``
writes the whole frame. Each difference between the two paths is closed, or the query runs in
memory and the stage prints why (:class:`_InMemory`):

- types: each view gives every column the type DuckDB gives the pandas frame (a categorical
  is an ENUM of the whole file's categories, in pandas' order); a column whose types differ
  otherwise (a timedelta: INTERVAL from pandas, BIGINT from the file) sends the query to
  memory. The pandas type is DuckDB's for the frame of the file's first 2,048 rows. ``.df()``
  picks a chunk's dtype from its nulls (``Int64`` or ``int64``, ``boolean`` or ``bool``,
  ``object`` for text that is all null); every chunk takes the whole result's.
- row order: a query's order is the engine's unless it is fixed. It is fixed when every
  operator keeps its input's order (scans, filters, projections, ``VALUES``, ``LIMIT`` and
  ``OVER ()`` windows over those: ``preserve_insertion_order``, any number of threads), when
  it returns one row (an aggregate without ``GROUP BY``), or when the query ends in ``ORDER
  BY`` over result columns that no two different rows share (checked on the result). Joins,
  ``GROUP BY``, ``DISTINCT`` and set operations need that ``ORDER BY`` or run in memory;
  ``ORDER BY ... LIMIT``, windows over partitions or an order, and a script whose earlier
  statements create a table (not a view, macro or type) always run in memory.
- values: aggregates run out of core only when their result does not depend on the order in
  which rows arrive: ``count``, ``min``, ``max``, ``sum`` and ``avg`` (exact over integers and
  decimals), ``bool_and``/``bool_or``; a ``sum`` or ``avg`` over a source holding a
  floating-point column, ``string_agg``, ``list``, ``first`` and the like run in memory.

The SQL guard is the in-memory one (``sql.checked_statements``): a statement that writes is
refused before anything runs, and the engine reads nothing but the sources' files
(``enable_external_access`` off, ``allowed_paths`` the sources, the configuration locked).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from conveyor import _atomic
from conveyor.components.sql import checked_statements, engine_errors
from conveyor.errors import DataError
from conveyor.runtime import outofcore
from conveyor.runtime.outofcore import duckdb_session, quote_name, quote_text
from conveyor.runtime.stages._combine_sql_order import _InMemory, order_problem

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    import duckdb
    import pandas as pd
    import pyarrow.parquet as pq

WHERE = "data.combine.sql"
_SANDBOX = (
    "query the sources by name (each is a table named after it); the SQL cannot read other files"
)
_RESULT = "__conveyor_result"
_SAFE_CREATE = re.compile(
    r"\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP\s+|TEMPORARY\s+)?(?:VIEW|MACRO|FUNCTION|TYPE)\b",
    re.IGNORECASE,
)


def query_files_or_why(
    files: Mapping[str, Path], query: str, output: Path, *, budget: int
) -> str | None:
    """:func:`query_files`; or, when the query must run in memory instead, why (nothing written).

    Raises:
        DataError: as :func:`query_files`.
    """
    try:
        query_files(files, query, output, budget=budget)
    except _InMemory as reason:
        return str(reason)
    return None


def query_files(files: Mapping[str, Path], query: str, output: Path, *, budget: int) -> int:
    """Run ``query`` over ``files`` (source name -> Parquet) into ``output``; the rows written.

    Raises:
        _InMemory: the result could differ from the in-memory path's; nothing is written.
        DataError: the query writes, reads another file, fails, or gives no rows; as in memory,
            nothing is written.
    """
    with duckdb_session(budget, output) as (con, _scratch):
        con.execute("SET preserve_insertion_order = true")
        floats: set[str] = set()
        for name, path in files.items():
            floats |= _create_view(con, name, path)
        allowed = ", ".join(quote_text(str(path)) for path in files.values())
        con.execute(f"SET allowed_paths = [{allowed}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        with engine_errors(con, where=WHERE, sandbox=_SANDBOX):
            statements = checked_statements(query, where=WHERE)
            for statement in statements[:-1]:
                if not _SAFE_CREATE.match(statement):
                    raise _InMemory(
                        "a statement before the last materializes rows (only CREATE VIEW, "
                        "MACRO and TYPE keep the order decidable)"
                    )
                con.execute(statement)
            relation = con.sql(statements[-1])
            names, types = list(relation.columns), [str(t) for t in relation.types]
            keys = order_problem(con, statements[-1], names, floats)
            relation.to_table(_RESULT)
        stored = con.sql(f"SELECT * FROM {_RESULT}")  # noqa: S608
        if list(stored.columns) != names or [str(t) for t in stored.types] != types:
            raise _InMemory(
                f"DuckDB stores the result's columns as {[str(t) for t in stored.types]} "
                f"({list(stored.columns)}), not as the query returns them ({types}, {names})"
            )
        if keys and set(keys) != set(names):  # sorted on every column: equal keys, equal rows
            _refuse_ties(con, keys)
        ((rows,),) = con.execute(f"SELECT count(*) FROM {_RESULT}").fetchall()  # noqa: S608
        if rows == 0:
            raise DataError(
                "combining the sources gave no rows",
                where="data.combine",
                fix="check the join keys and 'how' (an inner join of disjoint keys is empty), "
                "or the query's WHERE clause",
            )
        dtypes = _whole_dtypes(con, names)
        with _atomic.atomic_path(output) as tmp:
            written = _write(con.execute(f"SELECT * FROM {_RESULT}"), dtypes, tmp)  # noqa: S608
    return written


def _create_view(con: duckdb.DuckDBPyConnection, name: str, path: Path) -> set[str]:
    """A view on ``path`` whose columns have the types DuckDB gives the pandas frame of it.

    Returns the names of its floating-point columns.
    """
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    schema = file.schema_arrow
    scan = f"read_parquet({quote_text(str(path))})"
    described = con.sql(f"SELECT * FROM {scan}")  # noqa: S608
    on_disk = {n: str(t) for n, t in zip(described.columns, described.types, strict=True)}
    first = next(file.iter_batches(batch_size=2048, use_threads=False), None)
    sample = schema.empty_table() if first is None else pa.Table.from_batches([first], schema)
    offline = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    with duckdb.connect(":memory:", config={**offline, "threads": 1}) as probe:
        probe.register("sample", sample.to_pandas())
        in_memory = {row[0]: row[1] for row in probe.execute("DESCRIBE sample").fetchall()}
    columns: list[str] = []
    for field in schema:
        column = quote_name(field.name)
        wanted = in_memory[field.name]
        if pa.types.is_dictionary(field.type) and wanted.startswith("ENUM("):
            categories = _categories(file, field.name)
            if not all(isinstance(c, str) for c in categories):
                raise _InMemory(f"source '{name}' column '{field.name}' has non-text categories")
            kind = f"__conveyor_enum_{name}_{len(columns)}"
            listed = ", ".join(quote_text(c) for c in categories)
            con.execute(f"CREATE TYPE {quote_name(kind)} AS ENUM ({listed})")
            columns.append(f"CAST({column} AS {quote_name(kind)}) AS {column}")
        elif wanted != on_disk[field.name]:
            raise _InMemory(
                f"source '{name}' column '{field.name}' is {on_disk[field.name]} in the file "
                f"but {wanted} in pandas"
            )
        else:
            columns.append(column)
    con.execute(
        f"CREATE VIEW {quote_name(name)} AS SELECT {', '.join(columns)} FROM {scan}"  # noqa: S608
    )
    return {n for n, t in on_disk.items() if t in {"FLOAT", "DOUBLE"}}


def _categories(file: pq.ParquetFile, column: str) -> list[Any]:
    """The categories pandas gives ``column``: each row group's dictionary, in first-seen order."""
    seen: dict[Any, None] = {}
    for group in range(file.num_row_groups):
        chunk = file.read_row_group(group, columns=[column]).column(0)
        for part in chunk.chunks:
            seen.update(dict.fromkeys(part.dictionary.to_pylist()))
    return list(seen)


def _refuse_ties(con: duckdb.DuckDBPyConnection, keys: list[str]) -> None:
    """_InMemory when two different rows share the ORDER BY keys: their order is the engine's."""
    listed = ", ".join(quote_name(k) for k in keys)
    tie = con.execute(
        f"SELECT {listed} FROM (SELECT DISTINCT * FROM {_RESULT}) "  # noqa: S608
        f"GROUP BY ALL HAVING count(*) > 1 LIMIT 1"
    ).fetchall()
    if tie:
        raise _InMemory(
            f"different rows share the ORDER BY keys ({dict(zip(keys, tie[0], strict=True))}); "
            "their order is the engine's"
        )


def _whole_dtypes(con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, Any]:
    """Each column's dtype in ``.df()`` of the whole result, decided by its nulls.

    DuckDB picks a chunk's dtype from its values: ``Int64`` or ``int64`` as an integer column
    holds a null or not, ``object`` for text that is all null. Two rows through its own
    conversion decide it for the whole result: a value of each column (null only where every
    value is), and a null wherever the result holds one.
    """
    counts = ", ".join(f"count(*) - count({quote_name(n)})" for n in names)
    (nulls,) = con.execute(f"SELECT {counts} FROM {_RESULT}").fetchall()  # noqa: S608
    values = ", ".join(f"any_value({quote_name(n)}) AS {quote_name(n)}" for n in names)
    first = f"(SELECT {values} FROM {_RESULT})"  # noqa: S608
    second = ", ".join(
        f"CASE WHEN false THEN {quote_name(n)} END AS {quote_name(n)}" if count else quote_name(n)
        for n, count in zip(names, nulls, strict=True)
    )
    frame = con.sql(f"FROM {first} UNION ALL SELECT {second} FROM {first}").df()  # noqa: S608
    return dict(zip(names, frame.dtypes, strict=True))


def _write(result: duckdb.DuckDBPyConnection, dtypes: dict[str, Any], target: Path) -> int:
    """Write ``result``'s rows to ``target`` as ``frames.write_parquet`` writes the whole frame."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    group = outofcore.ROW_GROUP
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    rows = 0
    try:
        for chunk in _row_groups(result, dtypes, group):
            table = pa.Table.from_pandas(chunk, schema=schema, preserve_index=False)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(target, schema)
            writer.write_table(table)
            rows += len(chunk)
    finally:
        if writer is not None:
            writer.close()
    return rows


def _row_groups(
    result: duckdb.DuckDBPyConnection, dtypes: dict[str, Any], size: int
) -> Iterator[pd.DataFrame]:
    """``result``'s rows as frames of exactly ``size`` rows (the last fewer), whole-frame dtypes."""
    import pandas as pd

    pending: list[pd.DataFrame] = []
    count = 0
    while True:
        chunk = result.fetch_df_chunk(max(1, size // 2048))
        if chunk.empty:
            break
        for name, dtype in dtypes.items():
            if chunk[name].dtype != dtype:
                chunk[name] = chunk[name].astype(dtype)
        pending.append(chunk)
        count += len(chunk)
        while count >= size:
            frame = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
            yield frame.iloc[:size]
            rest = frame.iloc[size:].reset_index(drop=True)
            pending, count = ([rest] if len(rest) else []), len(rest)
    if count:
        yield pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
