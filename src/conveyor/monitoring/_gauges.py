"""A monitoring run's findings as Prometheus gauges: a node_exporter textfile, a Pushgateway body.

Every series carries ``project`` and ``model`` (the model's name; empty when the batch was
compared without one) and ``version``. ``GAUGES`` lists every name written here, so the
alert rules and the dashboard under ``deploy/monitoring/`` are checked against it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conveyor.monitoring._alert import Alert

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_RUN = ("project", "model", "version")
GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "conveyor_drift_dataset": ("1 when the batch shows dataset drift", _RUN),
    "conveyor_drift_share": ("Share of the tested columns that drifted", _RUN),
    "conveyor_drift_columns": ("Number of drifted columns", _RUN),
    "conveyor_drift_column_statistic": (
        "Each column's drift statistic (p-value tests: the statistic; see method)",
        (*_RUN, "column", "method"),
    ),
    "conveyor_drift_column_threshold": (
        "Each column's drift threshold (p-value tests: the p-value's)",
        (*_RUN, "column", "method"),
    ),
    "conveyor_drift_column_drifted": ("1 when the column drifted", (*_RUN, "column")),
    "conveyor_drift_prediction": ("1 when the model's predictions drifted", _RUN),
    "conveyor_drift_prediction_statistic": (
        "The drift statistic of the model's predictions",
        (*_RUN, "method"),
    ),
    "conveyor_quality_issues": ("Number of data-quality issues in the batch", _RUN),
    "conveyor_performance_value": ("The metric on the labelled batch", (*_RUN, "metric")),
    "conveyor_performance_reference": (
        "The metric on the test split (reports/metrics.json)",
        (*_RUN, "metric"),
    ),
    "conveyor_performance_drop": (
        "1 when the metric worsened by more than max_drop",
        (*_RUN, "metric"),
    ),
    "conveyor_monitor_rows": ("Rows in the monitored batch", _RUN),
    "conveyor_monitor_last_run_timestamp_seconds": (
        "When the monitoring run finished (seconds since the epoch)",
        _RUN,
    ),
}


def exposition(alert: Alert) -> str:
    """The gauges of ``alert`` in the Prometheus text format (what node_exporter reads)."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry(auto_describe=True)
    gauges = {
        name: Gauge(name, text, list(labels), registry=registry)
        for name, (text, labels) in GAUGES.items()
    }
    run = (alert.project or "", alert.model or "", alert.version or "")

    def put(name: str, value: float, *extra: str) -> None:
        gauges[name].labels(*run, *extra).set(value)

    put("conveyor_drift_dataset", float(alert.dataset_drift))
    put("conveyor_drift_share", alert.drifted_share)
    put("conveyor_drift_columns", float(sum(c["drifted"] for c in alert.columns)))
    for column in alert.columns:
        name, method = column["column"], column["method"]
        put("conveyor_drift_column_statistic", column["statistic"], name, method)
        put("conveyor_drift_column_threshold", column["threshold"], name, method)
        put("conveyor_drift_column_drifted", float(column["drifted"]), name)
    if alert.prediction is not None:
        put("conveyor_drift_prediction", float(alert.prediction["drifted"]))
        statistic = alert.prediction["statistic"]
        put("conveyor_drift_prediction_statistic", statistic, alert.prediction["method"])
    put("conveyor_quality_issues", float(alert.quality_issues))
    performance = alert.performance
    if performance is not None:
        metric = performance["metric"]
        if performance["value"] is not None:
            put("conveyor_performance_value", performance["value"], metric)
        if performance["reference"] is not None:
            put("conveyor_performance_reference", performance["reference"], metric)
        put("conveyor_performance_drop", float(performance["dropped"]), metric)
    put("conveyor_monitor_rows", float(alert.rows))
    put("conveyor_monitor_last_run_timestamp_seconds", alert.time)
    return generate_latest(registry).decode("utf-8")
