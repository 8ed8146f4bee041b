"""``combine``'s joins out of core: the same rows, columns, types and order as ``pd.merge``.

Used when the sources exceed the memory budget (``conveyor.runtime.outofcore``). One DuckDB
query over the Parquet files reproduces pandas' merge rule by rule:

- columns: the rows so far, then the joined source's non-key columns; a name on both sides
  takes the suffix ``_<source>`` on the joined side;
- keys: the left key for ``inner``/``left``, the right one for ``right``, either for ``outer``;
  a null key matches a null key, as in pandas;
- order: ``inner``/``left`` keep the left rows' order; ``right`` the right rows' order (then
  the left's); ``outer`` sorts by the keys (then the left order, then the right). Each source's
  order is its row number in its file, so the result does not depend on DuckDB's threads;
- types: an integer column that the join leaves with nulls becomes float64, as in pandas.

The result is written sorted to a spill file, then rewritten through pandas a row group at a
time (``outofcore.rewrite_as_pandas``), atomically.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor import _atomic
from conveyor.errors import DataError
from conveyor.runtime.outofcore import (
    duckdb_session,
    quote_name,
    quote_text,
    rewrite_as_pandas,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    import duckdb

    from conveyor.spec import CombineSpec, JoinSpec

_ORDER = "__conveyor_order_{}"


def combine_files(
    files: Mapping[str, Path], combine: CombineSpec, output: Path, *, budget: int
) -> int:
    """Join ``files`` (source name -> Parquet) as ``combine`` says into ``output``; the rows.

    Raises:
        DataError: a join key is missing or not unique on the joined side, or no row is left.
    """
    assert combine.base is not None  # noqa: S101 - CombineSpec guarantees it
    assert combine.join is not None  # noqa: S101
    with duckdb_session(budget, output) as (con, scratch):
        for index, (name, path) in enumerate(files.items()):
            con.execute(
                f"CREATE VIEW {quote_name(name)} AS SELECT * EXCLUDE (file_row_number), "  # noqa: S608
                f"file_row_number AS {_ORDER.format(index)} "
                f"FROM read_parquet({quote_text(str(path))}, file_row_number = true)"
            )
        names = list(files)
        columns = _columns(con, f"SELECT * FROM {quote_name(combine.base)}")  # noqa: S608
        order = [_ORDER.format(names.index(combine.base))]
        query = f"SELECT * FROM {quote_name(combine.base)}"  # noqa: S608
        for index, join in enumerate(combine.join):
            right_order = _ORDER.format(names.index(join.source))
            query, columns, order = _join(
                con, query, columns, order, join, right_order, f"data.combine.join.{index}"
            )
        listed = ", ".join(quote_name(c) for c in columns)
        sort = ", ".join(f"{quote_name(c)} NULLS LAST" for c in order)
        spill = scratch / "sorted.parquet"
        con.execute(
            f"COPY (SELECT {listed} FROM ({query}) ORDER BY {sort}) "  # noqa: S608
            f"TO {quote_text(str(spill))} (FORMAT parquet)"
        )
        with _atomic.atomic_path(output) as tmp:
            rows = rewrite_as_pandas(spill, tmp)
            if rows == 0:
                raise DataError(
                    "combining the sources gave no rows",
                    where="data.combine",
                    fix="check the join keys and 'how' (an inner join of disjoint keys is empty)",
                )
    return rows


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    names = con.sql(f"SELECT * FROM ({relation}) LIMIT 0").columns  # noqa: S608
    return [n for n in names if not n.startswith("__conveyor_order_")]


def _join(
    con: duckdb.DuckDBPyConnection,
    left_query: str,
    left_columns: list[str],
    left_order: list[str],
    join: JoinSpec,
    right_order: str,
    where: str,
) -> tuple[str, list[str], list[str]]:
    right_columns = _columns(con, f"SELECT * FROM {quote_name(join.source)}")  # noqa: S608
    keys = join.columns
    for side, columns in (
        ("the rows so far", left_columns),
        (f"source '{join.source}'", right_columns),
    ):
        missing = [key for key in keys if key not in columns]
        if missing:
            raise DataError(
                f"join key {missing} is not in {side}",
                where=where,
                fix=f"columns there: {', '.join(columns[:30])}",
            )
    key_list = ", ".join(quote_name(k) for k in keys)
    dupes = con.execute(
        f"SELECT {key_list} FROM {quote_name(join.source)} GROUP BY ALL "  # noqa: S608
        f"HAVING count(*) > 1 LIMIT 3"
    ).fetchall()
    if dupes:
        examples = [dict(zip(keys, row, strict=True)) for row in dupes]
        raise DataError(
            f"key {keys} is not unique in source '{join.source}', so the join would repeat "
            f"rows (e.g. {examples})",
            where=where,
            fix="deduplicate the source (a 'sql' source or combine.sql with GROUP BY), "
            "or join on more keys",
        )
    select = []
    for column in left_columns:
        name = quote_name(column)
        if column not in keys:
            select.append(f"l.{name}")
        elif join.how == "right":
            select.append(f"r.{name} AS {name}")
        elif join.how == "outer":
            select.append(f"coalesce(l.{name}, r.{name}) AS {name}")
        else:
            select.append(f"l.{name}")
    added = []
    for column in right_columns:
        if column in keys:
            continue
        renamed = f"{column}_{join.source}" if column in left_columns else column
        select.append(f"r.{quote_name(column)} AS {quote_name(renamed)}")
        added.append(renamed)
    select += [f"l.{quote_name(c)}" for c in left_order] + [f"r.{quote_name(right_order)}"]
    if join.how in ("inner", "left"):
        order = [*left_order, right_order]
    elif join.how == "right":
        order = [right_order, *left_order]
    else:  # pandas sorts an outer join by its keys: each coalesced key is a sort column
        key_order = [f"__conveyor_order_key_{len(left_order)}_{i}" for i in range(len(keys))]
        select += [
            f"coalesce(l.{quote_name(key)}, r.{quote_name(key)}) AS {alias}"
            for key, alias in zip(keys, key_order, strict=True)
        ]
        order = [*key_order, *left_order, right_order]
    on = " AND ".join(f"l.{quote_name(k)} IS NOT DISTINCT FROM r.{quote_name(k)}" for k in keys)
    kind = {"inner": "INNER", "left": "LEFT", "right": "RIGHT", "outer": "FULL OUTER"}[join.how]
    query = (
        f"SELECT {', '.join(select)} FROM ({left_query}) AS l "  # noqa: S608
        f"{kind} JOIN {quote_name(join.source)} AS r ON {on}"
    )
    return query, [*left_columns, *added], order
