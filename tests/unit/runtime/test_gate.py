"""Blessing logic: absolute thresholds, change against the champion, both directions of better."""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING

import pytest
from pydantic import ValidationError

from conveyor.config import load_project
from conveyor.errors import SpecError
from conveyor.registry.gate import Champion, bless
from conveyor.spec import EvaluateSpec, MetricGateSpec
from tests.conftest import REPO

if TYPE_CHECKING:
    from pathlib import Path

HIGHER = {"roc_auc": True, "log_loss": False, "recall": True}


def _gates(**gates: dict) -> dict[str, MetricGateSpec]:
    return {name: MetricGateSpec.model_validate(gate) for name, gate in gates.items()}


def _champion(**metrics: float) -> Champion:
    return Champion("diagnostics", "v1.0.0", "prod", "abc123", metrics)


def test_absolute_thresholds_without_a_champion() -> None:
    gates = _gates(roc_auc={"min": 0.95, "min_delta": 0.0}, log_loss={"max": 0.3})
    blessing = bless("m", {"roc_auc": 0.96, "log_loss": 0.31}, gates, HIGHER)
    assert not blessing.blessed
    assert [(c.metric, c.kind, c.passed) for c in blessing.checks] == [
        ("roc_auc", "min", True),
        ("log_loss", "max", False),
    ]  # no champion: min_delta is not checked
    assert blessing.failed[0].describe() == "log_loss <= 0.3 (observed 0.31)"


def test_change_threshold_knows_which_direction_is_better() -> None:
    gates = _gates(roc_auc={"min_delta": -0.002}, log_loss={"min_delta": 0.0})
    champion = _champion(roc_auc=0.99, log_loss=0.10)
    worse = bless("m", {"roc_auc": 0.985, "log_loss": 0.12}, gates, HIGHER, champion)
    assert [c.passed for c in worse.checks] == [False, False]
    assert worse.checks[0].observed == pytest.approx(-0.005)
    assert worse.checks[1].observed == pytest.approx(-0.02)  # a higher loss is worse
    better = bless("m", {"roc_auc": 0.989, "log_loss": 0.09}, gates, HIGHER, champion)
    assert better.blessed  # roc_auc 0.001 down is tolerated; log_loss improved


def test_relative_change() -> None:
    gates = _gates(log_loss={"min_delta": -0.1, "relative": True})
    champion = _champion(log_loss=0.2)
    assert bless("m", {"log_loss": 0.219}, gates, HIGHER, champion).blessed  # 9.5% worse
    refused = bless("m", {"log_loss": 0.23}, gates, HIGHER, champion)
    assert not refused.blessed
    assert refused.checks[0].observed == pytest.approx(-0.15)
    assert "of the champion's value" in refused.checks[0].describe()


def test_a_missing_metric_fails_its_checks() -> None:
    blessing = bless("m", {}, _gates(recall={"min": 0.9}), HIGHER)
    assert not blessing.blessed
    assert blessing.checks[0].observed is None


def test_blessing_json_records_checks_champion_and_metrics() -> None:
    gates = _gates(roc_auc={"min": 0.9, "min_delta": 0.0})
    blessing = bless("m", {"roc_auc": 0.95, "slices": {}}, gates, HIGHER, _champion(roc_auc=0.9))
    document = json.loads(json.dumps(blessing.to_dict(), allow_nan=False))
    assert document["blessed"] is True
    assert document["champion"]["version"] == "v1.0.0"
    assert document["metrics"] == {"roc_auc": 0.95}
    assert document["checks"][1] == {
        "metric": "roc_auc",
        "kind": "min_delta",
        "required": 0.0,
        "observed": pytest.approx(0.05),
        "passed": True,
        "champion": 0.9,
        "relative": False,
    }


