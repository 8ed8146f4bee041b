"""The leaderboard: a sweep's experiments ranked by the primary metric in its better direction.

Metrics and ``blessed`` are read from each experiment's commit (``refs/exps``: the
``reports/metrics.json`` and ``reports/blessing.json`` that DVC committed, the same files
``dvc exp show`` reads), all in one ``git cat-file --batch``: reading them through
``dvc exp show --json`` cost 8-9 s of serial time at the end of every sweep on 2 cores.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor._paths import BLESSING_FILE, METRICS_FILE
from conveyor.experiments import _dvc

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.experiments.plan import SweepState


@dataclass
class Row:
    """One trial on the leaderboard."""

    name: str
    status: str
    params: dict[str, str]
    metrics: dict[str, float] = field(default_factory=dict)
    blessed: bool | None = None
    error: str | None = None
    rank: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row as plain JSON data."""
        return {
            "rank": self.rank,
            "name": self.name,
            "status": self.status,
            "params": self.params,
            "metrics": self.metrics,
            "blessed": self.blessed,
            "error": self.error,
        }


@dataclass
class Leaderboard:
    """Ranked rows; failed and unfinished trials last."""

    sweep: str
    primary: str | None
    higher_is_better: bool
    rows: list[Row]

    @property
    def best(self) -> Row | None:
        """The winner, if any trial succeeded with a primary metric."""
        return self.rows[0] if self.rows and self.rows[0].rank == 1 else None

    def to_dict(self) -> dict[str, Any]:
        """The leaderboard as plain JSON data (``conveyor sweep --show --json``)."""
        return {
            "sweep": self.sweep,
            "primary": self.primary,
            "higher_is_better": self.higher_is_better,
            "rows": [r.to_dict() for r in self.rows],
        }


def swept_params(overrides: list[str]) -> dict[str, str]:
    """``key=value`` overrides as a mapping (group overrides keep the option name)."""
    return dict(o.lstrip("+").split("=", 1) for o in overrides if "=" in o)


def build(root: Path, state: SweepState) -> Leaderboard:
    """Read every finished trial's results from its experiment commit and rank them."""
    commits = _dvc.experiment_refs(root)
    finished = [t for t in state.trials if t.status == "success" and t.name in commits]
    files = _dvc.show_files(
        root, [(commits[t.name], path) for t in finished for path in (METRICS_FILE, BLESSING_FILE)]
    )
    rows = []
    for trial in state.trials:
        row = Row(trial.name, trial.status, swept_params(trial.overrides), error=trial.error)
        if trial in finished:
            commit = commits[trial.name]
            row.metrics = _metrics(files.get((commit, METRICS_FILE)))
            row.blessed = _blessed(files.get((commit, BLESSING_FILE)))
        rows.append(row)
    return Leaderboard(state.prefix, state.primary, state.higher_is_better, rank(rows, state))


def rank(rows: list[Row], state: SweepState) -> list[Row]:
    """Sort by the primary metric in its better direction; number the ranked rows from 1.

    A NaN, infinite or missing primary metric never ranks: those rows come after the ranked
    ones, by status. Ties go to the earlier trial (``rows`` are in trial order, and the sort
    is stable), so the same results always give the same winner for ``sweep --apply best``.
    """
    primary = state.primary
    scored = [r for r in rows if primary and _finite(r.metrics.get(primary))]
    sign = -1.0 if state.higher_is_better else 1.0
    scored.sort(key=lambda r: sign * r.metrics[primary or ""])
    for index, row in enumerate(scored, start=1):
        row.rank = index
    order = {"success": 0, "running": 1, "queued": 2, "pending": 3, "failed": 4}
    rest = sorted((r for r in rows if r not in scored), key=lambda r: order.get(r.status, 5))
    return scored + rest


def primary_values(root: Path, state: SweepState) -> dict[str, float]:
    """The primary metric of each finished trial (for progress: 'best so far')."""
    if state.primary is None:
        return {}
    board = build(root, state)
    return {r.name: r.metrics[state.primary] for r in board.rows if state.primary in r.metrics}


def _metrics(text: str | None) -> dict[str, float]:
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(v, int | float)}


def _blessed(text: str | None) -> bool | None:
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    return bool(data.get("blessed")) if isinstance(data, dict) else None


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def render(board: Leaderboard, *, max_metrics: int = 4) -> Any:  # noqa: ANN401 - a rich Table
    """The leaderboard as a rich Table: rank, name, swept params, metrics, blessed, status."""
    from rich.table import Table

    keys = list(dict.fromkeys(k for r in board.rows for k in r.params))
    metric_names = list(dict.fromkeys(m for r in board.rows for m in r.metrics))
    if board.primary in metric_names:
        metric_names.remove(board.primary)
        metric_names.insert(0, board.primary)
    metric_names = metric_names[:max_metrics]
    arrow = "↑" if board.higher_is_better else "↓"
    table = Table(title=f"sweep {board.sweep}", box=None, pad_edge=False)
    table.add_column("#", justify="right")
    table.add_column("experiment", no_wrap=True)
    for key in keys:
        table.add_column(key, justify="right", no_wrap=True)
    for metric in metric_names:
        shown = f"{metric} {arrow}" if metric == board.primary else metric
        table.add_column(shown, justify="right")
    table.add_column("blessed")
    table.add_column("status")
    for row in board.rows:
        blessed = {True: "yes", False: "no", None: "-"}[row.blessed]
        metrics = [f"{row.metrics[m]:.4f}" if m in row.metrics else "-" for m in metric_names]
        params = [row.params.get(k, "-") for k in keys]
        rank = str(row.rank) if row.rank else "-"
        table.add_row(rank, row.name, *params, *metrics, blessed, row.status)
    return table
