"""The model's side of monitoring: its scores on a batch, the labels, and its performance.

Scores come from the prediction log when the batch is one (``_score``), else from the model, a
chunk of rows at a time; rows the model's input schema refuses are counted, not fatal. Labels
come from the batch's own target column or from label files joined on an id column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from conveyor.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from conveyor.bundle.predictor import Predictor
    from conveyor.monitoring._batch import Batch
    from conveyor.plugins import Plugins

CHUNK_ROWS = 65_536
"""Rows scored at a time: the model's input matrix stays small however large the batch."""
DEFAULT_METRICS = {
    "binary_classification": "roc_auc",
    "multiclass_classification": "accuracy",
    "regression": "rmse",
}
"""The metric when neither ``monitor.performance.metric`` nor ``evaluate`` names one."""


@dataclass(frozen=True)
class Scores:
    """The model's predictions on a table, one entry per row (rows it could not score: NaN)."""

    score: np.ndarray
    """What monitoring compares: P(positive class), the top probability, or the value."""
    predicted: np.ndarray
    """The predicted class index (classifiers) or value, per row."""
    proba: np.ndarray | None
    """Class probabilities (rows, classes) for classifiers."""
    scored: np.ndarray
    """Which rows passed the model's input schema and were scored."""
    problems: tuple[str, ...] = ()
    """The first input problems of the rows that were not scored."""

    @property
    def unscored(self) -> int:
        """How many rows the model refused (they count as null predictions)."""
        return int((~self.scored).sum())


def can_score(predictor: Predictor) -> bool:
    """Whether the model gives scores: a classifier without probabilities (LinearSVC) does not.

    Monitoring then compares the features only, as with no model.
    """
    return predictor.classes is None or hasattr(predictor.bundle.pipeline, "predict_proba")


def logged_score(table: pa.Table) -> np.ndarray | None:
    """The prediction log's score (classifiers) or prediction (regression), if the batch has it."""
    import numpy as np
    import pyarrow as pa

    from conveyor.monitoring import _batch

    for name in (_batch.LOG_SCORE, _batch.LOG_PREDICTION):
        if name not in table.column_names:
            continue
        column = table.column(name)
        if column.null_count == len(column) or not pa.types.is_floating(column.type):
            continue  # a regression's _score is all null; a classifier's _prediction is a label
        return np.asarray(column.to_numpy(), dtype=np.float64)
    return None


def model_inputs(batch: Batch, predictor: Predictor, where: str) -> pa.Table:
    """The model's input columns of the batch; DataError naming those it lacks."""
    check_inputs(batch.has, predictor, where)
    table: pa.Table = batch.table.select(list(predictor.schema.names))
    return table


def check_inputs(has: Callable[[str], bool], predictor: Predictor, where: str) -> None:
    """DataError naming the model's input columns that the batch (``has``) lacks."""
    missing = [name for name in predictor.schema.names if not has(name)]
    if missing:
        raise DataError(
            f"the batch lacks the model's input columns {', '.join(map(repr, missing[:10]))}",
            where=where,
            fix=f"give every file the columns of model '{predictor.name}' (its schema.json)",
        )


