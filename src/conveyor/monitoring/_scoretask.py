"""The tasks that score a batch file by file, in the chunks an in-memory run cuts.

``score_table`` scores a whole table in chunks of ``_scores.CHUNK_ROWS`` rows: rows
``k * CHUNK_ROWS`` up to ``(k + 1) * CHUNK_ROWS`` of the concatenated files. Here one task per
file (:func:`score_file`, on the executor's workers, or one after another in process) reads the
file once, counts its columns into the reference grid when asked (as ``_counted`` does), and
scores the chunks that start in it, reading the head of the next file(s) for its last chunk, so
every ``predict`` call sees the rows it sees in memory, and each score and each unscored row's
reason is the same, whatever the model. A task keeps of the scores what its caller needs: the
prediction's grid counts or exact part (``monitor``, ``_scored``), the labelled rows' scores
(the metric), or every score in row order (the reference profile, :func:`batch_scores`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from conveyor.monitoring import _batch, _grid, _scores, _sharded, _stats

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from concurrent.futures import Future
    from pathlib import Path

    from conveyor.bundle.predictor import Predictor


@dataclass(frozen=True)
class Head:
    """The first ``rows`` rows of a later file, to finish a task's last chunk."""

    path: Path
    display: str
    rows: int


@dataclass(frozen=True)
class ScoreTask:
    """One file: the columns to count, and the rows to score (with the label or id column)."""

    scan: _sharded.ScanTask
    counted: tuple[_grid.ColumnCount, ...]
    scoring: pa.Schema
    """The model's inputs and ``keep``, in the batch's types (no fields: nothing to score)."""
    inputs: tuple[str, ...]
    chunk: int
    """``_scores.CHUNK_ROWS`` as the driver reads it."""
    skip: int
    """Rows of this file before the first chunk that starts in it."""
    heads: tuple[Head, ...]
    prediction: _grid.ColumnCount | None
    """Count the scores into this grid (else ``kind``: their exact part)."""
    kind: str | None
    keep: str | None
    """The target or id column: the labelled rows' scores are kept with it."""
    every: bool = False
    """Keep every score, in row order (the reference profile's prediction)."""


@dataclass(frozen=True)
class Rows:
    """One task's scored rows, for the metric: all of them (compacted on the driver)."""

    score: np.ndarray
    predicted: np.ndarray
    proba: np.ndarray | None
    scored: np.ndarray
    kept: pa.ChunkedArray


@dataclass(frozen=True)
class FileScore:
    """One task's counts, the prediction's part, and its rows refused by the model."""

    parts: tuple[_grid.Part, ...]
    prediction: _grid.Part | _sharded.ColumnPart | None = None
    unscored: int = 0
    problems: tuple[str, ...] = ()
    rows: Rows | None = None
    scores: np.ndarray | None = None
    """Every score of the task's chunks, in row order (NaN: refused), when asked."""


def score_file(task: ScoreTask, predictor: Predictor | None) -> FileScore:
    """One file counted and its chunks scored, from one read (on a worker, or in process)."""
    table = pa.concat_tables(list(_sharded.typed_parts(task.scan)))
    parts = tuple(_grid.count(table.column(column.name), column) for column in task.counted)
    names = task.scoring.names
    if predictor is None or not task.inputs or task.skip >= table.num_rows:
        return FileScore(parts)
    pieces = [table.select(names).cast(task.scoring).slice(task.skip)]
    del table
    for head in task.heads:
        pieces.append(_head(head, task.scoring, task.scan.numeric, task.scan.where))
    rows = pa.concat_tables(pieces)
    scores = _scores.score_table(predictor, rows.select(list(task.inputs)), chunk_rows=task.chunk)
    values = pa.chunked_array([pa.array(scores.score)])
    prediction: _grid.Part | _sharded.ColumnPart | None = None
    if task.prediction is not None:
        prediction = _grid.count(values, task.prediction)
    elif task.kind is not None:
        side = _stats.Side.of(values, task.kind, "prediction")
        prediction = _sharded.ColumnPart(side.nulls, ordered=side.ordered, counts=side.counts)
    kept: Rows | None = None
    if task.keep is not None:
        kept = Rows(scores.score, scores.predicted, scores.proba, scores.scored,
                    rows.column(task.keep))  # fmt: skip
    every = scores.score if task.every else None
    return FileScore(parts, prediction, scores.unscored, scores.problems, kept, every)


