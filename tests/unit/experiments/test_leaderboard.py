"""Ranking: a NaN (or infinite) primary metric never ranks, in either direction of better."""

from __future__ import annotations

import json
import math
import shutil
from typing import TYPE_CHECKING

import pytest

from conveyor.experiments.leaderboard import (
    Leaderboard,
    Row,
    _metrics,
    build,
    primary_values,
    rank,
    render,
    swept_params,
)
from conveyor.experiments.plan import SweepState, Trial
from tests.conftest import sh

if TYPE_CHECKING:
    from pathlib import Path


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


@pytest.mark.parametrize(
    ("higher", "order"), [(True, ["t0", "t2", "t1", "t3"]), (False, ["t1", "t3", "t0", "t2"])]
)
def test_ties_go_to_the_earlier_trial_in_either_direction(higher: bool, order: list[str]) -> None:
    ranked = rank(_rows(0.9, 0.5, 0.9, 0.5), _state(higher))
    assert [r.name for r in ranked] == order
    assert [r.rank for r in ranked] == [1, 2, 3, 4]


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


def _experiment(root: Path, name: str, metrics: str | None, blessing: str | None) -> None:
    """Commit results as DVC does for an experiment and point refs/exps/<..>/<name> at it."""
    reports = root / "reports"
    shutil.rmtree(reports, ignore_errors=True)
    reports.mkdir()
    for file, text in (("metrics.json", metrics), ("blessing.json", blessing)):
        if text is not None:
            (reports / file).write_text(text)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", name, "--allow-empty", cwd=root)
    sha = sh("git", "rev-parse", "HEAD", cwd=root).stdout.strip()
    sh("git", "update-ref", f"refs/exps/{sha[:2]}/{sha[2:40]}/{name}", sha, cwd=root)


@pytest.fixture
def sweep_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    sh("git", "init", "-q", "-b", "main", cwd=root)
    _experiment(root, "good", '{"rmse": 2.0, "r2": 0.5}', '{"blessed": true}')
    _experiment(root, "nan", '{"rmse": NaN, "r2": 0.9}', '{"blessed": false}')
    _experiment(root, "best", '{"rmse": 1.5, "r2": 0.25}', "not json")
    _experiment(root, "broken", "{not json", None)
    return root


def _trials() -> list[Trial]:
    return [
        Trial("nan", ["model.params.max_depth=9"], "success"),
        Trial("good", ["model.params.max_depth=3", "+model=xgboost"], "success"),
        Trial("lost", ["model.params.max_depth=5"], "failed", error="boom"),
        Trial("best", ["model.params.max_depth=4"], "success"),
        Trial("broken", ["model.params.max_depth=6"], "success"),
        Trial("queued", ["model.params.max_depth=7"], "queued"),
        Trial("noref", ["model.params.max_depth=8"], "success"),
    ]


def test_build_reads_each_experiment_commit_and_never_picks_nan(sweep_repo: Path) -> None:
    state = SweepState("sw", "grid", "train", 1, [], _trials(), primary="rmse")
    state.higher_is_better = False
    board = build(sweep_repo, state)
    assert [(r.name, r.rank) for r in board.rows] == [
        ("best", 1),
        ("good", 2),
        ("nan", None),
        ("broken", None),
        ("noref", None),
        ("queued", None),
        ("lost", None),
    ]
    assert board.best is not None
    assert board.best.name == "best"
    rows = {r.name: r for r in board.rows}
    assert rows["good"].metrics == {"rmse": 2.0, "r2": 0.5}
    assert rows["good"].blessed is True
    assert rows["nan"].blessed is False
    assert rows["best"].blessed is None  # blessing.json unreadable
    assert rows["broken"].metrics == {}
    assert rows["noref"].metrics == {}
    assert rows["noref"].blessed is None
    assert rows["lost"].error == "boom"
    assert rows["good"].params == {"model.params.max_depth": "3", "model": "xgboost"}
    values = primary_values(sweep_repo, state)
    assert list(values) == ["best", "good", "nan"]  # board order: every finished trial
    assert math.isnan(values.pop("nan"))
    assert values == {"good": 2.0, "best": 1.5}
    document = board.to_dict()
    assert document["sweep"] == "sw"
    assert document["primary"] == "rmse"
    assert document["higher_is_better"] is False
    assert document["rows"][0] == {
        "rank": 1,
        "name": "best",
        "status": "success",
        "params": {"model.params.max_depth": "4"},
        "metrics": {"rmse": 1.5, "r2": 0.25},
        "blessed": None,
        "error": None,
    }
    json.dumps(document["rows"][1:])  # plain JSON data


