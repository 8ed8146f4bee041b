"""The blessing document, refusal lines and missing metrics, against hand-written oracles.

``reports/blessing.json`` is read back by promotion and by shipping stages, so every key and
value is pinned by exact equality with a document written out by hand; the numbers are binary
fractions so the deltas are exact.
"""

from __future__ import annotations

import math

import pytest

from conveyor.errors import StageError
from conveyor.registry.gate import Champion, Check, bless, require_blessed
from conveyor.spec import MetricGateSpec

HIGHER = {"auc": True, "rmse": False, "r2": True}


def _gates(**gates: dict) -> dict[str, MetricGateSpec]:
    return {name: MetricGateSpec.model_validate(gate) for name, gate in gates.items()}


def test_the_blessing_document_holds_every_key_and_value() -> None:
    champion = Champion(
        "churn",
        "v1.2.0",
        "prod",
        "abc123",
        {"auc": 0.5, "rmse": 3.5, "r2": -0.5, "broken": math.nan},
        metrics_source="data/test.parquet",
        recorded_metrics={"auc": 0.625, "broken": math.inf},
        note="re-scored on the challenger's split",
    )
    metrics = {
        "auc": 0.75,
        "rmse": 2.5,
        "r2": -0.75,
        "nan": math.nan,
        "slice": {"a": 1.0},
        "ok": True,
    }
    gates = _gates(
        auc={"min": 0.5, "max": 1.0},
        rmse={"min_delta": 0.5},
        r2={"max_decrease": 0.5, "relative": True},
    )
    blessing = bless("challenger", metrics, gates, HIGHER, champion)
    assert blessing.to_dict() == {
        "blessed": True,
        "model": "challenger",
        "checks": [
            {"metric": "auc", "kind": "min", "required": 0.5, "observed": 0.75, "passed": True},
            {"metric": "auc", "kind": "max", "required": 1.0, "observed": 0.75, "passed": True},
            # lower is better: 3.5 - 2.5
            {
                "metric": "rmse",
                "kind": "min_delta",
                "required": 0.5,
                "observed": 1.0,
                "passed": True,
                "champion": 3.5,
                "relative": False,
            },
            # (-0.75 - -0.5) / |-0.5|: worse by exactly the tolerated half
            {
                "metric": "r2",
                "kind": "min_delta",
                "required": -0.5,
                "observed": -0.5,
                "passed": True,
                "champion": -0.5,
                "relative": True,
            },
        ],
        "champion": {
            "name": "churn",
            "version": "v1.2.0",
            "stage": "prod",
            "commit": "abc123",
            "metrics": {"auc": 0.5, "rmse": 3.5, "r2": -0.5},
            "metrics_source": "data/test.parquet",
            "recorded_metrics": {"auc": 0.625},
            "note": "re-scored on the challenger's split",
        },
        "metrics": {"auc": 0.75, "rmse": 2.5, "r2": -0.75},
    }


def test_a_document_without_a_champion_or_its_optional_keys() -> None:
    refused = bless("m", {"auc": 0.25}, _gates(auc={"min": 0.5, "min_delta": 0.1}), HIGHER)
    assert refused.to_dict() == {
        "blessed": False,
        "model": "m",
        "checks": [
            {"metric": "auc", "kind": "min", "required": 0.5, "observed": 0.25, "passed": False}
        ],
        "champion": None,
        "metrics": {"auc": 0.25},
    }
    recorded = Champion("m", "v1", "prod", "c0", {"auc": 0.25})
    document = bless("m", {"auc": 0.5}, _gates(auc={"min_delta": 0.25}), HIGHER, recorded)
    assert document.to_dict()["champion"] == {
        "name": "m",
        "version": "v1",
        "stage": "prod",
        "commit": "c0",
        "metrics": {"auc": 0.25},
        "metrics_source": "recorded",
    }


@pytest.mark.parametrize(
    ("observed", "before", "passed"),
    [
        (0.5, None, True),  # the champion never computed it: nothing to beat
        (None, 0.5, False),  # the challenger lost a metric the champion had
        (None, None, False),
        (math.nan, 0.5, False),
        (math.inf, None, False),  # not a number that can be written to JSON: missing
    ],
)
def test_a_missing_metric_on_either_side(
    observed: float | None, before: float | None, passed: bool
) -> None:
    metrics = {} if observed is None else {"auc": observed}
    champion = Champion("m", "v1", "prod", "c0", {} if before is None else {"auc": before})
    gate = _gates(auc={"min_delta": 0.25, "relative": True})
    blessing = bless("m", metrics, gate, HIGHER, champion)
    assert blessing.checks == [Check("auc", "min_delta", 0.25, None, passed, before, True)]
    assert blessing.blessed is passed


@pytest.mark.parametrize("observed", [math.inf, -math.inf, math.nan])
def test_a_non_finite_metric_is_missing_for_min_and_max(observed: float) -> None:
    blessing = bless("m", {"auc": observed}, _gates(auc={"min": -1.0, "max": 2.0}), HIGHER)
    assert blessing.checks == [
        Check("auc", "min", -1.0, None, False),
        Check("auc", "max", 2.0, None, False),
    ]
    assert blessing.to_dict()["metrics"] == {}


