"""A batch the model must score, or that carries labels, monitored file by file.

After the scan (``_sharded.scan_batch``: the files' types, nulls and rows, checked as
``read_batch`` checks them), one task per file (``_scoretask.score_file``, on the executor's
workers, or one after another in process) reads the file once and

- counts its profiled columns (and a logged score) into the reference grid, as ``_counted``
  does, when the batch is above ``_grid.COUNT_ROWS`` rows;
- scores the model's inputs in the very chunks ``_scores.score_table`` cuts from the whole
  batch (a file's task scores the chunks that start in it, reading the head of the next
  file(s) for its last chunk: ``_scoretask``), so each score and each unscored row's reason is
  the in-memory run's, whatever the model;
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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from conveyor.monitoring import _grid, _scores, _sharded, _stats
from conveyor.monitoring._scoretask import Rows, run, tasks

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from conveyor.bundle.predictor import Predictor
    from conveyor.monitoring.drift import DriftOptions, DriftReport
    from conveyor.monitoring.profile import Profile
    from conveyor.monitoring.request import MonitorRequest
    from conveyor.plugins import Plugins


@dataclass(frozen=True)
class Unscored:
    """The whole batch's unscored rows and their first reasons (``drift_document``'s)."""

    unscored: int
    problems: tuple[str, ...]


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
