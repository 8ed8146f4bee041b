"""Frames of a source's rows cut to the size ingest writes, for ``FrameScan.chunks``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.components._csv_stream import one_chunk_text

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import pandas as pd


def rechunked(frames: Iterable[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    """The rows of ``frames`` (of one set of dtypes) in frames of ``rows`` rows, the last fewer.

    Each text column is one Arrow chunk, as in a frame made whole (see ``one_chunk_text``).
    """
    import pandas as pd

    pending: list[pd.DataFrame] = []
    count = 0
    for frame in frames:
        if not len(frame):
            continue
        pending.append(frame)
        count += len(frame)
        while count >= rows:
            joined = pending[0] if len(pending) == 1 else pd.concat(pending, ignore_index=True)
            yield one_chunk_text(joined.iloc[:rows].reset_index(drop=True))
            rest = joined.iloc[rows:].reset_index(drop=True)
            pending, count = ([rest] if len(rest) else []), len(rest)
    if count:
        yield one_chunk_text(pd.concat(pending, ignore_index=True))
