"""deploy/monitoring/: the alert rules and the Grafana dashboard query only metrics that exist.

Every ``conveyor_*`` name in the rules and the dashboard must be a sample name that a real
server's ``GET /metrics`` exposes (after real requests) or that the drift gauge writer writes
(``monitor.alerts: [{kind: prometheus}]``), both parsed with prometheus_client's own parser.
``promtool check rules`` runs when promtool is installed (Debian: ``apt-get install
prometheus``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from conveyor.monitoring._gauges import GAUGES, exposition
from conveyor.monitoring.alert import Alert
from conveyor.serving.telemetry import Telemetry
from tests.conftest import REPO
from tests.unit.serving.conftest import cancer_frame, records

if TYPE_CHECKING:
    from collections.abc import Callable

    from conveyor.bundle.predictor import Predictor

DEPLOY = REPO / "deploy" / "monitoring"
RULES = DEPLOY / "alerts.rules.yml"
DASHBOARD = DEPLOY / "grafana-dashboard.json"
NAME = re.compile(r"\bconveyor_[a-z0-9_]+\b")


def sample_names(text: str) -> set[str]:
    from prometheus_client.parser import text_string_to_metric_families

    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


def server_names(serve: Callable[..., Any], cancer: Predictor) -> set[str]:
    """What a real server exposes after scoring, refusing a request, and two reload checks."""
    client = serve(cancer)
    x, _ = cancer_frame(5)
    assert client.post("/invocations", json={"dataframe_records": records(x)}).status_code == 200
    assert client.post("/invocations", json={"nonsense": 1}).status_code == 400
    names = sample_names(client.get("/metrics").text)
    telemetry = Telemetry(cancer)  # reloads happen only under --follow: count them directly
    telemetry.reloaded()
    telemetry.reloaded("refused")
    return names | sample_names(telemetry.render().decode())


def gauge_names() -> set[str]:
    """What the drift gauge writer writes for a run with every finding."""
    column = {"column": "a", "method": "ks", "statistic": 0.4, "threshold": 0.05}
    alert = Alert(
        project="p",
        model="m",
        version="v1",
        batch=("b.parquet",),
        report="reports/drift.json",
        rows=10,
        dataset_drift=True,
        drifted_share=1.0,
        columns=({**column, "p_value": 0.001, "drifted": True},),
        prediction={
            "method": "ks",
            "statistic": 0.3,
            "threshold": 0.05,
            "p_value": 0.01,
            "drifted": True,
        },
        performance={"metric": "roc_auc", "value": 0.8, "reference": 0.9, "dropped": True},
        quality=(),
        quality_issues=0,
        headline="Dataset drift",
        time=1.0,
    )
    return sample_names(exposition(alert))


def rule_exprs() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    def walk(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["expr"]] if isinstance(node.get("expr"), str) else []
            query = node.get("query")
            if isinstance(query, dict) and isinstance(query.get("query"), str):
                found.append(query["query"])
            return found + [e for value in node.values() for e in walk(value)]
        if isinstance(node, list):
            return [e for item in node for e in walk(item)]
        return []

    return walk(json.loads(DASHBOARD.read_text()))


def test_every_metric_the_rules_and_dashboard_query_is_exposed(
    serve: Callable[..., Any], cancer: Predictor
) -> None:
    exposed = server_names(serve, cancer) | gauge_names()
    for source, exprs in (("rules", rule_exprs()), ("dashboard", dashboard_exprs())):
        assert len(exprs) > 8, source
        used = {name for expr in exprs for name in NAME.findall(expr)}
        assert used, source
        assert sorted(used - exposed) == [], f"{source} query metrics nobody exposes"


def test_the_exposed_names_are_the_real_ones(serve: Callable[..., Any], cancer: Predictor) -> None:
    """The oracle itself: counters end in _total, histograms in _bucket; no made-up names."""
    names = server_names(serve, cancer)
    assert {
        "conveyor_requests_total",
        "conveyor_request_errors_total",
        "conveyor_request_duration_seconds_bucket",
        "conveyor_model_reload_failures_total",
        "conveyor_model_info",
    } <= names
    assert "conveyor_requests" not in names
    assert gauge_names() == set(GAUGES)


def test_the_rules_and_dashboard_cover_the_drift_decisions() -> None:
    rules = " ".join(rule_exprs())
    for name in (
        "conveyor_drift_dataset",
        "conveyor_drift_prediction",
        "conveyor_performance_drop",
        "conveyor_monitor_last_run_timestamp_seconds",
    ):
        assert re.search(rf"\b{name}\b", rules), name
    for name in (
        "conveyor_requests_total",
        "conveyor_request_duration_seconds_bucket",
        "conveyor_model_reload_failures_total",
    ):
        assert re.search(rf"\b{name}\b", rules), name
    used = {n for expr in dashboard_exprs() for n in NAME.findall(expr)}
    assert set(GAUGES) <= used


def test_a_rule_with_a_made_up_metric_is_caught() -> None:
    """The name pattern finds a misspelt metric inside a PromQL expression."""
    expr = 'sum(rate(conveyor_request_total{code=~"5.."}[5m]))'
    assert NAME.findall(expr) == ["conveyor_request_total"]


def test_promtool_accepts_the_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        reason = "promtool is not installed (Debian: apt-get install prometheus)"
        print(f"skipped: {reason}")  # noqa: T201
        pytest.skip(reason)
    done = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 9 rules found" in done.stdout
