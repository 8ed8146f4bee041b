"""Whether ``combine.sql``'s result could depend on how DuckDB ran it: its plan, read.

Out of core (``_combine_sql``), a query runs only if its rows and values are the ones the
in-memory path gives whatever the threads, memory and spilling: every operator keeps its
input's order, or the query ends in ``ORDER BY`` over result columns, and its aggregates do not
depend on the order rows arrive in. Anything else raises :class:`_InMemory`, whose text says
why, and the caller (``_combine_sql.query_files_or_why``) runs the query in memory.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    import duckdb

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


class _InMemory(Exception):  # noqa: N818 - a decision, not an error: run in memory
    """The query's out-of-core result could differ from the in-memory one; ``str`` says why."""


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


def order_problem(
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
