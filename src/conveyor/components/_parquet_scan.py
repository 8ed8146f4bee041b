"""A Parquet source's rows a batch at a time, as ``ParquetSource.read`` would return them.

``ingest`` uses it above the memory budget. Each file is read with ``ParquetFile.iter_batches``
through a small buffer, page by page: the dataset scanner decodes a whole row group at once, so
its memory grows with the files' row groups (a file pandas wrote holds up to 1M rows in one).
Each batch is then given what the dataset gives ``read``: the unified schema's types, a null
column where a file lacks a column, and the hive partition fields of the file's path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.plugins.base import Scan

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

    from conveyor.errors import DataError

SCAN_ROWS = 65_536
"""Rows per batch."""
SCAN_BUFFER = 256 * 2**10
"""Bytes read at a time."""


def scan_dataset(
    dataset: ds.Dataset,
    files: Sequence[Path],
    columns: Sequence[str] | None,
    *,
    as_read: Callable[[pa.Table], pd.DataFrame],
    damaged: Callable[[Exception], DataError],
) -> Scan:
    """The :class:`Scan` of ``dataset`` (made of ``files``, in order), of ``columns`` or all."""
    schema = dataset.schema if columns is None else _selected(dataset.schema, columns)

    def batches(names: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        wanted = _selected(schema, names) if names is not None else schema
        try:
            for fragment in dataset.get_fragments():  # in the order of the files
                yield from _fragment_batches(fragment, wanted)
        except (pa.ArrowException, OSError) as exc:
            raise damaged(exc) from exc

    return Scan(schema, uncompressed_bytes(files), batches, as_read)


def _fragment_batches(
    fragment: ds.ParquetFileFragment, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    keys = ds.get_partition_keys(fragment.partition_expression)
    with pq.ParquetFile(fragment.path, pre_buffer=False, buffer_size=SCAN_BUFFER) as file:
        present = set(file.schema_arrow.names)
        read = [name for name in schema.names if name in present]
        for batch in file.iter_batches(batch_size=SCAN_ROWS, columns=read, use_threads=False):
            rows = batch.num_rows
            arrays = []
            for field in schema:
                if field.name in present:
                    column = batch.column(field.name)
                    arrays.append(column if column.type == field.type else column.cast(field.type))
                elif field.name in keys:
                    arrays.append(pa.repeat(pa.scalar(keys[field.name], field.type), rows))
                else:
                    arrays.append(pa.nulls(rows, field.type))
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def _selected(schema: pa.Schema, columns: Sequence[str]) -> pa.Schema:
    """``schema``'s fields ``columns`` in that order, with its metadata (pandas')."""
    import pyarrow as pa

    return pa.schema([schema.field(name) for name in columns], metadata=schema.metadata)


def uncompressed_bytes(files: Sequence[Path]) -> int:
    """The files' data size once decoded, from their Parquet footers (no row is read)."""
    import pyarrow.parquet as pq

    total = 0
    for file in files:
        meta = pq.ParquetFile(file).metadata
        total += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return total
