"""The leaderboard: a sweep's experiments ranked by ``evaluate.primary`` in its better direction.

Params and metrics come from ``dvc exp show --json`` (what DVC itself recorded for each
experiment); ``blessed`` from the experiment commit's ``reports/blessing.json`` when the target
ran the gate. Progress uses the cheaper :func:`primary_values` (git only, no DVC start-up).
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


def build(root: Path, state: SweepState, baseline: str | None = None) -> Leaderboard:
    """Read every trial's results from ``dvc exp show --json`` and rank them."""
    results = _exp_show(root, [t.name for t in state.trials if t.status == "success"], baseline)
    refs = _dvc.experiment_refs(root)
    rows = []
    for trial in state.trials:
        row = Row(trial.name, trial.status, swept_params(trial.overrides), error=trial.error)
        if trial.status == "success":
            row.metrics = results.get(trial.name, {})
            row.blessed = _blessed(root, refs.get(trial.name))
        rows.append(row)
    return Leaderboard(state.prefix, state.primary, state.higher_is_better, rank(rows, state))


def rank(rows: list[Row], state: SweepState) -> list[Row]:
    """Sort by the primary metric in its better direction; number the ranked rows from 1."""
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
    """The primary metric of each finished trial, read from its experiment commit."""
    if state.primary is None:
        return {}
    refs = _dvc.experiment_refs(root)
    values: dict[str, float] = {}
    for trial in state.trials:
        commit = refs.get(trial.name)
        text = _dvc.show_file(root, commit, METRICS_FILE) if commit else None
        value = _metrics(text).get(state.primary)
        if value is not None:
            values[trial.name] = value
    return values


def _exp_show(root: Path, names: list[str], baseline: str | None) -> dict[str, dict[str, float]]:
    if not names:
        return {}
    args = ["dvc", "exp", "show", "--json"]
    if baseline:
        args += ["--rev", baseline]
    done = _dvc.run(root, *args, what="reading results ('dvc exp show')")
    wanted = set(names)
    found: dict[str, dict[str, float]] = {}
    for commit in json.loads(done.stdout or "[]"):
        for exp in commit.get("experiments") or []:
            if exp.get("name") not in wanted:
                continue
            for rev in exp.get("revs") or []:
                data = rev.get("data") or {}
                metrics = (data.get("metrics") or {}).get(METRICS_FILE, {}).get("data") or {}
                found[exp["name"]] = {
                    k: float(v) for k, v in metrics.items() if isinstance(v, int | float)
                }
    return found


def _metrics(text: str | None) -> dict[str, float]:
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(v, int | float)}


def _blessed(root: Path, commit: str | None) -> bool | None:
    text = _dvc.show_file(root, commit, BLESSING_FILE) if commit else None
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
