"""Parquet between stages: read with a located error, write atomically."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from conveyor import _atomic
from conveyor.errors import DataError

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd


def read_frame(root: Path, relative: str, stage: str) -> pd.DataFrame:
    """Read a Parquet output of an upstream stage."""
    import pandas as pd

    path = root / relative
    if not path.is_file():
        raise DataError(
            f"input '{relative}' does not exist",
            where=f"stage '{stage}'",
            fix="run the upstream stages first: 'dvc repro' runs them in order",
        )
    return pd.read_parquet(path)


def write_frame(root: Path, relative: str, frame: pd.DataFrame) -> None:
    """Write ``frame`` to Parquet atomically, without the pandas index."""
    with _atomic.atomic_path(root / relative) as tmp:
        frame.to_parquet(tmp, index=False)


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