@pytest.mark.parametrize(
    ("gates", "message"),
    [
        ({"roc_auc": {}}, "give at least one of min, max, max_decrease, max_increase or min_delta"),
        ({"roc_auc": {"min": 1, "max": 0}}, "min \\(1\\) is greater than max \\(0\\)"),
        (
            {"roc_auc": {"min": 0.9, "relative": True}},
            "'relative' qualifies max_decrease, max_increase or min_delta",
        ),
        ({"f1": {"min": 0.9}}, "gates on 'f1', which evaluate does not compute"),
    ],
)
def test_bad_gates_are_spec_errors(gates: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EvaluateSpec.model_validate({"metrics": ["roc_auc"], "gates": gates})


def test_require_blessed_lists_the_failed_checks() -> None:
    from conveyor.errors import StageError
    from conveyor.registry.gate import require_blessed

    gates = _gates(roc_auc={"min": 0.99})
    require_blessed(bless("m", {"roc_auc": 0.995}, gates, HIGHER).to_dict(), where="stage 'x'")
    refused = bless("m", {"roc_auc": 0.9}, gates, HIGHER).to_dict()
    with pytest.raises(StageError, match=r"not blessed; failed checks: roc_auc min 0\.99"):
        require_blessed(refused, where="stage 'package-rest'")


def test_a_shipping_stage_without_the_blessing_does_not_compile(tmp_path) -> None:
    from conveyor.compiler.build import check_invariants
    from conveyor.compiler.ir import Pipeline, Stage
    from conveyor.errors import CompileError

    (tmp_path / "models").mkdir()
    stage = Stage("package-rest", "ship", "conveyor run package-rest", deps=("models",))
    with pytest.raises(CompileError, match="ships a model but does not depend on reports/bless"):
        check_invariants(Pipeline((stage,)), tmp_path)


@pytest.mark.parametrize(("log_loss", "passed"), [(0.75, True), (0.7501, False)])
def test_max_increase_tolerates_that_much_worse_than_the_champion(
    log_loss: float, passed: bool
) -> None:
    gates = _gates(log_loss={"max_increase": 0.25}, roc_auc={"max_decrease": 0.25})
    champion = _champion(log_loss=0.5, roc_auc=0.75)
    blessing = bless("m", {"log_loss": log_loss, "roc_auc": 0.5}, gates, HIGHER, champion)
    assert [(c.metric, c.passed) for c in blessing.checks] == [
        ("log_loss", passed),
        ("roc_auc", True),  # exactly 0.25 lower: tolerated
    ]
    assert blessing.checks[0].required == -0.25  # recorded as min_delta -0.25
    lower = bless(
        "m", {"roc_auc": 0.4999}, _gates(roc_auc={"max_decrease": 0.25}), HIGHER, champion
    )
    assert not lower.blessed


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        ({"min_delta": -1, "max_increase": 1}, "min_delta and max_increase both compare"),
        ({"max_increase": -1}, "greater than or equal to 0"),
        ({"min": 0, "relative": True}, "'relative' qualifies max_decrease, max_increase or"),
    ],
)
def test_one_change_key_per_gate(gate: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MetricGateSpec.model_validate(gate)


def test_compile_refuses_a_tolerance_that_points_the_better_way(tmp_path: Path) -> None:
    shutil.copytree(REPO / "conf", tmp_path / "conf")
    overrides = [
        "~evaluate.gates.roc_auc.min_delta",
        "+evaluate.gates.roc_auc.max_increase=0.01",
        "~evaluate.gates.log_loss.min_delta",
        "~evaluate.gates.log_loss.relative",
        "+evaluate.gates.log_loss.max_increase=0.1",  # right: a higher loss is worse
    ]
    with pytest.raises(SpecError, match="is higher-is-better") as caught:
        load_project(tmp_path, overrides)
    assert [(p.where, p.what, p.fix) for p in caught.value.problems] == [
        (
            "evaluate.gates.roc_auc.max_increase "
            "(override '+evaluate.gates.roc_auc.max_increase=0.01')",
            "'roc_auc' is higher-is-better, so a model gets worse by a decrease, which "
            "max_increase does not bound",
            "write max_decrease: 0.01 (how much worse than the champion the model may be)",
        )
    ]
    overrides[1] = "+evaluate.gates.roc_auc.max_decrease=0.01"
    gates = load_project(tmp_path, overrides).spec.evaluate.gates
    assert (gates["roc_auc"].required_change, gates["log_loss"].required_change) == (-0.01, -0.1)
