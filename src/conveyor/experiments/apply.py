"""``conveyor sweep --apply``: make a trial permanent in conf/, for review.

The sweep's state names the trial (``best`` ranks them) and the stage it ran to; the rest is
``conveyor adopt`` (:mod:`conveyor.experiments.adopt`): infer the overrides from the trial's
params.yaml, ``dvc exp apply``, write them into conf/, recompile, and ``compile --check``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conveyor.errors import SweepError
from conveyor.experiments import leaderboard
from conveyor.experiments.adopt import adopt_experiment
from conveyor.experiments.plan import STATE_DIR, SweepState, load_state

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


@dataclass
class Applied:
    """What ``--apply`` did."""

    name: str
    overrides: list[str]
    changed: list[str] = field(default_factory=list)


def apply_experiment(
    root: Path, which: str, *, sweep: str | None, echo: Callable[[str], None]
) -> Applied:
    """Apply the best trial of ``sweep`` (``which='best'``) or the trial named ``which``."""
    state = load_state(root, sweep) if which == "best" else _state_with(root, which, sweep)
    if which == "best":
        best = leaderboard.build(root, state).best
        if best is None:
            raise SweepError(
                f"sweep '{state.prefix}' has no finished trial with a {state.primary} value",
                where="--apply best",
                fix=f"run or resume it: conveyor sweep --resume --name {state.prefix}",
            )
        which = best.name
    state.trial(which)  # a trial of this sweep
    adopted = adopt_experiment(root, which, echo=echo, target=state.target, where="--apply")
    if adopted.not_checked_out:
        echo(
            f"note: not checked out: {', '.join(adopted.not_checked_out)} (stages after "
            f"'{state.target}' did not run in the trial; 'dvc repro' builds them)"
        )
    return Applied(which, adopted.overrides, adopted.changed)


def _state_with(root: Path, name: str, prefix: str | None) -> SweepState:
    if prefix is not None:
        state = load_state(root, prefix)
        if any(t.name == name for t in state.trials):
            return state
    for path in sorted((root / STATE_DIR).glob("*.json")):
        state = load_state(root, path.stem)
        if any(t.name == name for t in state.trials):
            return state
    raise SweepError(
        f"no sweep has a trial named '{name}'",
        where="--apply",
        fix="name a trial from 'conveyor sweep --show', or use --apply best",
    )