def score_table(predictor: Predictor, table: pa.Table, *, chunk_rows: int | None = None) -> Scores:
    """Score every row of ``table`` that passes the model's input schema, a chunk at a time.

    ``chunk_rows``: the chunk (default :data:`CHUNK_ROWS`, read when called).
    """
    import numpy as np
    import pyarrow as pa

    from conveyor.bundle.inputs import select

    rows = table.num_rows
    classes = len(predictor.classes) if predictor.classes else 0
    score = np.full(rows, np.nan)
    predicted = np.full(rows, np.nan)
    proba = np.full((rows, classes), np.nan) if classes else None
    scored = np.zeros(rows, dtype=bool)
    problems: list[str] = []
    step = chunk_rows or CHUNK_ROWS
    for start in range(0, rows, step):
        chunk = table.slice(start, step)
        columns = {}
        for rule in predictor.schema.rules:
            column = chunk.column(rule.name)
            if rule.kind == "text" and not pa.types.is_string(column.type):
                column = column.cast(pa.string())
            columns[rule.name] = column.to_numpy(zero_copy_only=False)
        # from_text: a CSV's booleans arrive as "true"/"false"; numbers are already parsed.
        checked = predictor.schema.check(columns, from_text=True, extra="ignore")
        good = ~checked.bad_rows
        if len(problems) < 5:
            problems += [p.render() for p in checked.problems[: 5 - len(problems)]]
        if not good.any():
            continue
        out = predictor.predict(select(checked, good) if not good.all() else checked)
        done = np.flatnonzero(good) + start
        scored[done] = True
        if out.proba is None or proba is None:
            predicted[done] = out.labels
            score[done] = out.labels
        else:
            proba[done] = out.proba
            predicted[done] = out.proba.argmax(axis=1)
            score[done] = out.proba[:, 1] if classes == 2 else out.proba.max(axis=1)
    return Scores(score, predicted, proba, scored, tuple(problems))


@dataclass(frozen=True)
class Truth:
    """The label of each batch row, where known."""

    values: np.ndarray
    """The label per batch row (None where unknown), as Python objects or numbers."""
    known: np.ndarray
    source: str


def truth(
    root: Path,
    batch: Batch,
    labels: Sequence[str],
    *,
    target: str | None,
    id_column: str | None,
    where: str,
    labels_where: str,
) -> Truth | None:
    """The label of each batch row: its own target column, or the labels joined on the id.

    ``where`` names the batch in errors, ``labels_where`` the labels.
    """
    source = truth_source(
        root,
        batch.has,
        labels,
        target=target,
        id_column=id_column,
        where=where,
        labels_where=labels_where,
    )
    if source is None:
        return None
    if isinstance(source, Labels):
        assert id_column is not None  # noqa: S101 - labels are joined on it
        return source.join(batch.table.column(id_column))
    return own_truth(batch.table.column(source), source)


def own_truth(column: pa.ChunkedArray, target: str) -> Truth:
    """The batch's own target column ``column`` as the labels."""
    import numpy as np

    values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)
    return Truth(values, _known(values), f"column '{target}' of the batch")


def truth_source(
    root: Path,
    has: Callable[[str], bool],
    labels: Sequence[str],
    *,
    target: str | None,
    id_column: str | None,
    where: str,
    labels_where: str,
) -> str | Labels | None:
    """Where the labels come from: the target column (its name), label files read, or None.

    ``has`` says whether every file of the batch holds a column. The label files are read
    and checked here (ids, repeats), before any row of the batch is scored.
    """
    from conveyor.monitoring import _batch

    if target is None:
        return None
    if has(target):
        return target
    if not labels:
        return None
    if id_column is None:
        raise DataError(
            "labels are joined to the batch by an id column, and none is given",
            where=labels_where,
            fix="set monitor.id_column (or --id-column) to a column of the batch and the labels",
        )
    if not has(id_column):
        raise DataError(
            f"the batch has no id column '{id_column}' to join the labels on",
            where=where,
            fix=f"add '{id_column}' to every file of the batch, or fix monitor.id_column",
        )
    files = _batch.expand(root, labels, where=labels_where)
    table = _batch.read_batch(root, files, required=[id_column, target], where=labels_where).table
    return Labels.read(table, id_column, target, files, where=labels_where)


