"""The reference profile: a compact JSON summary of the training data and the model's predictions.

Monitoring compares new data with this profile, never with the training data itself. Per numeric
column it keeps a 1001-point quantile grid (enough for Wasserstein distances and PSI bins), the
range, mean, std, null rate, exact counts when there are at most 20 distinct values, and the raw
values when there are at most ``SAMPLE_LIMIT`` of them (so small references get exact KS tests).
Per categorical column it keeps the category counts (top 500, the rest under ``__other__``).
The document format is described in docs/monitoring.md ("Statistics").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from conveyor.errors import DataError
from conveyor.plugins.drift import grid_quantiles

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import numpy as np
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "CATEGORY_LIMIT",
    "OTHER",
    "PROFILE_VERSION",
    "QUANTILES",
    "SAMPLE_LIMIT",
    "Profile",
    "build_profile",
]

PROFILE_VERSION = 1
QUANTILES = 1001  # quantile grid u = 0, 0.001, ..., 1
SAMPLE_LIMIT = 1000  # at most this many values: keep them raw (exact KS / chi-square / z-test)
COUNT_LIMIT = 20  # numeric columns with at most this many distinct values also keep counts
CATEGORY_LIMIT = 500  # categories kept by name; the rest are summed under OTHER
UNIQUE_CAP = 1001  # "unique" is exact up to 1000; 1001 means "more than 1000"
OTHER = "__other__"

_KINDS = ("numeric", "categorical")
_REBUILD = "rebuild it with `dvc repro profile` (or `conveyor run profile`)"


@dataclass(frozen=True)
class Profile:
    """A reference profile; ``document`` is the JSON document (see docs/monitoring.md)."""

    document: dict[str, Any]

    @property
    def names(self) -> tuple[str, ...]:
        """The profiled column names, in table order (the prediction is not among them)."""
        return tuple(self.document["columns"])

    @property
    def rows(self) -> int:
        """Rows in the reference data."""
        return int(self.document["rows"])

    @property
    def prediction(self) -> dict[str, Any] | None:
        """The profile of the model's predictions on the reference data, if recorded."""
        found: dict[str, Any] | None = self.document.get("prediction")
        return found

    def column(self, name: str) -> dict[str, Any]:
        """The summary of column ``name``; DataError naming the profiled columns if absent."""
        try:
            found: dict[str, Any] = self.document["columns"][name]
        except KeyError:
            raise DataError(
                f"the reference profile has no column '{name}'",
                where="reference profile",
                fix=f"profiled columns: {', '.join(map(repr, self.names)) or '(none)'}",
            ) from None
        return found

    def to_json(self) -> str:
        """The document as compact JSON text (one line per column), ending with a newline."""
        columns = ",\n".join(
            f"  {json.dumps(name)}: {_dumps(summary)}"
            for name, summary in self.document["columns"].items()
        )
        head = f'{{"version": {self.document["version"]}, "rows": {self.rows},\n'
        prediction = _dumps(self.document.get("prediction"))
        return f'{head} "columns": {{\n{columns}\n }},\n "prediction": {prediction}}}\n'

    @classmethod
    def from_json(cls, text: str, where: str) -> Profile:
        """Parse and check a profile document; ``where`` (a file) locates any DataError."""
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise DataError(f"not a JSON profile ({exc})", where=where, fix=_REBUILD) from exc
        _check_document(document, where)
        return cls(document)


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _check_document(document: object, where: str) -> None:
    if not isinstance(document, dict) or "version" not in document:
        raise DataError("not a conveyor profile (no 'version' key)", where=where, fix=_REBUILD)
    if document["version"] != PROFILE_VERSION:
        raise DataError(
            f"profile version {document['version']!r} is not supported "
            f"(this conveyor reads version {PROFILE_VERSION})",
            where=where,
            fix=_REBUILD,
        )
    columns = document.get("columns")
    if not isinstance(document.get("rows"), int) or not isinstance(columns, dict):
        raise DataError("corrupt profile: 'rows' or 'columns' missing", where=where, fix=_REBUILD)
    prediction = document.get("prediction")
    summaries = [*columns.items(), *([("prediction", prediction)] if prediction else [])]
    for name, summary in summaries:
        if not isinstance(summary, dict) or summary.get("kind") not in _KINDS:
            raise DataError(
                f"corrupt profile: column '{name}' has no valid 'kind'", where=where, fix=_REBUILD
            )
        grid = "sample" if "sample" in summary else "quantiles"
        needed = ("count", "nulls", "unique") + (
            (grid, "min", "max", "std") if summary["kind"] == "numeric" else ("counts",)
        )
        if missing := [key for key in needed if key not in summary]:
            raise DataError(
                f"corrupt profile: column '{name}' lacks {', '.join(map(repr, missing))}",
                where=where,
                fix=_REBUILD,
            )


