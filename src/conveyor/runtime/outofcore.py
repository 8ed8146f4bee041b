"""Out of core on one machine: the memory budget, and DuckDB sessions that spill to disk.

A stage whose inputs would take more memory than the budget computes its result with DuckDB
over the Parquet files instead of loading them into pandas. The budget comes from the
environment (:data:`BUDGET_VARIABLE`, e.g. ``CONVEYOR_MEMORY_BUDGET=8GiB``), not from a
tracked param: like the executor, it decides *how* a result is computed, never *what* it is
(tests compare both paths' tables), so changing it reruns no stage. Unset, every stage runs
in memory as before.

Inputs are measured by their uncompressed size in the Parquet metadata, which is close to what
pandas holds, without reading a row.

Work that is already split into partitions for an executor (``validate``) runs here, one
partition after another, on an :class:`~conveyor.plugins.executor.InlineSession`.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from conveyor import _atomic
from conveyor.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from pathlib import Path

    import duckdb
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq


BUDGET_VARIABLE = "CONVEYOR_MEMORY_BUDGET"
"""The environment variable holding the memory budget: ``8GiB``, ``500MB``, ``1e9``."""
MIN_ENGINE_MEMORY = 256 * 2**20
"""DuckDB's memory limit is the budget, but never below this (it needs room to sort and join)."""
ROW_GROUP = 250_000
"""Rows per Parquet row group, as ``frames.write_parquet`` writes them."""
READ_BUFFER = 256 * 2**10
"""Read through buffers this size, not whole column chunks (Arrow's ``pre_buffer``)."""
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?(?:e[0-9]+)?)\s*([a-z]*)\s*", re.IGNORECASE)


def parse_size(text: str, *, where: str) -> int:
    """``"4GiB"`` -> 4294967296; a located UsageError for anything that is not a size."""
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise UsageError(
            f"{text!r} is not a memory size",
            where=where,
            fix="give a number of bytes with an optional unit: 500MB, 8GiB, 1.5TB, 2000000",
        )
    value = int(float(match.group(1)) * _UNITS[unit])
    if value <= 0:
        raise UsageError(
            f"{text!r} is not a memory size", where=where, fix="give a size above zero, e.g. 8GiB"
        )
    return value


def memory_budget() -> int | None:
    """The budget in bytes from :data:`BUDGET_VARIABLE`; None (all in memory) when unset."""
    text = os.environ.get(BUDGET_VARIABLE, "").strip()
    if not text:
        return None
    return parse_size(text, where=f"environment variable {BUDGET_VARIABLE}")


def parquet_bytes(paths: Iterable[Path]) -> int:
    """The uncompressed size of the Parquet files' data, from their metadata alone."""
    import pyarrow.parquet as pq

    total = 0
    for path in paths:
        meta = pq.ParquetFile(path).metadata
        total += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return total


def over_budget(paths: Iterable[Path]) -> int | None:
    """The budget when the files exceed it (go out of core), else None (stay in memory)."""
    budget = memory_budget()
    if budget is None or parquet_bytes(paths) <= budget:
        return None
    return budget