def test_min_and_max_checks_record_the_observation() -> None:
    blessing = bless("m", {"auc": 0.75}, _gates(auc={"min": 0.5, "max": 0.625}), HIGHER)
    assert blessing.checks == [
        Check("auc", "min", 0.5, 0.75, True),
        Check("auc", "max", 0.625, 0.75, False),
    ]
    assert blessing.model == "m"


@pytest.mark.parametrize(
    ("observed", "gate", "delta", "passed"),
    [
        # a champion at exactly 0: any gain is an infinite share, none is 0, a loss is 0
        (0.5, {"min_delta": 0.25, "relative": True}, math.inf, True),
        (0.25, {"min_delta": 100.0, "relative": True}, math.inf, True),
        (0.0, {"min_delta": 0.0, "relative": True}, 0.0, True),
        (0.0, {"min_delta": 0.25, "relative": True}, 0.0, False),
        (-0.5, {"max_decrease": 0.5, "relative": True}, 0.0, True),
        (-0.5, {"min_delta": 0.0, "relative": True}, 0.0, True),
    ],
)
def test_relative_change_against_a_champion_at_zero(
    observed: float, gate: dict, delta: float, passed: bool
) -> None:
    champion = Champion("m", "v1", "prod", "c0", {"r2": 0.0})
    check = bless("m", {"r2": observed}, _gates(r2=gate), HIGHER, champion).checks[0]
    assert (check.observed, check.passed, check.champion_value) == (delta, passed, 0.0)


@pytest.mark.parametrize(
    ("check", "line"),
    [
        (Check("auc", "min", 0.5, None, False), "auc >= 0.5 (observed missing)"),
        (Check("auc", "min", 0.5, 0.25, False), "auc >= 0.5 (observed 0.25)"),
        (Check("rmse", "max", 3.0, 3.25, False), "rmse <= 3 (observed 3.25)"),
        (Check("rmse", "max", 3.0, None, False), "rmse <= 3 (observed missing)"),
        (
            Check("rmse", "min_delta", 0.5, -1.0, False, 3.5),
            "rmse change vs champion >= +0.5 (observed -1, champion 3.5)",
        ),
        (
            Check("rmse", "min_delta", 0.5, None, False, 3.5),
            "rmse change vs champion >= +0.5 (observed missing, champion 3.5)",
        ),
        (
            Check("auc", "min_delta", 0.5, None, False, None),
            "auc change vs champion >= +0.5 (observed missing, champion missing)",
        ),
        (
            Check("r2", "min_delta", 0.125, -0.25, False, -0.5, relative=True),
            "r2 change vs champion >= +12.5% of the champion's value "
            "(observed -25.0%, champion -0.5)",
        ),
        (
            Check("r2", "min_delta", -0.5, None, False, -0.5, relative=True),
            "r2 change vs champion >= -50.0% of the champion's value "
            "(observed missing, champion -0.5)",
        ),
        (
            Check("r2", "min_delta", 0.0, None, False, None, relative=True),
            "r2 change vs champion >= +0.0% of the champion's value "
            "(observed missing, champion missing)",
        ),
    ],
)
def test_each_failed_check_reads_as_one_line(check: Check, line: str) -> None:
    assert check.describe() == line


def test_a_metric_neither_side_has_is_a_refusal_not_a_crash() -> None:
    champion = Champion("m", "v1", "prod", "c0", {})
    refused = bless("m", {}, _gates(auc={"min_delta": 0.1}), HIGHER, champion)
    assert [c.describe() for c in refused.failed] == [
        "auc change vs champion >= +0.1 (observed missing, champion missing)"
    ]


def test_refusing_to_ship_names_the_stage_every_failed_check_and_the_fix() -> None:
    gates = _gates(auc={"min": 0.5}, rmse={"max": 3.0})
    refused = bless("m", {"auc": 0.25, "rmse": 3.5}, gates, HIGHER).to_dict()
    with pytest.raises(StageError) as caught:
        require_blessed(refused, where="stage 'package-rest'")
    error = caught.value
    assert error.where == "stage 'package-rest'"
    assert error.what == (
        "the model is not blessed; failed checks: auc min 0.5 (observed 0.25); "
        "rmse max 3 (observed 3.5)"
    )
    assert error.fix == (
        "train a model that passes evaluate.gates (see reports/blessing.json), or promote "
        "an earlier blessed version"
    )
    with pytest.raises(StageError) as caught:
        require_blessed({"blessed": False, "checks": []}, where="stage 'x'")
    assert caught.value.what == "the model is not blessed; failed checks: none recorded"
    for not_blessed in ({}, {"blessed": "true"}, {"blessed": 1}):
        with pytest.raises(StageError):
            require_blessed(not_blessed, where="stage 'x'")
    require_blessed({"blessed": True}, where="stage 'x'")
