"""The input files of batch scoring: their columns, row counts, and rows in chunks.

A Source reads one CSV or Parquet file ``chunk_rows`` rows at a time, reading only the columns
asked for: Parquet through pyarrow's batch iterator with a small read buffer, CSV through its
streaming reader with every cell as text, so the schema check parses CSV cells and a bad cell
is a bad row rather than a failed read. A file that cannot be read raises DataError.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import numpy as np
    import pyarrow as pa

    from conveyor.bundle.inputs import ColumnRule

SUFFIXES = (".csv", ".parquet", ".pq")
_SAMPLE_BYTES = 1 << 16


class Source:
    """One input file: its columns, its size in rows, and its rows in chunks."""

    is_text = False
    """Whether values arrive as text to parse (CSV) rather than typed (Parquet)."""

    def __init__(self, path: Path, display: str, columns: list[str], rows: int) -> None:
        self.path, self.display, self.columns = path, display, columns
        self.rows_estimate = rows
        self.rows_read = 0

    def batches(self, columns: list[str], chunk_rows: int) -> Iterator[tuple[int, pa.RecordBatch]]:
        """``(offset, batch)`` of at most ``chunk_rows`` rows, reading only ``columns``."""
        import pyarrow as pa

        offset = 0
        try:
            for batch in self._read(columns, chunk_rows):
                for start in range(0, batch.num_rows, chunk_rows):
                    piece = batch.slice(start, chunk_rows)
                    yield offset, piece
                    offset += piece.num_rows
        except (OSError, pa.ArrowException) as exc:
            raise _unreadable(self.display, exc) from exc
        self.rows_read = offset

    def values(self, array: pa.Array, rule: ColumnRule) -> np.ndarray:
        """A model input column as numpy, for ``InputSchema.check``."""
        import pyarrow as pa

        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        return _numpy(array)

    def output_type(self, name: str, rule: ColumnRule | None) -> pa.DataType:
        """The type of a kept column in the output."""
        raise NotImplementedError

    def kept(self, batch: pa.RecordBatch, name: str, checked: dict[str, np.ndarray]) -> pa.Array:
        """A kept column's values for the output."""
        return batch.column(name)

    def _read(self, columns: list[str], chunk_rows: int) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError


class _ParquetSource(Source):
    def __init__(self, path: Path, display: str, schema: pa.Schema, rows: int) -> None:
        super().__init__(path, display, list(schema.names), rows)
        self.schema = schema

    def output_type(self, name: str, rule: ColumnRule | None) -> pa.DataType:
        import pyarrow as pa

        found = self.schema.field(name).type
        return found.value_type if pa.types.is_dictionary(found) else found

    def _read(self, columns: list[str], chunk_rows: int) -> Iterator[pa.RecordBatch]:
        import pyarrow.parquet as pq

        # A read buffer streams each column chunk instead of loading whole row groups.
        with pq.ParquetFile(self.path, buffer_size=1 << 20, pre_buffer=False) as file:
            yield from file.iter_batches(batch_size=chunk_rows, columns=columns)


class _CsvSource(Source):
    """CSV cells are read as text and parsed by the schema check, so a bad cell is a bad row."""

    is_text = True

    def __init__(
        self, path: Path, display: str, columns: list[str], rows: int, line_bytes: float
    ) -> None:
        super().__init__(path, display, columns, rows)
        self.line_bytes = line_bytes

    def values(self, array: pa.Array, rule: ColumnRule) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        if rule.kind == "numeric":
            try:  # Arrow's parser is ~50x faster than a Python loop; the check parses the rest
                return _numpy(pc.cast(array, pa.float64()))
            except pa.ArrowInvalid:
                pass
        return _numpy(array)

    def output_type(self, name: str, rule: ColumnRule | None) -> pa.DataType:
        import pyarrow as pa

        kinds = {"numeric": pa.float64(), "bool": pa.bool_(), "datetime": pa.timestamp("ns")}
        return kinds.get(rule.kind, pa.string()) if rule is not None else pa.string()

    def kept(self, batch: pa.RecordBatch, name: str, checked: dict[str, np.ndarray]) -> pa.Array:
        """Model inputs as the model saw them (parsed); other columns as their text."""
        import pyarrow as pa

        return pa.array(checked[name]) if name in checked else batch.column(name)

    def _read(self, columns: list[str], chunk_rows: int) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        block = int(min(max(chunk_rows * self.line_bytes, 1 << 16), 1 << 26))
        convert = pcsv.ConvertOptions(
            include_columns=columns,
            column_types=dict.fromkeys(columns, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        )
        with pcsv.open_csv(
            self.path, read_options=pcsv.ReadOptions(block_size=block), convert_options=convert
        ) as reader:
            yield from reader


def _numpy(array: pa.Array) -> np.ndarray:
    """Zero-copy for numbers without nulls; nulls become NaN (numbers) or None (others)."""
    values: np.ndarray = array.to_numpy(zero_copy_only=False)
    return values


def open_source(path: Path, display: str) -> Source:
    """Read a file's columns and row count (exact for Parquet, estimated for CSV)."""
    import pyarrow as pa

    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(
            f"cannot score '{display}': only .csv and .parquet files are read",
            fix="convert the file to CSV or Parquet, or name it with its format's suffix",
        )
    try:
        if suffix == ".csv":
            return _open_csv(path, display)
        import pyarrow.parquet as pq

        metadata = pq.read_metadata(path)
        schema = metadata.schema.to_arrow_schema()
        return _ParquetSource(path, display, schema, metadata.num_rows)
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(display, exc) from exc


def _open_csv(path: Path, display: str) -> _CsvSource:
    import pyarrow.csv as pcsv

    with path.open("rb") as handle:
        sample = handle.read(_SAMPLE_BYTES)
    read = pcsv.ReadOptions(block_size=max(_SAMPLE_BYTES, 1 << 20))
    with pcsv.open_csv(path, read_options=read) as reader:
        columns = list(reader.schema.names)
    lines = max(sample.count(b"\n") + (not sample.endswith(b"\n")), 1)
    line_bytes = max(len(sample) / lines, 1.0)
    rows = max(round(path.stat().st_size / line_bytes) - 1, 0)
    return _CsvSource(path, display, columns, rows, line_bytes)


def _unreadable(display: str, exc: BaseException) -> DataError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    fix = "check that the file is complete and in the format its suffix says"
    if "CSV parse error" in first:
        fix = "give every line as many fields as the header has (quote values with commas)"
    return DataError(f"cannot read '{display}': {first}", fix=fix)
