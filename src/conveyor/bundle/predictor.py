"""Predict with a bundle: the Pipeline, or a numpy fast path proven equal to it at load time.

Scoring one row through a fitted scikit-learn Pipeline costs milliseconds of per-step overhead
(pandas frames, column selection, input validation) for microseconds of arithmetic. When every
feature step is a per-column numeric transform (impute, standard/min-max/robust scaling) and the
model is XGBoost, the predictor lowers the steps to numpy operations on one float64 matrix and
calls the booster directly. The lowered path must reproduce ``Pipeline.predict_proba`` on probe
rows built from the schema (to 1e-9) or it is not used; ``fast_path_reason`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.bundle.inputs import Checked, InputSchema, UnknownCategories
from conveyor.bundle.manifest import MANIFEST
from conveyor.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    import numpy as np
    import pandas as pd

    from conveyor.bundle.bundle import Bundle

_PARITY_ROWS = 64
_PARITY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Prediction:
    """Predicted labels (classes or regression values) and class probabilities."""

    labels: np.ndarray
    proba: np.ndarray | None


class Predictor:
    """A loaded bundle ready to score checked rows."""

    def __init__(
        self, bundle: Bundle, *, unknown_categories: UnknownCategories = "error", threads: int = 1
    ) -> None:
        import json

        import numpy as np

        self.bundle = bundle
        self._settings = (unknown_categories, threads)
        self.schema = InputSchema.from_bundle(bundle.schema, unknown_categories=unknown_categories)
        self.task = str(bundle.schema.get("task", "regression"))
        self.classes = bundle.classes
        self.name = str(bundle.metadata.get("name", bundle.path.name))
        self.version = "local"
        manifest = json.loads((bundle.path / MANIFEST).read_text(encoding="utf-8"))
        self.sha256 = str(manifest.get("files", {}).get("pipeline.skops", ""))
        self._class_labels = np.asarray(self.classes, dtype=object) if self.classes else None
        self._fast: Callable[[np.ndarray], np.ndarray] | None = None
        self.fast_path_reason = "not tried"
        self._lower(threads)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as the bundle and settings, rebuilt (and re-lowered) where it is unpickled.

        An executor's worker gets the predictor this way; the lowered fast path is a closure.
        """
        unknown, threads = self._settings
        return (_rebuild, (self.bundle, unknown, threads, self.version))

    def with_threads(self, threads: int) -> Predictor:
        """This predictor predicting with ``threads`` threads (itself when it already does).

        An executor's worker process predicts with one, as ``conveyor score`` runs there.
        """
        unknown, current = self._settings
        if threads == current:
            return self
        return _rebuild(self.bundle, unknown, threads, self.version)

    @property
    def fast_path(self) -> bool:
        """Whether predictions skip the Pipeline for the verified numpy path."""
        return self._fast is not None

    def predict(self, checked: Checked) -> Prediction:
        """Predict the rows of a problem-free ``checked`` input."""
        if self._fast is not None:
            matrix = _matrix(checked, self.schema.names)
            scores = self._fast(matrix)
        else:
            scores = self._pipeline_scores(self._frame(checked))
        return self._prediction(scores)

    def predict_rows(
        self, columns: Mapping[str, Sequence[Any] | np.ndarray], *, from_text: bool = False
    ) -> Prediction:
        """Check ``columns`` against the schema, then predict; any problem raises InputError."""
        checked = self.schema.check(columns, from_text=from_text)
        if not checked.ok():
            raise InputError(
                "; ".join(p.render() for p in checked.problems[:10]),
                where=f"input of model '{self.name}'",
                fix=f"send the columns {', '.join(self.schema.names[:8])}"
                + (", ..." if len(self.schema.names) > 8 else "")
                + " with the types in the model's schema.json",
                problems=checked.problems,
            )
        return self.predict(checked)

    def probe(self, rows: int = _PARITY_ROWS) -> str | None:
        """Score rows built from the schema as requests are scored; what is wrong, or None.

        A server checks a candidate version this way before it swaps it in: the model must
        answer every probe row with a finite value (and probabilities that sum to one).
        """
        import numpy as np

        from conveyor.bundle import _lowering

        try:
            prediction = self.predict(_lowering.probe_rows(self.schema, rows))
        except Exception as exc:  # any failure refuses the model, and is reported
            return f"scoring {rows} probe rows raised {type(exc).__name__}: {exc}"
        if len(prediction.labels) != rows:
            return f"{rows} probe rows got {len(prediction.labels)} predictions"
        values = prediction.proba if prediction.proba is not None else prediction.labels
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            return "the model predicts NaN or infinity for probe rows"
        proba = prediction.proba
        if proba is not None and not np.allclose(proba.sum(axis=1), 1.0, atol=1e-6):
            return "the class probabilities of probe rows do not sum to one"
        return None

    def _prediction(self, scores: np.ndarray) -> Prediction:
        if self._class_labels is None:
            return Prediction(scores.astype("float64", copy=False), None)
        if scores.ndim == 1:  # a classifier without predict_proba: encoded labels, no scores
            return Prediction(self._class_labels[scores.astype("int64")], None)
        scores = scores.astype("float64", copy=False)
        return Prediction(self._class_labels[scores.argmax(axis=1)], scores)

    def _pipeline_scores(self, frame: pd.DataFrame) -> np.ndarray:
        pipeline = self.bundle.pipeline
        if self._class_labels is not None and hasattr(pipeline, "predict_proba"):
            return pipeline.predict_proba(frame)  # type: ignore[no-any-return]
        return pipeline.predict(frame)  # type: ignore[no-any-return]

    def _frame(self, checked: Checked) -> pd.DataFrame:
        """A DataFrame with the training dtypes, as the Pipeline was fitted on."""
        import pandas as pd

        data = {}
        for rule in self.schema.rules:
            array = checked.arrays[rule.name]
            data[rule.name] = _as_dtype(pd, array, rule.dtype)
        return pd.DataFrame(data, columns=list(self.schema.names))

    def _lower(self, threads: int) -> None:
        from conveyor.bundle import _lowering

        fast, reason = _lowering.lower(self.bundle.pipeline, self.schema, self.task, threads)
        if fast is None:
            self.fast_path_reason = reason
            return
        probe = _lowering.probe_rows(self.schema, _PARITY_ROWS)
        expected = self._pipeline_scores(self._frame(probe))
        got = fast(_matrix(probe, self.schema.names))
        if not _close(expected, got):
            self.fast_path_reason = "the numpy path differs from the Pipeline on probe rows"
            return
        self._fast, self.fast_path_reason = fast, reason


