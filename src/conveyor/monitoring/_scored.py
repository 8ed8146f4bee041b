"""A batch the model must score, or that carries labels, monitored file by file.

After the scan (``_sharded.scan_batch``: the files' types, nulls and rows, checked as
``read_batch`` checks them), one task per file (:func:`score_file`, on the executor's workers,
or one after another in process) reads the file once and

- counts its profiled columns (and a logged score) into the reference grid, as ``_counted``
  does, when the batch is above ``_grid.COUNT_ROWS`` rows;
- scores the model's inputs in the very chunks ``_scores.score_table`` cuts from the whole
  batch: rows ``k * CHUNK_ROWS`` up to ``(k + 1) * CHUNK_ROWS`` of the concatenated files. The
  task of a file scores the chunks that start in it, reading the head of the next file(s) for
  its last chunk, so every ``predict`` call sees the rows it sees in memory, and each score and
  each unscored row's reason is the same, whatever the model;
- keeps of the scores what the comparison needs: the prediction's grid counts (or, below the
  threshold, its sorted values), and for labelled batches the (label, prediction,
  probabilities) of the rows that are both labelled and scored, never the batch.

The driver merges the files' parts in file order, and runs the drift tests and the metric on
the same numbers in process and on any executor. The metric needs every labelled row's score
(an AUC is not a sum of parts): those few columns are held, 8 bytes a class and a row; the
labels file, joined on the id, is read whole on the driver as before.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from conveyor.monitoring import _batch, _grid, _scores, _sharded, _stats

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from concurrent.futures import Future
    from pathlib import Path

    from conveyor.bundle.predictor import Predictor
    from conveyor.monitoring.drift import DriftOptions, DriftReport
    from conveyor.monitoring.profile import Profile
    from conveyor.monitoring.request import MonitorRequest
    from conveyor.plugins import Plugins


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


@dataclass(frozen=True)
class Unscored:
    """The whole batch's unscored rows and their first reasons (``drift_document``'s)."""

    unscored: int
    problems: tuple[str, ...]


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
    return FileScore(parts, prediction, scores.unscored, scores.problems, kept)


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


def compare_scored(
    root: Path,
    request: MonitorRequest,
    batch: _sharded.ShardedBatch,
    *,
    logged: str | None,
    scorer: Predictor | None,
    target: str | None,
    options: DriftOptions,
    plugins: Plugins | None,
) -> tuple[DriftReport, dict[str, Any] | None, dict[str, Any]]:
    """The drift report, the performance and drift.json of a scored or labelled batch.

    The same checks, in the same order, as the in-memory path: the model's inputs (when it
    must score), then the labels' source (the target column, or the label files read and
    their ids checked), before any row is scored.
    """
    from conveyor.monitoring._compare import Tests, compare_sides
    from conveyor.monitoring._document import drift_document
    from conveyor.plugins import Registry

    reference, where = request.reference, request.where
    predicting = reference.prediction is not None and logged is None and scorer is not None
    if predicting:
        assert scorer is not None  # noqa: S101 - checked above
        _scores.check_inputs(batch.has, scorer, where)
    source = _scores.truth_source(
        root, batch.has, request.labels, target=target, id_column=request.id_column,
        where=where, labels_where=request.labels_where,
    )  # fmt: skip
    judged = source is not None and scorer is not None
    if judged:
        assert scorer is not None  # noqa: S101 - checked above
        _scores.check_inputs(batch.has, scorer, where)
    keep = None
    if judged:
        keep = source if isinstance(source, str) else request.id_column
    names = [name for name in reference.names if name not in set(options.ignore)]
    counted = batch.rows > _grid.count_rows()
    columns = _columns(batch, reference, names, logged) if counted else []
    kind = reference.prediction["kind"] if predicting and reference.prediction else None
    grid = None
    if counted and kind is not None:
        assert reference.prediction is not None  # noqa: S101 - kind is its kind
        grid = _grid.column_count("prediction", reference.prediction, numeric=True, as_scores=True)
    inputs = list(scorer.schema.names) if scorer is not None and (predicting or judged) else []
    found = tasks(batch, columns, inputs, keep, grid, None if grid else kind)
    model = scorer if inputs else None
    parts: list[tuple[_grid.Part, ...]] = []
    predicted: list[_grid.Part | _sharded.ColumnPart] = []
    metric_rows = _Rows(batch, keep, source)
    unscored, problems = 0, list[str]()
    for result in run(batch, found, model):
        if columns:
            parts.append(result.parts)
        if result.prediction is not None:
            predicted.append(result.prediction)
        unscored += result.unscored
        problems += result.problems[: max(0, 5 - len(problems))]
        if result.rows is not None:
            metric_rows.add(result.rows)
    sides: dict[tuple[str, bool], _stats.Side] = {}
    for at, column in enumerate(columns):
        side = _grid.merge([each[at] for each in parts], column)
        exact = functools.partial(batch.side, column.name, column.kind, as_scores=column.as_scores)
        sides[column.name, column.as_scores] = dataclasses.replace(side, exact=exact)
    prediction: _stats.Side | None = None
    if kind is not None and grid is not None:
        side = _grid.merge([p for p in predicted if isinstance(p, _grid.Part)], grid)
        exact = functools.partial(_exact_prediction, batch, scorer, kind)
        prediction = dataclasses.replace(side, exact=exact)
    elif kind is not None:
        prediction = _sharded.merge_parts(
            [p for p in predicted if isinstance(p, _sharded.ColumnPart)], kind
        )
    elif reference.prediction is not None and logged is not None:
        score_kind = reference.prediction["kind"]
        prediction = sides.get((logged, True)) or batch.side(logged, score_kind, as_scores=True)

    def side_of(name: str, column_kind: str) -> _stats.Side:
        return sides[name, False] if counted else batch.side(name, column_kind)

    registry = plugins["drift_test"] if plugins is not None else Registry.discover("drift_test")
    report = compare_sides(
        reference, names, side_of, batch.rows, prediction, options, Tests(registry)
    )
    performance = None
    if judged:
        assert scorer is not None  # noqa: S101 - checked above
        scores, truth = metric_rows.pairs()
        performance = _scores.performance(
            scorer,
            scores,
            truth,
            metric=request.metric or _scores.DEFAULT_METRICS[scorer.task],
            max_drop=request.max_drop,
            relative=request.relative,
            reference_metrics=request.reference_metrics or {},
            plugins=plugins,
        )
    tally = Unscored(unscored, tuple(problems)) if inputs else None
    document = drift_document(
        report, performance, tally, batch.shown, request.predictor, request.reference_name
    )
    return report, performance, document


def _columns(
    batch: _sharded.ShardedBatch, reference: Profile, names: Sequence[str], logged: str | None
) -> list[_grid.ColumnCount]:
    """How each profiled column (and the logged score) is counted, in the batch's types."""
    wanted = [(name, False) for name in names]
    if reference.prediction is not None and logged is not None:
        wanted.append((logged, True))
    return [
        dataclasses.replace(
            _grid.column_count(
                name,
                reference.prediction if scores and reference.prediction else reference.column(name),
                numeric=name in batch.numeric,
                as_scores=scores,
            ),
            type=batch.schema.field(name).type,
        )
        for name, scores in wanted
    ]