def _head(head: Head, schema: pa.Schema, numeric: frozenset[str], where: str) -> pa.Table:
    """The first ``head.rows`` rows of a file's ``schema`` columns, typed as ``read_batch``'s."""
    names, count = schema.names, 0
    pieces: list[pa.Table] = []
    if head.path.suffix == ".csv":
        parts = iter([_batch._read(head.path, head.display, names, where)])
    else:
        parts = _batch.read_parts(head.path, head.display, names, where)
    for part in parts:
        typed = _batch._typed(part, numeric, head.display, where)
        pieces.append(typed.select(names).cast(schema).slice(0, head.rows - count))
        count += pieces[-1].num_rows
        if count >= head.rows:
            break
    return pa.concat_tables(pieces)


def tasks(
    batch: _sharded.ShardedBatch,
    counted: Sequence[_grid.ColumnCount],
    inputs: Sequence[str],
    keep: str | None,
    prediction: _grid.ColumnCount | None,
    kind: str | None,
    *,
    every: bool = False,
) -> list[ScoreTask]:
    """One task per file with work in it, in file order (chunks cut as ``score_table`` cuts)."""
    chunk, total = _scores.CHUNK_ROWS, batch.rows
    names = [*inputs, *([keep] if keep is not None and inputs else [])]
    scoring = pa.schema([batch.schema.field(name) for name in dict.fromkeys(names)])
    wanted = tuple(dict.fromkeys([*(c.name for c in counted), *scoring.names]))
    offsets = np.concatenate(([0], np.cumsum(batch.file_rows))).tolist()
    found: list[ScoreTask] = []
    for index, (path, shown) in enumerate(zip(batch.files, batch.shown, strict=True)):
        start, stop = offsets[index], offsets[index + 1]
        first = -(-start // chunk) * chunk  # the first chunk that starts in this file
        heads: list[Head] = []
        if inputs and first < stop:
            end = min((stop - 1) // chunk * chunk + chunk, total)  # its last chunk's end
            later = range(index + 1, len(batch.files))
            heads = [
                Head(batch.files[j], batch.shown[j], min(end, offsets[j + 1]) - offsets[j])
                for j in later
                if offsets[j] < end and offsets[j + 1] > offsets[j]
            ]
        elif not counted:
            continue  # nothing to count, no chunk starts here
        scan = _sharded.ScanTask(path, shown, (), wanted, batch.numeric, batch.where)
        found.append(
            ScoreTask(
                scan,
                tuple(counted),
                scoring,
                tuple(inputs),
                chunk,
                first - start,
                tuple(heads),
                prediction,
                kind,
                keep,
                every,
            )
        )
    return found


def run(
    batch: _sharded.ShardedBatch, found: Sequence[ScoreTask], predictor: Predictor | None
) -> Iterator[FileScore]:
    """Each task's result, in order, a few tasks ahead (never every file's rows at once).

    On an executor each worker process predicts with one thread, as ``conveyor score``'s do;
    in process the predictor keeps its own (the scores do not depend on it).
    """
    from conveyor.plugins.executor import InlineSession

    if predictor is not None and not isinstance(batch.session, InlineSession):
        predictor = predictor.with_threads(1)
    model = batch.session.share(predictor) if predictor is not None else None
    ahead = max(2, 2 * batch.session.workers)
    pending: deque[Future[FileScore]] = deque()
    try:
        for task in found:
            pending.append(batch.session.submit(score_file, task, model))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def batch_scores(batch: _sharded.ShardedBatch, predictor: Predictor, where: str) -> np.ndarray:
    """``score_table(predictor, model_inputs(read_batch(...))).score``, a file per task.

    The tasks run on the batch's executor; their scores are joined in file order, so each row
    has its in-memory score (NaN where the model refuses it). Held: 8 bytes a row.
    """
    _scores.check_inputs(batch.has, predictor, where)
    found = tasks(batch, [], list(predictor.schema.names), None, None, None, every=True)
    parts = [result.scores for result in run(batch, found, predictor)]
    done = [part for part in parts if part is not None]
    return np.concatenate(done) if done else np.full(0, np.nan)
