"""``conveyor sweep --apply``: make a trial's overrides permanent in conf/, for review.

``dvc exp apply NAME`` first (on a clean conf/, so DVC has nothing to merge), then each override
is written where it belongs by :mod:`conveyor.config.edit`. Then ``conveyor compile``, after
which ``compile --check`` must pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conveyor.config import CONFIG_DIR
from conveyor.config.edit import override_key, set_group_option, set_value
from conveyor.errors import SweepError
from conveyor.experiments import _dvc, leaderboard
from conveyor.experiments.plan import STATE_DIR, SweepState, load_state

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conveyor.compiler import Stage


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
    trial = state.trial(which)
    dirty = _dvc.dirty(root, [CONFIG_DIR])
    if dirty:
        raise SweepError(
            f"uncommitted changes in {', '.join(dirty[:5])}",
            where="--apply",
            fix="commit or stash them first, so the applied change can be reviewed on its own",
        )
    echo(f"dvc exp apply {which}")
    _exp_apply(root, which, state.target, echo)
    applied = Applied(which, list(trial.overrides))
    conf_dir = root / CONFIG_DIR
    groups = {p.name for p in conf_dir.iterdir() if p.is_dir()}
    group_overrides = [o for o in trial.overrides if override_key(o).split("@")[0] in groups]
    for override in group_overrides:
        applied.changed += set_group_option(root, override)
    for override in trial.overrides:
        if override not in group_overrides:
            applied.changed += set_value(root, override)
    from conveyor.compiler import check, compile_files

    compile_files(root).write(root)
    diff = check(root)
    if diff:
        raise SweepError(
            "conf/ was updated, but 'conveyor compile --check' still differs:\n" + diff,
            where="--apply",
            fix="review conf/ with 'git diff'; this is a bug if the diff is not yours",
        )
    applied.changed = sorted(set(applied.changed))
    return applied


def _exp_apply(root: Path, name: str, target: str, echo: Callable[[str], None]) -> None:
    """``dvc exp apply``, tolerating outputs of stages after ``target``, which never ran.

    DVC checks out every output of dvc.yaml; a trial run to ``gate`` has no deploy outputs in
    the cache, so DVC reports them as missing after applying everything else.
    """
    done = _dvc.run(root, "dvc", "exp", "apply", name, what="dvc exp apply", check=False)
    if done.returncode == 0:
        return
    output = done.output
    lines = [line.strip() for line in output.splitlines()]
    marker = "ERROR: Checkout failed for following targets:"
    missing: list[str] = []
    if marker in lines:
        for line in lines[lines.index(marker) + 1 :]:
            if not line or line.startswith("Is your cache"):
                break
            missing.append(line)
    from conveyor.compiler import compile_files

    upstream = _upstream_outputs(compile_files(root).pipeline.stages, target)
    if not missing or any(path in upstream for path in missing):
        raise SweepError(
            f"applying experiment '{name}' failed ('dvc exp apply' exited {done.returncode}):"
            "\n    " + "\n    ".join(_dvc.tail(output)),
            where="--apply",
            fix="fix the cause above; 'git status' shows what was applied",
        )
    echo(
        f"note: not checked out: {', '.join(missing)} (stages after '{target}' did not run "
        "in the trial; 'dvc repro' builds them)"
    )


def _upstream_outputs(stages: tuple[Stage, ...], target: str) -> set[str]:
    """Every output of ``target`` and of the stages it depends on, directly or not."""
    chosen = [s for s in stages if s.name == target]
    changed = True
    while changed:
        needed = {dep for s in chosen for dep in s.deps}
        more = [s for s in stages if s not in chosen and needed & set(s.produces)]
        chosen += more
        changed = bool(more)
    return {path for s in chosen for path in s.produces}


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
