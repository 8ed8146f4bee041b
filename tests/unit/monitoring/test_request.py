"""``MonitorRequest.from_spec``: the one place where ``monitor:`` becomes a monitoring request."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from conveyor.monitoring import MonitorRequest, build_profile
from conveyor.monitoring.drift import ColumnTest
from conveyor.spec import MonitorSpec

REFERENCE = build_profile(pa.table({"x": [1.0, 2.0, 3.0]}))


def _request(monitor: dict[str, object], metric: str | None = "rmse") -> MonitorRequest:
    return MonitorRequest.from_spec(
        MonitorSpec.model_validate(monitor),
        current=["data/batch.parquet"],
        reference=REFERENCE,
        predictor=None,
        out_dir=Path("reports"),
        target="y",
        metric=metric,
        reference_metrics={"rmse": 1.0},
    )


def test_the_spec_fills_the_settings() -> None:
    request = _request(
        {
            "current": "data/batch.parquet",
            "labels": "data/labels.csv",
            "id_column": "id",
            "drift": {"method": "psi", "dataset_share": 0.3, "ignore": ["x"]},
            "quality": {"null_rate_increase": 0.2},
            "performance": {"max_drop": 0.5},
        }
    )
    assert request.current == ("data/batch.parquet",)
    assert request.labels == ("data/labels.csv",)
    assert request.id_column == "id"
    assert request.target == "y"
    assert request.max_drop == 0.5
    assert request.reference_metrics == {"rmse": 1.0}
    assert request.options is not None
    assert request.options.default == ColumnTest("psi", None)
    assert request.options.dataset_share == 0.3
    assert request.options.ignore == ("x",)
    assert request.options.null_rate_increase == 0.2
    assert (request.where, request.labels_where) == ("monitor.current", "monitor.labels")
    assert request.reference_name == "reports/profile.json"


@pytest.mark.parametrize(
    ("performance", "primary", "expected"),
    [
        ({"metric": "mae"}, "rmse", "mae"),  # monitor.performance.metric wins
        ({}, "rmse", "rmse"),  # else the project's primary metric
        ({}, None, None),  # else run_monitor's default by task
    ],
)
def test_the_metric_is_the_monitor_s_then_the_project_s(
    performance: dict[str, object], primary: str | None, expected: str | None
) -> None:
    assert _request({"performance": performance}, metric=primary).metric == expected


def test_no_labels_in_the_spec_means_none() -> None:
    request = _request({})
    assert request.labels == ()
    assert request.id_column is None
    assert request.max_drop == 0.05