def build_profile(
    data: pa.Table | pd.DataFrame,
    *,
    kinds: Mapping[str, Literal["numeric", "categorical"]] | None = None,
    prediction: np.ndarray | None = None,
    prediction_kind: Literal["numeric", "categorical"] = "numeric",
    exclude: Sequence[str] = (),
) -> Profile:
    """Profile every column of ``data`` (but ``exclude``), one column at a time.

    Args:
        data: The reference data (a pyarrow Table or a pandas DataFrame).
        kinds: Column kinds; columns not listed are inferred from their dtype (integer, float
            and decimal columns are numeric; strings, categories and booleans are categorical).
        prediction: The model's predictions on ``data`` (one value per row), or None.
        prediction_kind: Whether the predictions are numbers (scores) or labels.
        exclude: Columns to leave out (the target, an id column).

    Returns:
        The profile.

    Raises:
        DataError: A column declared numeric holds non-numbers, or ``prediction`` has the
            wrong length.
    """
    from conveyor.monitoring import _columns

    kinds = kinds or {}
    rows = _columns.row_count(data)
    skipped = set(exclude)
    columns: dict[str, dict[str, Any]] = {}
    for name in _columns.column_names(data):
        if name in skipped:
            continue
        values = _columns.column(data, name)
        kind = kinds.get(name) or _columns.infer_kind(values)
        columns[name] = summarise(values, kind, rows=rows, where=f"column '{name}'")
    return assemble(rows, columns, prediction=prediction, prediction_kind=prediction_kind)


def assemble(
    rows: int,
    columns: dict[str, dict[str, Any]],
    *,
    prediction: np.ndarray | None = None,
    prediction_kind: Literal["numeric", "categorical"] = "numeric",
) -> Profile:
    """The profile of ``rows`` rows from its columns' entries and the predictions on them."""
    import numpy as np
    import pyarrow as pa

    summary = None
    if prediction is not None:
        scores = np.asarray(prediction).reshape(-1) if np.ndim(prediction) > 1 else prediction
        if len(scores) != rows:
            raise DataError(
                f"{len(scores)} predictions for {rows} rows",
                where="reference profile",
                fix="pass one prediction per row of the reference data",
            )
        array = pa.chunked_array([pa.array(np.asarray(scores), from_pandas=True)])
        summary = summarise(array, prediction_kind, rows=rows, where="prediction")
    document = {"version": PROFILE_VERSION, "rows": rows, "columns": columns}
    return Profile({**document, "prediction": summary})


def summarise(
    values: pa.ChunkedArray, kind: Literal["numeric", "categorical"], *, rows: int, where: str
) -> dict[str, Any]:
    """The profile entry of one column (``rows`` counts nulls too)."""
    from conveyor.monitoring import _columns

    if kind == "numeric":
        ordered, nulls = _columns.sorted_numeric(values, where=where)
        return numeric_summary(ordered, nulls)
    counts, nulls = _columns.category_counts(values)
    return categorical_summary(counts, nulls)


def numeric_summary(ordered: np.ndarray, nulls: int) -> dict[str, Any]:
    """The entry of a numeric column from its ascending finite values and null count."""
    from conveyor.monitoring import _columns

    count = len(ordered)
    summary: dict[str, Any] = {
        "kind": "numeric",
        "count": count,
        "nulls": nulls,
        "null_rate": nulls / (count + nulls) if count + nulls else 0.0,
    }
    if count == 0:
        empty: dict[str, Any] = {
            "min": None,
            "max": None,
            "mean": None,
            "std": None,
            "unique": 0,
            "quantiles": [],
        }
        return {**summary, **empty}
    unique = _columns.distinct_count(ordered)
    summary.update(
        min=float(ordered[0]),
        max=float(ordered[-1]),
        mean=float(ordered.mean()),
        std=float(ordered.std()),  # ddof=0, as Evidently's normed Wasserstein uses
        unique=min(unique, UNIQUE_CAP),
    )
    if count <= SAMPLE_LIMIT:  # the values themselves: exact tests, and the grid derives from them
        summary["sample"] = ordered.tolist()
    else:
        summary["quantiles"] = grid_quantiles(ordered, QUANTILES).tolist()
    if unique <= COUNT_LIMIT:
        summary["counts"] = _columns.sorted_counts(ordered)
    return summary


def categorical_summary(counts: Mapping[str, int], nulls: int) -> dict[str, Any]:
    """The entry of a categorical column: top ``CATEGORY_LIMIT`` counts, the rest as OTHER."""
    count = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[:CATEGORY_LIMIT])
    if rest := sum(n for _, n in ranked[CATEGORY_LIMIT:]):
        kept[OTHER] = rest
    return {
        "kind": "categorical",
        "count": count,
        "nulls": nulls,
        "null_rate": nulls / (count + nulls) if count + nulls else 0.0,
        "unique": min(len(counts), UNIQUE_CAP),
        "counts": kept,
    }
