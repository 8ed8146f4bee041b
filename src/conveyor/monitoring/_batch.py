"""Read the batch to monitor: CSV/Parquet files, folders, globs, or a prediction-log directory.

Only the columns monitoring needs are read (the profiled features, the model's inputs, the
target, the id column, and the log's ``_score``/``_prediction``), with their own types; numeric
features are cast to float64 so a CSV integer column compares with a float reference. A
prediction log (``<log_dir>/<model>/date=YYYY-MM-DD/part-*.parquet``, docs/serving.md) is just
a folder of Parquet files; given ``<log_dir>`` itself, the model's own subfolder is read.
Only ever imported lazily (it imports pyarrow at the top).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from conveyor.components._files import is_glob, static_prefix
from conveyor.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Sequence

SUFFIXES = frozenset({".csv", ".parquet", ".pq"})
LOG_SCORE = "_score"
LOG_PREDICTION = "_prediction"
PART_ROWS = 65_536
"""Rows per part when a Parquet file is read a part at a time (``read_parts``)."""
READ_BUFFER = 256 * 2**10
"""Read a part through buffers this size, not whole column chunks (Arrow's ``pre_buffer``)."""


@dataclass(frozen=True)
class Batch:
    """The rows to monitor: all requested columns that every file has, in one table."""

    table: pa.Table
    files: tuple[str, ...]
    """The files read, as the user would name them (relative to the root when inside it)."""

    def has(self, column: str) -> bool:
        """Whether every file holds ``column``."""
        return column in self.table.column_names


def expand(root: Path, paths: Sequence[str], *, where: str, model: str | None = None) -> list[Path]:
    """The data files that ``paths`` (files, folders, globs; relative to ``root``) name."""
    files: list[Path] = []
    for path in paths:
        target = Path(path) if Path(path).is_absolute() else root / path
        if is_glob(path):
            found = sorted(p for p in root.glob(path) if p.is_file() and p.suffix in SUFFIXES)
            if not found:
                raise DataError(
                    f"'{path}' matches no .csv or .parquet file",
                    where=where,
                    fix=f"check the pattern and the folder '{static_prefix(path)}'",
                )
        elif target.is_dir():
            found = _folder_files(target, path, where=where, model=model)
        elif target.is_file():
            found = [target]
        else:
            raise _missing(root, path, where)
        files += [f for f in found if f not in files]
    return files


def _folder_files(folder: Path, shown: str, *, where: str, model: str | None) -> list[Path]:
    """Data files under ``folder``, skipping hidden and ``_``-prefixed entries (``.part-*.tmp``)."""
    found = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix in SUFFIXES
        and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)
    )
    if not found:
        raise DataError(
            f"folder '{shown}' holds no .csv or .parquet files",
            where=where,
            fix="put the batch's files in it, or name a file or glob",
        )
    # A log root holds one folder per model, each with date=... partitions: read one model's.
    models = sorted(
        {
            parts[0]
            for p in found
            if len(parts := p.relative_to(folder).parts) >= 3 and parts[1].startswith("date=")
        }
    )
    if len(models) > 1:
        if model not in models:
            raise DataError(
                f"folder '{shown}' holds the prediction logs of several models: "
                f"{', '.join(models)}",
                where=where,
                fix=f"name one model's folder, e.g. '{PurePosixPath(shown) / models[0]}'",
            )
        found = [p for p in found if p.relative_to(folder).parts[0] == model]
    return found


def _missing(root: Path, path: str, where: str) -> DataError:
    target = Path(path) if Path(path).is_absolute() else root / path
    parent = target.parent
    siblings = sorted(p.name for p in parent.iterdir()) if parent.is_dir() else []
    close = difflib.get_close_matches(target.name, siblings, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(map(repr, close))} (in the same folder)? " if close else ""
    return DataError(
        f"'{path}' does not exist",
        where=where,
        fix=f"{hint}name an existing file, folder or glob (quote globs: 'data/*.parquet')",
    )


