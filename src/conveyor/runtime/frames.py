"""Parquet between stages: read with a located error, write atomically."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from conveyor import _atomic
from conveyor.errors import DataError
from conveyor.plugins.base import SNAPSHOT_SCHEMA

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    import numpy as np
    import pandas as pd
    import pyarrow as pa

_COLUMN_GROUP = 8
_ROW_GROUP = 250_000


def read_frame(root: Path, relative: str, stage: str) -> pd.DataFrame:
    """Read a Parquet output of an upstream stage."""
    return _read_in_column_groups(input_path(root, relative, stage))


def input_path(root: Path, relative: str, stage: str) -> Path:
    """The path of an upstream stage's output; a located DataError if it does not exist."""
    path = root / relative
    if not path.is_file():
        raise DataError(
            f"input '{relative}' does not exist",
            where=f"stage '{stage}'",
            fix="run the upstream stages first: 'dvc repro' runs them in order",
        )
    return path


def _read_in_column_groups(path: Path) -> pd.DataFrame:
    """``pd.read_parquet``, a few columns at a time, so Arrow and pandas copies never coexist.

    Reading all at once holds the whole Arrow table and the whole frame at the same moment
    (about 2.2x the frame at peak); a group of columns at a time, converted with one block per
    column and its Arrow buffers released, peaks at about 1.4x and is as fast.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    names = file.schema_arrow.names
    parts: list[pd.DataFrame] = [
        file.read(columns=names[i : i + _COLUMN_GROUP]).to_pandas(
            split_blocks=True, self_destruct=True
        )
        for i in range(0, len(names), _COLUMN_GROUP)
    ]
    return parts[0] if len(parts) == 1 else pd.concat(parts, axis=1)  # no copy under pandas 3


def write_frame(
    root: Path, relative: str, frame: pd.DataFrame, *, rows: np.ndarray | None = None
) -> None:
    """Write ``frame`` (or its rows at positions ``rows``) to Parquet atomically, no index."""
    with _atomic.atomic_path(root / relative) as tmp:
        write_parquet(tmp, frame, rows=rows)


def write_frames(root: Path, parts: Mapping[str, np.ndarray], frame: pd.DataFrame) -> None:
    """Write the rows of ``frame`` at each part's positions, replacing the files as one set.

    The outputs of one stage: a killed run leaves all the old files or, once the next
    ``conveyor run`` has recovered them, all the new ones (see ``conveyor._atomic``).
    """
    paths = [root / relative for relative in parts]
    with _atomic.atomic_paths(paths) as temps:
        for tmp, rows in zip(temps, parts.values(), strict=True):
            write_parquet(tmp, frame, rows=rows)


def write_parquet(
    file: Path,
    frame: pd.DataFrame,
    *,
    rows: np.ndarray | None = None,
    schema: pa.Schema | None = None,
) -> None:
    """Write ``frame`` (or its rows at ``rows``) to ``file`` as Parquet, a row group at a time.

    Converting the whole frame to Arrow first, or taking the rows into a new frame, would
    double it in memory; this way the extra is one row group. ``schema``: the column types
    to write; by default the ones a source declared in ``frame.attrs`` (``SNAPSHOT_SCHEMA``),
    else what pyarrow infers from the values.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if SNAPSHOT_SCHEMA in frame.attrs:  # not into the file's pandas metadata: not JSON
        declared = frame.attrs[SNAPSHOT_SCHEMA]
        frame = frame.copy(deep=False)
        frame.attrs = {k: v for k, v in frame.attrs.items() if k != SNAPSHOT_SCHEMA}
        schema = schema or declared
    count = len(frame) if rows is None else len(rows)

    def chunk(start: int) -> pd.DataFrame:
        if rows is None:
            return frame.iloc[start : start + _ROW_GROUP]
        return frame.take(rows[start : start + _ROW_GROUP])

    first = pa.Table.from_pandas(chunk(0), schema=schema, preserve_index=False)
    with pq.ParquetWriter(file, first.schema) as writer:
        writer.write_table(first)
        for start in range(_ROW_GROUP, count, _ROW_GROUP):
            writer.write_table(
                pa.Table.from_pandas(chunk(start), schema=first.schema, preserve_index=False)
            )


def require_column(frame: pd.DataFrame, column: str, *, key: str, file: str) -> None:
    """Raise a DataError naming the config key when ``column`` is absent."""
    if column in frame.columns:
        return
    names = [str(c) for c in frame.columns]
    close = difflib.get_close_matches(column, names, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
    raise DataError(
        f"column '{column}' is not in {file}",
        where=key,
        fix=f"{hint}columns: {', '.join(names[:30])}{' ...' if len(names) > 30 else ''}",
    )
