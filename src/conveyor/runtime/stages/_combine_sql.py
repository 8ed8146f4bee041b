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

import json
import re
from typing import TYPE_CHECKING, Any

from conveyor import _atomic
from conveyor.components.sql import checked_statements, engine_errors
from conveyor.errors import DataError
from conveyor.runtime import outofcore
from conveyor.runtime.outofcore import duckdb_session, quote_name, quote_text

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
_KEEPS_ORDER = frozenset(
    {
        "PROJECTION",
        "FILTER",
        "TABLE_SCAN",
        "READ_PARQUET",
        "PARQUET_SCAN",
        "SEQ_SCAN",
        "STREAMING_LIMIT",
        "LIMIT",
        "STREAMING_WINDOW",
        "UNNEST",
        "DUMMY_SCAN",
        "COLUMN_DATA_SCAN",  # constant rows (VALUES, DESCRIBE, a count from the metadata)
        "EMPTY_RESULT",
    }
)
"""Operators whose output is their input's rows in their input's order (with insertion order)."""
_REORDERS = frozenset(
    {
        "HASH_JOIN",
        "NESTED_LOOP_JOIN",
        "PIECEWISE_MERGE_JOIN",
        "BLOCKWISE_NL_JOIN",
        "CROSS_PRODUCT",
        "POSITIONAL_JOIN",
        "ASOF_JOIN",
        "IE_JOIN",
        "LEFT_DELIM_JOIN",
        "RIGHT_DELIM_JOIN",
        "DELIM_SCAN",
        "CHUNK_SCAN",
        "HASH_GROUP_BY",
        "PERFECT_HASH_GROUP_BY",
        "UNGROUPED_AGGREGATE",
        "SIMPLE_AGGREGATE",
        "HASH_DISTINCT",
        "UNION",
        "UNION_ALL",
        "INTERSECT",
        "EXCEPT",
        "CTE",
        "CTE_SCAN",
        "ORDER_BY",
        "TOP_N",
        "WINDOW",
    }
)
"""Operators whose values are exact whatever the order, but whose output order is the engine's."""
_EXACT_AGGREGATES = frozenset(
    {
        "count",
        "count_star",
        "min",
        "max",
        "sum",
        "sum_no_overflow",
        "avg",
        "mean",
        "bool_and",
        "bool_or",
        "combine_aggr",  # combines the exported states of the aggregates above, pushed down
    }
)
_FLOAT_SENSITIVE = frozenset({"sum", "sum_no_overflow", "avg", "mean"})
_AGGREGATES = frozenset(
    {"HASH_GROUP_BY", "PERFECT_HASH_GROUP_BY", "UNGROUPED_AGGREGATE", "SIMPLE_AGGREGATE"}
)
_SCANS = frozenset({"TABLE_SCAN", "READ_PARQUET", "PARQUET_SCAN", "SEQ_SCAN"})
_ONE_ROW = frozenset({"UNGROUPED_AGGREGATE", "SIMPLE_AGGREGATE"})
"""Aggregates without GROUP BY: one row, whatever the order of their input."""
_TAKES_BY_ORDER = frozenset({"LIMIT", "STREAMING_LIMIT", "STREAMING_WINDOW"})
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_SAFE_CREATE = re.compile(
    r"\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP\s+|TEMPORARY\s+)?(?:VIEW|MACRO|FUNCTION|TYPE)\b",
    re.IGNORECASE,
)


class _InMemory(Exception):  # noqa: N818 - a decision, not an error: run in memory
    """The query's out-of-core result could differ from the in-memory one; ``str`` says why."""


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
            keys = _order_problem(con, statements[-1], names, floats)
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


def _plan(con: duckdb.DuckDBPyConnection, statement: str) -> Iterator[dict[str, Any]]:
    """Every operator of ``statement``'s physical plan, root first."""
    import duckdb

    try:
        rows = con.execute(f"EXPLAIN (FORMAT JSON) {statement}").fetchall()
    except duckdb.Error as exc:  # the statement binds (it ran through con.sql): not a user error
        raise _InMemory(f"DuckDB cannot show its plan ({str(exc).splitlines()[0]})") from exc
    stack: list[dict[str, Any]] = list(json.loads(rows[0][1]))
    while stack:
        node = stack.pop(0)
        yield node
        stack.extend(node.get("children", []))