@dataclass(frozen=True)
class Labels:
    """The label files: each id (as text) and its label."""

    keys: pd.Index
    label: np.ndarray
    source: str

    @classmethod
    def read(
        cls, table: pa.Table, id_column: str, target: str, files: Sequence[Path], *, where: str
    ) -> Labels:
        """The labels of ``table``; DataError when an id repeats."""
        import numpy as np
        import pandas as pd
        import pyarrow as pa

        keys = pd.Index(table.column(id_column).cast(pa.string()).to_numpy(zero_copy_only=False))
        if not keys.is_unique:
            repeated = keys[keys.duplicated()].unique()[:5].tolist()
            raise DataError(
                f"the labels repeat ids {', '.join(map(repr, repeated))} of '{id_column}'",
                where=where,
                fix="give each id one label",
            )
        label = np.asarray(table.column(target).to_numpy(zero_copy_only=False), dtype=object)
        shown = ", ".join(f.name for f in files[:3]) + (" ..." if len(files) > 3 else "")
        return cls(keys, label, f"labels joined on '{id_column}' ({shown})")

    def join(self, ids: pa.ChunkedArray) -> Truth:
        """The label of each row whose id is ``ids``, matched as text."""
        import numpy as np
        import pyarrow as pa

        wanted = ids.cast(pa.string()).to_numpy(zero_copy_only=False)
        position = self.keys.get_indexer(wanted)
        found = position >= 0
        values = np.full(len(wanted), None, dtype=object)
        values[found] = self.label[position[found]]
        known = found & _known(values)
        return Truth(values, known, self.source)


def _known(values: np.ndarray) -> np.ndarray:
    """Where a label is present: not null, not NaN."""
    import numpy as np

    return np.fromiter(
        (v is not None and v == v for v in values),  # NaN != NaN
        dtype=bool,
        count=len(values),
    )


def performance(
    predictor: Predictor,
    scores: Scores,
    truth: Truth,
    *,
    metric: str,
    max_drop: float,
    reference_metrics: Mapping[str, Any],
    plugins: Plugins | None,
    relative: bool = True,
) -> dict[str, Any]:
    """The metric on the labelled, scored rows, and its change from the reference.

    ``drop`` is in the metric's units, positive when worse; ``tolerated_drop`` is ``max_drop``
    in the same units (times the reference's magnitude when ``relative``; None without one).
    """
    import math

    import numpy as np

    from conveyor.plugins import Metric, Plugins

    registry = (plugins or Plugins.discover())["metric"]
    scorer = cast(
        "Metric", registry.load(metric, where="monitor.performance.metric").from_config({})
    )
    rows = truth.known & scores.scored
    y_true: np.ndarray = truth.values[rows]
    unknown_classes: list[str] = []
    if predictor.classes is not None:
        index = {_label_key(c): position for position, c in enumerate(predictor.classes)}
        encoded = np.asarray([index.get(_label_key(v), -1) for v in y_true])
        unknown_classes = sorted({str(v) for v, e in zip(y_true, encoded, strict=True) if e < 0})
        keep = encoded >= 0
        rows[np.flatnonzero(rows)[~keep]] = False
        y_true = encoded[keep]
    else:
        y_true = y_true.astype(np.float64)
    value = None
    if rows.any():
        y_pred = scores.predicted[rows]
        if predictor.classes is not None:
            y_pred = y_pred.astype(np.int64)
        y_score = scores.proba[rows] if scores.proba is not None else None
        value = float(scorer.compute(y_true, y_pred, y_score))
        value = value if math.isfinite(value) else None
    recorded = reference_metrics.get(metric)
    reference = float(recorded) if isinstance(recorded, int | float) else None
    drop = None
    if value is not None and reference is not None:
        drop = reference - value if scorer.higher_is_better else value - reference
    tolerated = tolerated_drop(max_drop, reference, relative=relative)
    result: dict[str, Any] = {
        "metric": metric,
        "value": value,
        "reference": reference,
        "drop": drop,
        "max_drop": max_drop,
        "relative": relative,
        "tolerated_drop": tolerated,
        "dropped": drop is not None and tolerated is not None and drop > tolerated,
        "higher_is_better": scorer.higher_is_better,
        "rows": int(rows.sum()),
        "source": truth.source,
    }
    if unknown_classes:
        result["unknown_classes"] = unknown_classes[:20]
    return result


def tolerated_drop(max_drop: float, reference: float | None, *, relative: bool) -> float | None:
    """``max_drop`` in the metric's units: a share of ``|reference|`` when ``relative``."""
    if not relative:
        return max_drop
    return None if reference is None else max_drop * abs(reference)


def _label_key(value: object) -> str:
    """A label as the bundle's class list spells it: ``1.0`` from a CSV matches class ``1``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
