"""Ranking: a NaN (or infinite) primary metric never ranks, in either direction of better."""

from __future__ import annotations

import math

import pytest

from conveyor.experiments.leaderboard import Leaderboard, Row, _metrics, rank
from conveyor.experiments.plan import SweepState


def _state(higher: bool) -> SweepState:
    return SweepState(
        "s", "grid", "train", 1, [], primary="rmse", higher_is_better=higher, budget=4
    )


def _rows(*values: float | None) -> list[Row]:
    rows = []
    for i, value in enumerate(values):
        metrics = {} if value is None else {"rmse": value, "other": 1.0}
        rows.append(Row(f"t{i}", "success", {"x": str(i)}, metrics))
    return rows


@pytest.mark.parametrize(
    ("higher", "winner", "order"),
    [(True, "t3", ["t3", "t1", "t4"]), (False, "t4", ["t4", "t1", "t3"])],
)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_primary_metric_never_ranks(
    higher: bool, winner: str, order: list[str], bad: float
) -> None:
    rows = _rows(bad, 2.0, bad, 3.0, 1.0, None)
    ranked = rank(rows, _state(higher))
    # the oracle: the finite values sorted by hand (max first, or min first)
    assert [r.name for r in ranked if r.rank is not None] == order
    assert [r.rank for r in ranked[:3]] == [1, 2, 3]
    assert all(r.rank is None for r in ranked[3:])
    assert {r.name for r in ranked[3:]} == {"t0", "t2", "t5"}
    board = Leaderboard("s", "rmse", higher, ranked)
    assert board.best is not None
    assert board.best.name == winner


@pytest.mark.parametrize("higher", [True, False])
def test_only_nan_trials_leave_no_best(higher: bool) -> None:
    ranked = rank(_rows(math.nan, math.nan), _state(higher))
    assert all(r.rank is None for r in ranked)
    assert Leaderboard("s", "rmse", higher, ranked).best is None


def test_nan_in_metrics_json_arrives_as_nan_and_is_not_ranked() -> None:
    # DVC writes NaN into metrics.json as the bare token NaN, which json.loads accepts.
    metrics = _metrics('{"rmse": NaN, "r2": 0.5, "note": "x"}')
    assert math.isnan(metrics["rmse"])
    assert metrics["r2"] == 0.5
    assert "note" not in metrics
    row = Row("t0", "success", {}, metrics)
    ranked = rank([row, Row("t1", "success", {}, {"rmse": 9.0})], _state(True))
    assert Leaderboard("s", "rmse", True, ranked).best is ranked[0]
    assert ranked[0].name == "t1"