def _order_problem(
    con: duckdb.DuckDBPyConnection, statement: str, names: list[str], floats: set[str]
) -> list[str]:
    """The result columns that a final ORDER BY sorts on ([] when every operator keeps order).

    ``floats`` are the sources' floating-point columns. Raises _InMemory when the row order, or
    a value, could depend on how the engine ran (threads, memory, spilling).
    """
    nodes = list(_plan(con, statement))
    kinds = {_kind(node) for node in nodes}
    unknown = sorted(kinds - _KEEPS_ORDER - _REORDERS)
    if unknown:
        raise _InMemory(f"its plan holds {', '.join(unknown)}, which this check does not know")
    calls = [call for node in nodes if _kind(node) in _AGGREGATES for call in _calls(node)]
    odd = sorted({c for c in calls if c not in _EXACT_AGGREGATES})
    if odd:
        raise _InMemory(
            f"the value of {', '.join(f'{c}()' for c in odd)} depends on the order rows arrive in"
        )
    scanned = {column for node in nodes if _kind(node) in _SCANS for column in _read(node)}
    if any(c in _FLOAT_SENSITIVE for c in calls) and scanned & floats:
        raise _InMemory(
            "a sum or average may add floating-point numbers (columns "
            f"{', '.join(sorted(scanned & floats))}) in another order, which changes the last "
            "bits; cast them to DECIMAL in a source to run it out of core"
        )
    top = nodes[0]
    while _kind(top) == "PROJECTION" and len(top.get("children", [])) == 1:
        top = top["children"][0]
    if _kind(top) == "ORDER_BY":
        for child in top.get("children", []):
            _fixed(child)
        return _order_keys(con, statement, names)
    if not _fixed(nodes[0]):
        reorders = sorted(kinds & _REORDERS)
        raise _InMemory(
            f"it has no final ORDER BY, and the output order of {', '.join(reorders)} (a join, "
            "GROUP BY, DISTINCT, set operation or inner ORDER BY) is the engine's; end the "
            "query with ORDER BY over columns that identify a row"
        )
    return []


def _fixed(node: dict[str, Any]) -> bool:
    """Whether ``node`` gives its rows in the sources' order; _InMemory if it takes rows by it.

    ``LIMIT`` and ``OVER ()`` windows take rows in their input's order: out of core only over
    operators that keep the sources' order. A window over partitions or an order, and ``ORDER
    BY ... LIMIT``, take tied rows in the engine's order.
    """
    kind = _kind(node)
    if kind == "WINDOW":
        raise _InMemory(
            "a window over partitions or an order numbers tied rows in the engine's order "
            "(OVER () windows, which follow the sources' order, run out of core)"
        )
    if kind == "TOP_N":
        raise _InMemory("ORDER BY ... LIMIT picks among tied rows in the engine's order")
    children = [_fixed(child) for child in node.get("children", [])]
    if kind in _TAKES_BY_ORDER and not all(children):
        raise _InMemory(
            f"{kind} takes rows in the order of a join, GROUP BY or set operation below it, "
            "which is the engine's"
        )
    if kind in _ONE_ROW:
        return True
    return kind in _KEEPS_ORDER and all(children)


def _kind(node: dict[str, Any]) -> str:
    return str(node.get("name", "")).strip().upper().replace(" ", "_")


def _calls(node: dict[str, Any]) -> list[str]:
    """The functions an aggregate operator computes: ``sum(#1)`` -> ``sum``."""
    extra = node.get("extra_info", {})
    listed = extra.get("Aggregates", []) if isinstance(extra, dict) else []
    texts = [listed] if isinstance(listed, str) else listed
    return [m.group(1).lower() for text in texts for m in [_CALL.match(text.strip())] if m]


def _read(node: dict[str, Any]) -> list[str]:
    """The columns a scan reads."""
    extra = node.get("extra_info", {})
    listed = extra.get("Projections", []) if isinstance(extra, dict) else []
    return [listed] if isinstance(listed, str) else list(listed)


def _order_keys(con: duckdb.DuckDBPyConnection, statement: str, names: list[str]) -> list[str]:
    """The result columns the statement's final ORDER BY names (_InMemory for anything else)."""
    ((text,),) = con.execute("SELECT json_serialize_sql(?)", [statement]).fetchall()
    tree = json.loads(text)
    if tree.get("error"):
        raise _InMemory("DuckDB cannot show which columns its ORDER BY sorts on")
    node = tree["statements"][-1]["node"]
    modifiers = [m for m in node.get("modifiers", []) if m.get("type") == "ORDER_MODIFIER"]
    if not modifiers:
        raise _InMemory("its ORDER BY is not the query's last clause")
    by_name = {n.lower(): n for n in names}
    selected = [e for e in node.get("select_list", []) if isinstance(e, dict)]
    keys: list[str] = []
    for order in modifiers[-1]["orders"]:
        expression = order["expression"]
        kind = expression.get("class")
        parts = expression.get("column_names", [])
        if (
            kind == "STAR"
            and expression.get("expr") is None
            and not any(
                expression.get(key) for key in ("relation_name", "exclude_list", "replace_list")
            )
        ):  # ORDER BY ALL
            keys += names
        elif kind == "CONSTANT" and expression.get("literal", {}).get("kind") == "INTEGER":
            position = int(expression["literal"]["text"])
            if not 1 <= position <= len(names):
                raise _InMemory(f"ORDER BY {position} names no column of the result")
            keys.append(names[position - 1])
        elif kind == "COLUMN_REF" and len(parts) == 1 and parts[0].lower() in by_name:
            keys.append(by_name[parts[0].lower()])
        elif (
            kind == "COLUMN_REF"
            and parts[-1].lower() in by_name
            and any(
                e.get("class") == "COLUMN_REF"
                and [p.lower() for p in e.get("column_names", [])] == [p.lower() for p in parts]
                and e.get("alias", "").lower() in {"", parts[-1].lower()}
                for e in selected
            )
        ):
            keys.append(by_name[parts[-1].lower()])
        else:
            raise _InMemory(
                "its ORDER BY sorts on an expression that is not a column of the result, so "
                "ties cannot be checked; select it and ORDER BY its name"
            )
    if len(by_name) != len(names):
        raise _InMemory("two columns of the result share a name (names ignore case in DuckDB)")
    return keys


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
