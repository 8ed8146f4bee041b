"""Prometheus metrics of one server, in a registry of its own (several apps can share a process).

Everything is recorded inside the handlers, on the event loop thread, so no middleware wraps
the hot path. The prediction histogram is bucketed with numpy: a 10,000-row batch costs one
``searchsorted``, not 10,000 ``observe`` calls.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from itertools import accumulate
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np

    from conveyor.bundle.predictor import Prediction, Predictor

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
SCORE_BUCKETS = tuple(i / 10 for i in range(1, 11))
_SMALL = 16
REGRESSION_BUCKETS = (-1e4, -1e3, -1e2, -10.0, -1.0, 0.0, 1.0, 10.0, 1e2, 1e3, 1e4, 1e5)


class Telemetry:
    """The server's metrics; ``observe`` after each request, ``render`` for ``GET /metrics``."""

    def __init__(self, predictor: Predictor) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "conveyor_requests",
            "HTTP requests answered, by endpoint and status code",
            ["endpoint", "code"],
            registry=self.registry,
        )
        self._errors = Counter(
            "conveyor_request_errors",
            "Requests refused or failed, by endpoint and reason",
            ["endpoint", "reason"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "conveyor_request_duration_seconds",
            "Time spent in the handler, from the first body byte read to the response",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._rows = Counter(
            "conveyor_rows_scored", "Rows predicted", ["endpoint"], registry=self.registry
        )
        self._ignored = Counter(
            "conveyor_ignored_columns",
            "Request columns the model does not take, dropped (extra_columns: ignore)",
            ["endpoint"],
            registry=self.registry,
        )
        self._classes = Counter(
            "conveyor_predicted_class",
            "Predicted labels, by class",
            ["class"],
            registry=self.registry,
        )
        self._info = Gauge(
            "conveyor_model_info",
            "The model being served (always 1)",
            ["name", "version", "sha256", "fast_path"],
            registry=self.registry,
        )
        self.served(predictor)
        self._reloads = Counter(
            "conveyor_model_reloads",
            "New versions of the followed registry stage swapped in (conveyor serve --follow)",
            registry=self.registry,
        )
        self._reload_failures = Counter(
            "conveyor_model_reload_failures",
            "Checks of the followed stage that left the served version in place, by reason",
            ["reason"],
            registry=self.registry,
        )
        self._scores = _ScoreHistogram(predictor)
        self.registry.register(self._scores)
        self._children: dict[tuple[str, ...], Any] = {}

    def served(self, predictor: Predictor) -> None:
        """Say which model is served now (``conveyor_model_info`` holds one series)."""
        self._info.clear()
        self._info.labels(
            predictor.name, predictor.version, predictor.sha256, str(predictor.fast_path)
        ).set(1)

    def reloaded(self, reason: str | None = None) -> None:
        """Count a swap (``reason`` None) or a check that kept the served version, and why."""
        if reason is None:
            self._reloads.inc()
        else:
            self._reload_failures.labels(reason).inc()

    def observe(
        self, endpoint: str, code: int, seconds: float | None = None, *, reason: str | None = None
    ) -> None:
        """Count one answered request and its latency; ``reason`` marks an error."""
        self._child("requests", self._requests, endpoint, str(code)).inc()
        if seconds is not None:
            self._child("latency", self._latency, endpoint).observe(seconds)
        if reason is not None:
            self._child("errors", self._errors, endpoint, reason).inc()

    def ignored(self, endpoint: str, columns: int) -> None:
        """Count ``columns`` request columns dropped because the model does not take them."""
        self._child("ignored", self._ignored, endpoint).inc(columns)

    def predicted(self, endpoint: str, prediction: Prediction) -> None:
        """Count the rows scored and the distribution of what the model said."""
        labels = prediction.labels
        self._child("rows", self._rows, endpoint).inc(len(labels))
        if prediction.proba is not None:
            for label, count in Counter(labels.tolist()).items():
                self._child("classes", self._classes, str(label)).inc(count)
        self._scores.add(score(prediction))

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    def _child(self, kind: str, metric: Any, *labels: str) -> Any:  # noqa: ANN401
        """``metric.labels(*labels)``, cached: the lookup is a third of the cost of an update."""
        key = (kind, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child


def score(prediction: Prediction) -> np.ndarray:
    """One number per row: P(positive class), the max probability (multiclass), or the value."""
    proba = prediction.proba
    if proba is None:
        return prediction.labels.astype("float64", copy=False)
    return proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)


class _ScoreHistogram:
    """``conveyor_prediction_score``: a histogram fed whole arrays at a time."""

    def __init__(self, predictor: Predictor) -> None:
        if predictor.classes is None:
            self.help = "Predicted values (regression), bucketed"
            self.bounds = list(REGRESSION_BUCKETS)
        else:
            what = "P(positive class)" if len(predictor.classes) == 2 else "max class probability"
            self.help = f"Predicted {what}, bucketed"
            self.bounds = list(SCORE_BUCKETS)
        self.counts = [0] * (len(self.bounds) + 1)  # the last slot: above every bound
        self.total = 0.0

    def add(self, values: np.ndarray) -> None:
        """Count ``values`` (NaN and infinities are skipped)."""
        import numpy as np

        if len(values) <= _SMALL:  # the REST case: plain Python beats numpy's call overhead
            for value in values.tolist():
                if math.isfinite(value):
                    self.counts[bisect_left(self.bounds, value)] += 1
                    self.total += value
            return
        finite = values[np.isfinite(values)]
        slots = np.searchsorted(np.asarray(self.bounds), finite, side="left")
        for slot, count in enumerate(np.bincount(slots, minlength=len(self.counts)).tolist()):
            self.counts[slot] += count
        self.total += float(finite.sum())

    def collect(self) -> Iterator[Any]:
        """The histogram family, cumulative as Prometheus wants it."""
        from prometheus_client.core import HistogramMetricFamily

        cumulative = list(accumulate(self.counts))
        buckets = [(repr(float(b)), c) for b, c in zip(self.bounds, cumulative, strict=False)]
        buckets.append(("+Inf", cumulative[-1]))
        family = HistogramMetricFamily("conveyor_prediction_score", self.help)
        family.add_metric([], buckets, sum_value=self.total)
        yield family

    def describe(self) -> list[Any]:
        """Nothing to describe ahead of time (the registry then calls ``collect``)."""
        return []