def _matrix(checked: Checked, names: tuple[str, ...]) -> np.ndarray:
    import numpy as np

    if checked.matrix is not None:
        return checked.matrix
    return np.column_stack([checked.arrays[n] for n in names]).astype(np.float64, copy=False)


def _close(expected: np.ndarray, got: np.ndarray) -> bool:
    import numpy as np

    expected = np.asarray(expected, dtype=np.float64)
    return expected.shape == got.shape and bool(
        np.allclose(expected, got, rtol=_PARITY_TOLERANCE, atol=_PARITY_TOLERANCE, equal_nan=True)
    )


def _as_dtype(pd: Any, array: np.ndarray, dtype: str) -> Any:  # noqa: ANN401
    """``array`` as the training ``dtype`` where that is safe; else as it is."""
    if dtype.startswith(("int", "uint")) and not _has_nan(array):
        return array.astype(dtype)
    if dtype in {"str", "string", "category", "object"}:
        return pd.array(array, dtype="str") if dtype == "str" else array
    return array


def _has_nan(array: np.ndarray) -> bool:
    import numpy as np

    return array.dtype.kind == "f" and bool(np.isnan(array).any())


def _rebuild(bundle: Bundle, unknown: UnknownCategories, threads: int, version: str) -> Predictor:
    predictor = Predictor(bundle, unknown_categories=unknown, threads=threads)
    predictor.version = version
    return predictor