@contextmanager
def duckdb_session(budget: int, beside: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """A DuckDB connection limited to ``budget``, spilling to a folder beside ``beside``.

    Yields the connection and that folder (for other work files). The folder is hidden, named
    like ``conveyor._atomic``'s temporaries (removed when the session ends, or by the next run
    after a kill), on the filesystem of the output, so spilling has the room the output has.
    Offline: no extension is installed or loaded.
    """
    import duckdb

    config: dict[str, Any] = {
        "memory_limit": f"{max(budget, MIN_ENGINE_MEMORY)}B",
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
    }
    with _atomic.scratch_dir(beside) as spill:
        config["temp_directory"] = str(spill / "duckdb")
        with duckdb.connect(":memory:", config=config) as connection:
            yield connection, spill


def quote_name(name: str) -> str:
    """``name`` as a quoted SQL identifier (inner double quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def quote_text(text: str) -> str:
    """``text`` as a SQL string literal (inner single quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def null_counts(file: Path) -> dict[str, int]:
    """Each column's null count, from the Parquet statistics (a chunk without them counts 1)."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(file).metadata
    nulls = dict.fromkeys(pq.read_schema(file).names, 0)
    for group in range(meta.num_row_groups):
        row_group = meta.row_group(group)
        for index in range(row_group.num_columns):
            column = row_group.column(index)
            stats = column.statistics
            count = stats.null_count if stats is not None and stats.has_null_count else 1
            nulls[column.path_in_schema] += count
    return nulls


def pandas_types(file: Path | pa.Schema, nulls: dict[str, int]) -> pa.Schema:
    """The schema pandas would give ``file``'s columns: integers holding nulls become float64.

    pandas has no null in a NumPy integer column, so a join that leaves an integer cell empty
    (or a whole table read with one) turns the column into float64. ``file`` may be a schema.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = file if isinstance(file, pa.Schema) else pq.read_schema(file)
    return pa.schema(
        [
            pa.field(f.name, pa.float64())
            if pa.types.is_integer(f.type) and nulls.get(f.name, 0) > 0
            else f
            for f in schema
        ]
    )


def _as_whole_frame(schema: pa.Schema, nulls: dict[str, int]) -> pa.Schema:
    """``schema`` with the pandas metadata the whole frame would give, not its first rows.

    A boolean column with a null anywhere is an object column in pandas; the first row group
    alone may hold no null, and would record ``bool``.
    """
    import json

    import pyarrow as pa

    meta = json.loads(schema.metadata[b"pandas"])
    for column in meta["columns"]:
        name = column.get("field_name")
        if name in nulls and nulls[name] > 0 and pa.types.is_boolean(schema.field(name).type):
            column["numpy_type"] = "object"
    return schema.with_metadata({**schema.metadata, b"pandas": json.dumps(meta).encode()})


def rewrite_as_pandas(source: Path, target: Path) -> int:
    """Copy ``source`` to ``target`` a row group at a time, as pandas would write it.

    Each batch passes through pandas (``to_pandas`` then ``from_pandas``), with the column types
    of :func:`pandas_types`, so the file holds the same types, and pandas metadata, as
    ``frames.write_parquet`` writes for the same rows held in memory. Returns the row count.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = pq.ParquetFile(source, pre_buffer=False, buffer_size=READ_BUFFER)  # see batches._open
    nulls = null_counts(source)
    types = pandas_types(source, nulls)
    batches = file.iter_batches(batch_size=ROW_GROUP, use_threads=False)
    rows = write_as_pandas(row_groups(batches, file.schema_arrow), types, nulls, target)
    if rows == 0:  # no rows: still a file with the columns
        empty = pa.Table.from_pandas(types.empty_table().to_pandas(), preserve_index=False)
        pq.write_table(empty, target)
    return rows


def write_as_pandas(
    tables: Iterable[pa.Table],
    types: pa.Schema,
    nulls: dict[str, int],
    target: Path,
    *,
    convert: Callable[[pa.Table], pd.DataFrame] | None = None,
) -> int:
    """Write ``tables`` (of :data:`ROW_GROUP` rows) to ``target`` as one pandas frame of them.

    Each table is cast to ``types`` (see :func:`pandas_types`; ``nulls`` are the whole data's
    null counts), turned into pandas by ``convert`` (``to_pandas`` by default) and written by
    :func:`write_frames`. Returns the row count; with none, nothing is written.
    """
    frames = (
        part.cast(types).to_pandas() if convert is None else convert(part.cast(types))
        for part in tables
    )
    return write_frames(frames, nulls, target)


def write_frames(frames: Iterable[pd.DataFrame], nulls: dict[str, int], target: Path) -> int:
    """Write ``frames`` (of :data:`ROW_GROUP` rows) to ``target``, one row group each.

    As ``frames.write_parquet`` writes the frame of all their rows: every frame with the first
    one's Arrow types, and the pandas metadata of the whole frame (``nulls``: the whole data's
    null counts, see :func:`_as_whole_frame`). Returns the row count; with none, nothing is
    written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 0
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    try:
        for chunk in frames:
            chunk.columns = [str(c) for c in chunk.columns]
            table = pa.Table.from_pandas(chunk, schema=schema, preserve_index=False)
            if writer is None:
                schema = _as_whole_frame(table.schema, nulls)
                table = table.replace_schema_metadata(schema.metadata)
                writer = pq.ParquetWriter(target, schema)
            writer.write_table(table)
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows


def row_groups(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.Table]:
    """The rows of ``batches`` in tables of exactly :data:`ROW_GROUP` rows (the last one fewer)."""
    import pyarrow as pa

    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        while count >= ROW_GROUP:
            table = pa.Table.from_batches(pending, schema=schema)
            yield table.slice(0, ROW_GROUP)
            rest = table.slice(ROW_GROUP)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending, schema=schema)