def test_build_ranks_by_r2_when_higher_is_better(sweep_repo: Path) -> None:
    state = SweepState("sw", "grid", "train", 1, [], _trials(), primary="r2")
    board = build(sweep_repo, state)
    assert [r.name for r in board.rows if r.rank] == ["nan", "good", "best"]
    assert primary_values(sweep_repo, state) == {"nan": 0.9, "good": 0.5, "best": 0.25}
    assert primary_values(sweep_repo, SweepState("sw", "grid", "train", 1, [], _trials())) == {}


def test_render_shows_rank_params_primary_first_and_blessed(sweep_repo: Path) -> None:
    from rich.console import Console

    state = SweepState("sw", "grid", "train", 1, [], _trials(), primary="r2")
    console = Console(width=200, record=True)
    console.print(render(build(sweep_repo, state), max_metrics=1))
    lines = console.export_text().splitlines()
    assert lines[0].strip() == "sweep sw"
    header = lines[1].split()
    assert header == [
        "#",
        "experiment",
        "model.params.max_depth",
        "model",
        "r2",
        "↑",
        "blessed",
        "status",
    ]
    by_name = {line.split()[1]: line.split() for line in lines[2:] if line.split()}
    assert by_name["nan"] == ["1", "nan", "9", "-", "0.9000", "no", "success"]
    assert by_name["good"] == ["2", "good", "3", "xgboost", "0.5000", "yes", "success"]
    assert by_name["lost"] == ["-", "lost", "5", "-", "-", "-", "failed"]
    lower = SweepState("sw", "grid", "train", 1, [], _trials(), primary="rmse")
    lower.higher_is_better = False
    console = Console(width=200, record=True)
    console.print(render(build(sweep_repo, lower)))
    header = console.export_text().splitlines()[1].split()
    assert header[4:6] == ["rmse", "↓"]
    assert header[6:] == ["r2", "blessed", "status"]


@pytest.mark.parametrize("higher", [True, False])
def test_huge_finite_metrics_still_rank_by_value(higher: bool) -> None:
    # the worse value first: doubling either would overflow to inf, tie them, keep trial order
    worse, better = (1.0e308, 1.5e308) if higher else (1.5e308, 1.0e308)
    ranked = rank(_rows(worse, better), _state(higher))
    assert [r.name for r in ranked] == ["t1", "t0"]


def test_unranked_trials_follow_by_status_then_trial_order() -> None:
    statuses = ["weird", "failed", "pending", "queued", "running", "success", "failed"]
    rows = [Row(f"t{i}", status, {}) for i, status in enumerate(statuses)]
    ranked = rank(rows, _state(True))
    # success, running, queued, pending, failed (in trial order), then any other status
    assert [r.name for r in ranked] == ["t5", "t4", "t3", "t2", "t1", "t6", "t0"]
    assert all(r.rank is None for r in ranked)


def test_no_results_file_is_no_metrics() -> None:
    assert _metrics(None) == {}
    assert _metrics("") == {}
    assert _metrics("[1.5]") == {}  # valid JSON but no names: nothing to rank, not a crash


def test_swept_params_keep_the_value_after_the_first_equals_sign() -> None:
    overrides = ["++Xfoo=a=b", "+model=xgboost", "model.params.eta=0.1", "~dropped"]
    assert swept_params(overrides) == {"Xfoo": "a=b", "model": "xgboost", "model.params.eta": "0.1"}


def test_render_right_aligns_numbers_and_never_wraps_names() -> None:
    metrics = {"r2": 0.25, "mae": 0.5, "mape": 0.5, "rmse": 0.5, "max_error": 1.0}
    rows = [Row("t0", "success", {"x": "1"}, metrics, rank=1)]
    table = render(Leaderboard("sw", "rmse", False, rows))
    assert table.pad_edge is False
    layout = [(str(c.header), c.justify, c.no_wrap) for c in table.columns]
    assert layout == [
        ("#", "right", False),
        ("experiment", "left", True),
        ("x", "right", True),
        ("rmse ↓", "right", False),
        ("r2", "right", False),
        ("mae", "right", False),
        ("mape", "right", False),  # four metrics by default, the primary first
        ("blessed", "left", False),
        ("status", "left", False),
    ]