def _exact_prediction(
    batch: _sharded.ShardedBatch, scorer: Predictor | None, kind: str
) -> _stats.Side:
    """The model's scores on the whole batch as exact values (a drift test that needs them)."""
    found = tasks(batch, [], list(scorer.schema.names) if scorer else [], None, None, kind)
    parts = [r.prediction for r in run(batch, found, scorer)]
    return _sharded.merge_parts([p for p in parts if isinstance(p, _sharded.ColumnPart)], kind)


class _Rows:
    """The labelled, scored rows of the batch (label, prediction, probabilities), in order."""

    def __init__(
        self, batch: _sharded.ShardedBatch, keep: str | None, source: str | _scores.Labels | None
    ) -> None:
        self.source = source
        # to_numpy of the whole column gives floats when any file has a null in it
        self.floats = keep is not None and batch.nulls.get(keep, 0) > 0
        self.values: list[np.ndarray] = []
        self.score: list[np.ndarray] = []
        self.predicted: list[np.ndarray] = []
        self.proba: list[np.ndarray] = []

    def add(self, rows: Rows) -> None:
        """Keep a task's rows that are labelled and scored."""
        if isinstance(self.source, _scores.Labels):
            truth = self.source.join(rows.kept)
        else:
            column = rows.kept
            if self.floats and pa.types.is_integer(column.type) and not column.null_count:
                column = column.cast(pa.float64())
            truth = _scores.own_truth(column, str(self.source))
        take = truth.known & rows.scored
        self.values.append(truth.values[take])
        self.score.append(rows.score[take])
        self.predicted.append(rows.predicted[take])
        if rows.proba is not None:
            self.proba.append(rows.proba[take])

    def pairs(self) -> tuple[_scores.Scores, _scores.Truth]:
        """The rows as ``performance`` takes them (every one labelled and scored)."""
        values = np.concatenate(self.values) if self.values else np.empty(0, dtype=object)
        known = np.ones(len(values), dtype=bool)
        scores = _scores.Scores(
            np.concatenate(self.score) if self.score else np.empty(0),
            np.concatenate(self.predicted) if self.predicted else np.empty(0),
            np.concatenate(self.proba) if self.proba else None,
            known,
        )
        if isinstance(self.source, _scores.Labels):
            return scores, _scores.Truth(values, known, self.source.source)
        return scores, _scores.Truth(values, known, f"column '{self.source}' of the batch")
