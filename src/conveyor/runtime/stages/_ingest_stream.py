"""``ingest`` out of core: a source's rows written a row group at a time, as in memory.

Used when a source that can be scanned (``Source.scan``: the Parquet source) is bigger than
the memory budget (``conveyor.runtime.outofcore``). The rows pass through pandas one row group
(``outofcore.ROW_GROUP`` rows) at a time, converted as ``read`` converts them, and are written
with the types and pandas metadata that ``frames.write_parquet`` gives the frame of all of
them, so ``data/raw/<source>.parquet`` is the same bytes as in memory.

What pandas decides from the whole table is decided from the whole data first: one pass over
the integer, boolean and dictionary columns counts the nulls of the first two and collects the
categories of the last (every dictionary's values, in order of first appearance, as pyarrow
unifies them); converting a one-row sample with those nulls and categories gives each column's
dtype in the frame of all rows (an integer column with a null anywhere is float64, a boolean
one object, unless the file's pandas metadata names a nullable dtype; a categorical column
has all categories); every row group is given those dtypes.

Not streamed (read in memory, and the stage says why): a named RangeIndex stored in the pandas
metadata, which pandas restores only when it spans the whole table.

A source whose rows come as pandas frames (``FrameScan``: the CSV, SQL and generator sources)
settles the dtypes itself (``conveyor.components._csv_stream``, ``_sql_engine``, ``_sqlite``,
``synthetic``) and gives frames of ``outofcore.ROW_GROUP`` rows, which are written as they
come, one row group each.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from conveyor import _atomic
from conveyor.errors import DataError
from conveyor.runtime import outofcore
from conveyor.runtime.outofcore import row_groups, write_as_pandas, write_frames

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    import pyarrow as pa

    from conveyor.plugins.base import FrameScan, Scan


def streamable(scan: Scan) -> str | None:
    """Why ``scan`` cannot be written a row group at a time with the in-memory bytes, or None."""
    pandas = json.loads((scan.schema.metadata or {}).get(b"pandas", b"{}"))
    for index in pandas.get("index_columns", []):
        if isinstance(index, dict) and index.get("kind") == "range" and index.get("name"):
            return f"the files store a named row index ('{index['name']}')"
    return None


def ingest_scan(scan: Scan, output: Path) -> int:
    """Write ``scan``'s rows to ``output`` (atomically) as in memory; the row count.

    Raises:
        DataError: the source has no rows, or a file cannot be read (nothing is written).
    """
    with _atomic.atomic_path(output) as tmp:
        nulls, categories = _whole_facts(scan)
        dtypes = _whole_dtypes(scan, nulls, categories)
        rows = 0
        if dtypes is not None:

            def convert(table: pa.Table) -> pd.DataFrame:
                frame = scan.frame(table)  # then the whole table's dtypes, categories too
                differ = {c: d for c, d in dtypes.items() if frame[c].dtype != d}
                return frame.astype(differ) if differ else frame

            tables = row_groups(scan.batches(None), scan.schema)
            rows = write_as_pandas(tables, scan.schema, {}, tmp, convert=convert)
        if rows == 0:
            raise DataError(
                "the source produced no rows",
                where="data.sources",  # ingest names the source
                fix="check the source's params (path, query, filters) and the file it reads",
            )
    return rows


def ingest_frames(scan: FrameScan, output: Path) -> int | str:
    """Write ``scan``'s frames to ``output`` (atomically): the row count, or why they cannot be.

    Raises:
        DataError: the source has no rows, or its data cannot be read (nothing is written).
    """
    frames = scan.chunks(outofcore.ROW_GROUP)
    if isinstance(frames, str):
        return frames
    with _atomic.atomic_path(output) as tmp:
        rows = write_frames(frames, {}, tmp)
        if rows == 0:
            raise DataError(
                "the source produced no rows",
                where="data.sources",  # ingest names the source
                fix="check the source's params (path, query, filters) and the file it reads",
            )
    return rows


def _whole_facts(scan: Scan) -> tuple[dict[str, int], dict[str, pa.Array]]:
    """One pass over the integer, boolean and dictionary columns: what the whole table decides.

    The nulls of each integer and boolean column (the only types whose pandas dtype a null
    changes), and each dictionary column's categories as pandas gives the whole table: the
    dictionaries' values in order of first appearance.
    """
    import pyarrow as pa

    kinds = (pa.types.is_integer, pa.types.is_boolean, pa.types.is_dictionary)
    names = [f.name for f in scan.schema if any(kind(f.type) for kind in kinds)]
    nulls = {n: 0 for n in names if not pa.types.is_dictionary(scan.schema.field(n).type)}
    categories: dict[str, pa.Array] = {}
    if names:
        for batch in scan.batches(names):
            for name, column in zip(names, batch.columns, strict=True):
                if name in nulls:
                    nulls[name] += column.null_count
                else:
                    seen = categories.get(name)
                    categories[name] = _union(seen, column.dictionary)
    return nulls, categories


def _union(first: pa.Array | None, second: pa.Array) -> pa.Array:
    """``first``'s values, then those of ``second`` it lacks, in order (as pyarrow unifies)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if first is None:
        return second
    new = second.filter(pc.invert(pc.is_in(second, value_set=first)))
    return pa.concat_arrays([first, new]) if len(new) else first


def _recoded(table: pa.Table, categories: dict[str, pa.Array]) -> pa.Table:
    """``table`` with each dictionary column encoded over its whole-table categories."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for name, values in categories.items():
        index = table.schema.get_field_index(name)
        kind = table.schema.field(index).type
        decoded = table.column(index).cast(kind.value_type)
        codes = pc.index_in(decoded, value_set=values).cast(pa.int32())
        recoded = pa.chunked_array(
            [
                pa.DictionaryArray.from_arrays(chunk, values, ordered=kind.ordered)
                for chunk in codes.chunks
            ],
            type=pa.dictionary(pa.int32(), kind.value_type, kind.ordered),
        )
        table = table.set_column(index, table.schema.field(index).with_type(recoded.type), recoded)
    return table


def _whole_dtypes(
    scan: Scan, nulls: dict[str, int], categories: dict[str, pa.Array]
) -> dict[str, Any] | None:
    """Each column's dtype in the frame of all rows (None: there are no rows).

    Only a null changes what pandas makes of a column's type, so a one-row sample holding a
    null in each column that has one anywhere (and the whole categories) converts to the
    dtypes of the whole.
    """
    import pyarrow as pa

    first = next((b for b in scan.batches(None) if b.num_rows), None)
    if first is None:
        return None
    sample = pa.Table.from_batches([first.slice(0, 1)]).cast(scan.schema)
    for name, count in nulls.items():
        if count:
            index = sample.schema.get_field_index(name)
            field = sample.schema.field(index)
            sample = sample.set_column(index, field, pa.nulls(1, field.type))
    frame = scan.frame(_recoded(sample, categories))
    return {str(c): frame[c].dtype for c in frame.columns}
