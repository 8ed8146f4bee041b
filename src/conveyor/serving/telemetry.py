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
        self._predictor = predictor
        self._versions: _Versions | None = None

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

    def by_version(
        self,
        version: str,
        role: str,
        code: int,
        seconds: float | None = None,
        *,
        reason: str | None = None,
        prediction: Prediction | None = None,
    ) -> None:
        """Count one request for the version that answered (or shadowed) it.

        Only a server with a canary or a shadow calls this, so the families appear only there.
        """
        versions = self._versions
        if versions is None:
            versions = self._versions = _Versions(self.registry, self._predictor)
        versions.child("requests", versions.requests, version, role, str(code)).inc()
        if seconds is not None:
            versions.child("latency", versions.latency, version, role).observe(seconds)
        if reason is not None:
            versions.child("errors", versions.errors, version, role, reason).inc()
        if prediction is not None:
            versions.child("rows", versions.rows, version, role).inc(len(prediction.labels))
            versions.scores.add(score(prediction), (version, role))

    def disagreed(self, version: str, rows: int) -> None:
        """Count ``rows`` whose shadow label differs from the answered label."""
        versions = self._versions
        if versions is not None and rows:
            versions.child("disagree", versions.disagreements, version).inc(rows)

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
    """A histogram of prediction scores fed whole arrays at a time, one series per label set.

    ``conveyor_prediction_score`` has no labels; ``conveyor_version_prediction_score`` one
    series per (version, role) of a server with a canary or a shadow.
    """

    def __init__(
        self,
        predictor: Predictor,
        name: str = "conveyor_prediction_score",
        labels: tuple[str, ...] = (),
    ) -> None:
        if predictor.classes is None:
            self.help = "Predicted values (regression), bucketed"
            self.bounds = list(REGRESSION_BUCKETS)
        else:
            what = "P(positive class)" if len(predictor.classes) == 2 else "max class probability"
            self.help = f"Predicted {what}, bucketed"
            self.bounds = list(SCORE_BUCKETS)
        self.name, self.labels = name, labels
        self.series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}
        if not labels:
            self.series[()] = ([0] * (len(self.bounds) + 1), [0.0])

    def add(self, values: np.ndarray, key: tuple[str, ...] = ()) -> None:
        """Count ``values`` (NaN and infinities are skipped) in the series ``key``."""
        import numpy as np

        series = self.series.get(key)
        if series is None:  # the last slot of the counts: above every bound
            series = self.series[key] = ([0] * (len(self.bounds) + 1), [0.0])
        counts, total = series
        if len(values) <= _SMALL:  # the REST case: plain Python beats numpy's call overhead
            for value in values.tolist():
                if math.isfinite(value):
                    counts[bisect_left(self.bounds, value)] += 1
                    total[0] += value
            return
        finite = values[np.isfinite(values)]
        slots = np.searchsorted(np.asarray(self.bounds), finite, side="left")
        for slot, count in enumerate(np.bincount(slots, minlength=len(counts)).tolist()):
            counts[slot] += count
        total[0] += float(finite.sum())

    def collect(self) -> Iterator[Any]:
        """The histogram family, cumulative as Prometheus wants it."""
        from prometheus_client.core import HistogramMetricFamily

        family = HistogramMetricFamily(self.name, self.help, labels=list(self.labels))
        for key, (counts, total) in sorted(self.series.items()):
            cumulative = list(accumulate(counts))
            buckets = [(repr(float(b)), c) for b, c in zip(self.bounds, cumulative, strict=False)]
            buckets.append(("+Inf", cumulative[-1]))
            family.add_metric(list(key), buckets, sum_value=total[0])
        yield family

    def describe(self) -> list[Any]:
        """Nothing to describe ahead of time (the registry then calls ``collect``)."""
        return []


class _Versions:
    """Per-version metrics of a server with a canary or a shadow, labelled version and role.

    ``role`` is ``primary`` or ``canary`` (the version answered) or ``shadow`` (it scored the
    request after the answer, which never showed it).
    """

    def __init__(self, registry: Any, predictor: Predictor) -> None:  # noqa: ANN401
        from prometheus_client import Counter, Histogram

        labels = ["version", "role"]
        self.requests = Counter(
            "conveyor_version_requests",
            "Scoring requests by the version that answered (or shadowed) them, and status code",
            [*labels, "code"],
            registry=registry,
        )
        self.errors = Counter(
            "conveyor_version_errors",
            "Scoring requests refused or failed, by version and reason (shadow: its own errors)",
            [*labels, "reason"],
            registry=registry,
        )
        self.latency = Histogram(
            "conveyor_version_duration_seconds",
            "Handler time by the version that answered; shadow: the candidate's scoring time",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.rows = Counter(
            "conveyor_version_rows_scored", "Rows predicted, by version", labels, registry=registry
        )
        self.disagreements = Counter(
            "conveyor_shadow_disagreements",
            "Rows whose shadow label differs from the answered one (classifiers)",
            ["version"],
            registry=registry,
        )
        self.scores = _ScoreHistogram(predictor, "conveyor_version_prediction_score", tuple(labels))
        registry.register(self.scores)
        self.children: dict[tuple[str, ...], Any] = {}

    def child(self, kind: str, metric: Any, *labels: str) -> Any:  # noqa: ANN401
        key = (kind, *labels)
        child = self.children.get(key)
        if child is None:
            child = self.children[key] = metric.labels(*labels)
        return child
