"""The reference profile out of core: one column, or one chunk of rows, at a time.

``profile_data`` uses it when its data exceed the memory budget and no executor is given
(the ``profile`` stage, ``CONVEYOR_MEMORY_BUDGET``). The profile is the same bytes as in
memory, because each number comes from the same values by the same code:

- the columns: the files are scanned a part at a time (``_sharded.scan_file``: types, nulls,
  rows) and each column is then read alone, summarised from its sorted values or counts as the
  executor path does (``_sharded.profile_columns``), and dropped before the next;
- the prediction: the model scores the rows in chunks of ``_scores.CHUNK_ROWS`` rows, the very
  chunks ``score_table`` cuts from the whole table, so each ``predict`` call sees the same rows.

What is held: one column (its Arrow values and a sorted float64 copy), one chunk of the model's
inputs, and the scores (8 bytes a row), never the whole table. Exact quantiles need every value
of a column; a grid of counts (as ``monitor`` keeps) would not give the profile's quantiles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.monitoring import _batch, _scores, _sharded

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path
    from typing import Literal

    import numpy as np
    import pyarrow as pa

    from conveyor.bundle.predictor import Predictor
    from conveyor.monitoring.profile import Profile


def can_stream(files: Sequence[Path]) -> bool:
    """Whether the files can be read a part at a time (Parquet; a CSV is typed whole)."""
    return all(file.suffix != ".csv" for file in files)


def profile_streamed(
    root: Path,
    files: Sequence[Path],
    *,
    predictor: Predictor | None,
    names: Sequence[str],
    kinds: Mapping[str, Literal["numeric", "categorical"]],
    needed: Sequence[str],
    numeric: Sequence[str],
    where: str,
) -> Profile:
    """The profile ``profile_data`` builds in memory, holding one column or chunk at a time."""
    from conveyor.monitoring.profile import assemble
    from conveyor.plugins.executor import InlineSession

    batch = _sharded.scan_batch(
        InlineSession(), root, files, required=needed, numeric=numeric, where=where
    )
    entries = {}
    for name in names:  # one column at a time: its values are dropped before the next
        entries.update(_sharded.profile_columns(batch, [name], kinds))
    prediction = None
    if predictor is not None and _scores.can_score(predictor):
        prediction = stream_scores(batch, predictor, where)
    return assemble(batch.rows, entries, prediction=prediction)


def stream_scores(batch: _sharded.ShardedBatch, predictor: Predictor, where: str) -> np.ndarray:
    """``score_table(predictor, model_inputs(read_batch(...))).score``, a chunk at a time."""
    import numpy as np

    empty = _batch.Batch(batch.schema.empty_table(), batch.shown)
    inputs = _scores.model_inputs(empty, predictor, where).schema  # its error, if any
    scores = [
        _scores.score_table(predictor, chunk).score
        for chunk in _chunks(batch, inputs, _scores.CHUNK_ROWS)
    ]
    return np.concatenate(scores) if scores else np.full(0, np.nan)


def _chunks(batch: _sharded.ShardedBatch, schema: pa.Schema, rows: int) -> Iterator[pa.Table]:
    """The batch's ``schema`` columns, typed as ``read_batch`` types them, ``rows`` at a time.

    Chunks run across file boundaries, so chunk k holds rows ``k*rows`` up to ``(k+1)*rows``
    of the concatenated files, as a slice of the whole table would.
    """
    import pyarrow as pa

    names = schema.names
    pending: list[pa.Table] = []
    count = 0
    for file, shown in zip(batch.files, batch.shown, strict=True):
        for part in _batch.read_parts(file, shown, names, batch.where, rows=rows):
            typed = _batch._typed(part, batch.numeric, shown, batch.where)
            pending.append(typed.select(names).cast(schema))
            count += part.num_rows
            while count >= rows:
                table = pa.concat_tables(pending)
                yield table.slice(0, rows)
                rest = table.slice(rows)
                pending, count = [rest], rest.num_rows
    if count:
        yield pa.concat_tables(pending)
