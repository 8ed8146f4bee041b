"""The sweep state survives a round trip; the leaderboard ranks in the metric's direction."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from conveyor.errors import SweepError
from conveyor.experiments.leaderboard import Row, rank
from conveyor.experiments.plan import SweepState, Trial, load_state

if TYPE_CHECKING:
    from pathlib import Path


def _state(higher: bool) -> SweepState:
    trials = [Trial("s-1", ["a=1"]), Trial("s-2", ["a=2"], status="failed", error="boom")]
    return SweepState("s", "grid", "gate", 2, ["a=1,2"], trials, 2, "roc_auc", higher)


def test_state_round_trips(tmp_path: Path) -> None:
    state = _state(True)
    state.save(tmp_path)
    loaded = load_state(tmp_path, "s")
    assert loaded == state
    assert load_state(tmp_path, None) == state  # the latest sweep
    assert loaded.counts()["failed"] == 1
    assert loaded.next_name() == "s-3"


def test_an_unknown_sweep_lists_the_known_ones(tmp_path: Path) -> None:
    _state(True).save(tmp_path)
    with pytest.raises(SweepError, match=r"no sweep named 'x'") as caught:
        load_state(tmp_path, "x")
    assert caught.value.fix == "known sweeps: s"


@pytest.mark.parametrize(("higher", "order"), [(True, ["b", "a"]), (False, ["a", "b"])])
def test_rank_follows_the_primary_metrics_direction(higher: bool, order: list[str]) -> None:
    rows = [
        Row("f", "failed", {}),
        Row("a", "success", {}, {"roc_auc": 0.1}),
        Row("b", "success", {}, {"roc_auc": 0.9}),
        Row("p", "pending", {}),
    ]
    ranked = rank(rows, _state(higher))
    assert [r.name for r in ranked] == [*order, "p", "f"]
    assert [r.rank for r in ranked] == [1, 2, None, None]
