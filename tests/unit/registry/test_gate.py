"""Gate boundaries: exactly at a threshold passes, one ulp past it fails, in every direction.

The numbers are binary fractions (0.75 - 0.5 == 0.25 exactly), so "exactly at the threshold"
is exact in floating point; ``math.nextafter`` gives the value one ulp to the wrong side.
"""

from __future__ import annotations

import math

import pytest

from conveyor.registry.gate import Champion, bless
from conveyor.spec import MetricGateSpec

HIGHER = {"auc": True, "rmse": False, "r2": True}


def _check(metric: str, gate: dict, observed: float, champion: float | None = None) -> bool:
    spec = {metric: MetricGateSpec.model_validate(gate)}
    holder = None if champion is None else Champion("m", "v1.0.0", "prod", "c0", {metric: champion})
    blessing = bless("m", {metric: observed}, spec, HIGHER, holder)
    assert len(blessing.checks) == 1
    assert blessing.blessed is blessing.checks[0].passed
    return blessing.checks[0].passed


def test_min_and_max_include_the_threshold() -> None:
    assert _check("auc", {"min": 0.75}, 0.75)
    assert not _check("auc", {"min": 0.75}, math.nextafter(0.75, 0))
    assert _check("rmse", {"max": 0.25}, 0.25)
    assert not _check("rmse", {"max": 0.25}, math.nextafter(0.25, 1))


def test_min_delta_exactly_met_passes_and_one_ulp_short_fails() -> None:
    assert 0.75 - 0.5 == 0.25
    assert _check("auc", {"min_delta": 0.25}, 0.75, champion=0.5)
    assert not _check("auc", {"min_delta": 0.25}, math.nextafter(0.75, 0), champion=0.5)
    # lower is better: the improvement is champion - observed
    assert _check("rmse", {"min_delta": 0.25}, 0.5, champion=0.75)
    assert not _check("rmse", {"min_delta": 0.25}, math.nextafter(0.5, 1), champion=0.75)
    assert not _check("rmse", {"min_delta": 0.25}, 1.0, champion=0.75)


def test_max_decrease_is_a_tolerance_on_a_higher_is_better_metric() -> None:
    gate = {"max_decrease": 0.25}
    assert _check("auc", gate, 0.5, champion=0.75)  # worse by exactly the tolerance
    assert not _check("auc", gate, math.nextafter(0.5, 0), champion=0.75)
    assert _check("auc", gate, 1.0, champion=0.75)  # better always passes


def test_max_increase_is_a_tolerance_on_a_lower_is_better_metric() -> None:
    gate = {"max_increase": 2.0}
    assert _check("rmse", gate, 12.0, champion=10.0)  # worse (higher) by exactly 2
    assert not _check("rmse", gate, math.nextafter(12.0, 13), champion=10.0)
    assert _check("rmse", gate, 8.0, champion=10.0)
    assert _check("rmse", {"max_increase": 0.0}, 10.0, champion=10.0)
    assert not _check("rmse", {"max_increase": 0.0}, math.nextafter(10.0, 11), champion=10.0)


@pytest.mark.parametrize(
    ("gate", "observed", "passed"),
    [
        # champion -0.5; -0.25 is better by 0.25, i.e. +50% of |champion|
        ({"min_delta": 0.5, "relative": True}, -0.25, True),
        ({"min_delta": 0.5, "relative": True}, math.nextafter(-0.25, -1), False),
        # -0.75 is worse by 0.25: -50% of |champion|
        ({"max_decrease": 0.5, "relative": True}, -0.75, True),
        ({"max_decrease": 0.5, "relative": True}, math.nextafter(-0.75, -1), False),
        ({"max_decrease": 0.25, "relative": True}, -0.75, False),
        ({"min_delta": 0.0, "relative": True}, -0.75, False),
    ],
)
def test_relative_change_against_a_negative_champion(
    gate: dict, observed: float, passed: bool
) -> None:
    assert _check("r2", gate, observed, champion=-0.5) is passed


def test_relative_change_records_the_signed_fraction_of_the_champion() -> None:
    spec = {"r2": MetricGateSpec.model_validate({"min_delta": 0.5, "relative": True})}
    champion = Champion("m", "v1.0.0", "prod", "c0", {"r2": -0.5})
    check = bless("m", {"r2": -0.25}, spec, HIGHER, champion).checks[0]
    assert (check.kind, check.required, check.observed, check.champion_value) == (
        "min_delta",
        0.5,
        0.5,
        -0.5,
    )
    assert check.relative