def read_batch(
    root: Path,
    files: Sequence[Path],
    *,
    required: Sequence[str],
    optional: Collection[str] = (),
    numeric: Collection[str] = (),
    where: str,
) -> Batch:
    """One table of ``files``: the ``required`` columns and the ``optional`` ones all files have.

    ``numeric`` columns are cast to float64; a file lacking a required column is a DataError.
    """
    tables = []
    shown = tuple(_shown(root, file) for file in files)
    wanted = list(dict.fromkeys([*required, *optional]))
    present: set[str] | None = None
    for file, display in zip(files, shown, strict=True):
        names = column_names(file, where, display)
        missing = [c for c in required if c not in names]
        if missing:
            raise _missing_columns(missing, names, display, where)
        columns = [c for c in wanted if c in names]
        present = set(columns) if present is None else present & set(columns)
        tables.append((display, _read(file, display, columns, where)))
    if not tables or present is None:
        raise DataError("no files to read", where=where, fix="name at least one file")
    kept = [c for c in wanted if c in present]
    parts = [_typed(table.select(kept), numeric, display, where) for display, table in tables]
    try:
        table = pa.concat_tables(parts, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(
            f"the files disagree on a column's type: {_first_line(exc)}",
            where=where,
            fix="give each column one type in every file of the batch",
        ) from exc
    if table.num_rows == 0:
        raise DataError(
            f"the batch ({', '.join(shown[:3])}) has no rows",
            where=where,
            fix="monitor a batch with rows in it",
        )
    return Batch(table, shown)


def _shown(root: Path, file: Path) -> str:
    try:
        return file.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(file)


def column_names(file: Path, where: str, display: str | None = None) -> list[str]:
    """The columns of a CSV or Parquet file."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    display = display or str(file)
    try:
        if file.suffix == ".csv":
            with pcsv.open_csv(file) as reader:
                return list(reader.schema.names)
        return list(pq.read_schema(file).names)
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(display, exc, where) from exc


def _read(file: Path, display: str, columns: list[str], where: str) -> pa.Table:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    try:
        if file.suffix == ".csv":
            convert = pcsv.ConvertOptions(include_columns=columns, strings_can_be_null=True)
            return pcsv.read_csv(file, convert_options=convert)
        # The file alone: hive partition folders (date=...) are not columns monitoring needs.
        with pq.ParquetFile(file) as parquet:
            return parquet.read(columns=columns)
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(display, exc, where) from exc


def read_parts(
    file: Path, display: str, columns: list[str], where: str, *, rows: int = PART_ROWS
) -> Iterator[pa.Table]:
    """A Parquet file's ``columns``, ``rows`` at a time, in order (read errors located)."""
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(file, pre_buffer=False, buffer_size=READ_BUFFER) as parquet:
            for batch in parquet.iter_batches(batch_size=rows, columns=columns, use_threads=False):
                yield pa.Table.from_batches([batch])
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(display, exc, where) from exc


def _typed(table: pa.Table, numeric: Collection[str], display: str, where: str) -> pa.Table:
    """Numeric columns as float64; dictionary-encoded columns decoded."""
    for index, name in enumerate(table.column_names):
        column = table.column(index)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if name in numeric and column.type != pa.float64():
            try:
                column = pc.cast(column, pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataError(
                    f"column '{name}' of '{display}' is not numeric ({column.type}), but the "
                    "reference profile holds numbers",
                    where=where,
                    fix="clean the column so it holds numbers (empty cells for missing values)",
                ) from exc
        table = table.set_column(index, name, column)
    return table


def _missing_columns(missing: list[str], names: list[str], display: str, where: str) -> DataError:
    close = difflib.get_close_matches(missing[0], names, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
    shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
    quoted = ", ".join(f"'{c}'" for c in missing[:10]) + (" ..." if len(missing) > 10 else "")
    return DataError(
        f"'{display}' lacks column{'s' if len(missing) > 1 else ''} {quoted}, which the "
        "reference (or the model) needs",
        where=where,
        fix=f"{hint}the file's columns are: {shown}",
    )


def _unreadable(display: str, exc: BaseException, where: str) -> DataError:
    return DataError(
        f"cannot read '{display}': {_first_line(exc)}",
        where=where,
        fix="check that the file is complete and in the format its suffix says",
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
