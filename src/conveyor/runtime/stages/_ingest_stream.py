"""``ingest`` out of core: a source's rows written a row group at a time, as in memory.

Used when a source that can be scanned (``Source.scan``: the Parquet source) is bigger than
the memory budget (``conveyor.runtime.outofcore``). The rows pass through pandas one row group
(``outofcore.ROW_GROUP`` rows) at a time, converted as ``read`` converts them, and are written
with the types and pandas metadata that ``frames.write_parquet`` gives the frame of all of
them, so ``data/raw/<source>.parquet`` is the same bytes as in memory.

What pandas decides from the whole table is decided from the whole data first: one pass over
the integer and boolean columns counts their nulls, and converting a one-row sample with those
nulls gives each column's dtype in the frame of all rows (an integer column with a null
anywhere is float64, a boolean one object, unless the file's pandas metadata names a nullable
dtype); every row group is given those dtypes.

Not streamed (read in memory, and the stage says why): a dictionary (categorical) column, whose
categories pandas unifies over the whole table, and a named RangeIndex stored in the pandas
metadata, which pandas restores only when it spans the whole table.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from conveyor import _atomic
from conveyor.errors import DataError
from conveyor.runtime.outofcore import row_groups, write_as_pandas

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    import pyarrow as pa

    from conveyor.plugins.base import Scan


def streamable(scan: Scan) -> str | None:
    """Why ``scan`` cannot be written a row group at a time with the in-memory bytes, or None."""
    import pyarrow as pa

    for field in scan.schema:
        if pa.types.is_dictionary(field.type):
            return f"column '{field.name}' is categorical (pandas unifies its categories)"
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
        dtypes = _whole_dtypes(scan)
        rows = 0
        if dtypes is not None:

            def convert(table: pa.Table) -> pd.DataFrame:
                frame = scan.frame(table)
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


def _whole_dtypes(scan: Scan) -> dict[str, Any] | None:
    """Each column's dtype in the frame of all rows (None: there are no rows).

    Only a null changes what pandas makes of a column's type, so a one-row sample holding a
    null in each column that has one anywhere converts to the dtypes of the whole.
    """
    import pyarrow as pa

    nulls = _null_counts(scan)
    first = next((b for b in scan.batches(None) if b.num_rows), None)
    if first is None:
        return None
    sample = pa.Table.from_batches([first.slice(0, 1)]).cast(scan.schema)
    for name, count in nulls.items():
        if count:
            index = sample.schema.get_field_index(name)
            field = sample.schema.field(index)
            sample = sample.set_column(index, field, pa.nulls(1, field.type))
    frame = scan.frame(sample)
    return {str(c): frame[c].dtype for c in frame.columns}


def _null_counts(scan: Scan) -> dict[str, int]:
    """The nulls of each integer and boolean column over all rows (the only ones that matter)."""
    import pyarrow as pa

    names = [
        f.name for f in scan.schema if pa.types.is_integer(f.type) or pa.types.is_boolean(f.type)
    ]
    nulls = dict.fromkeys(names, 0)
    if names:
        for batch in scan.batches(names):
            for name, column in zip(names, batch.columns, strict=True):
                nulls[name] += column.null_count
    return nulls
