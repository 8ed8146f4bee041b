"""``conveyor sweep``: check the project, plan the trials, run them as DVC experiments, rank.

Before anything is queued: hydra composition must be on in DVC, conf/ committed, dvc.yaml and
params.yaml current (``compile --check``), and every combination must compile (in process, so
a typo fails at once with the combination named). A combination whose compiled dvc.yaml differs
from the committed one is structural: it is queued with its own dvc.yaml.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conveyor.config import CONFIG_DIR, compose
from conveyor.config.sweep import Dimension, check_trials, grid, load_space_file, parse_space
from conveyor.errors import ConveyorError, SweepError
from conveyor.experiments import _dvc, leaderboard, queue
from conveyor.experiments.plan import SweepState, Trial, load_state, new_prefix

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.experiments._progress import Progress

DEFAULT_TARGET = "gate"


@dataclass(frozen=True)
class SweepRequest:
    """What the user asked for on the command line."""

    overrides: tuple[str, ...] = ()
    jobs: int = 1
    optimizer: str | None = None
    trials: int | None = None
    space: str | None = None
    target: str = DEFAULT_TARGET
    name: str | None = None


def start_sweep(root: Path, request: SweepRequest, progress: Progress) -> SweepState:
    """Plan, validate and run a new sweep; its state is kept for --show/--resume/--apply."""
    preflight(root)
    overrides = list(request.overrides)
    optimizer, budget = request.optimizer, request.trials
    if request.space is not None:
        space = load_space_file(root, request.space)
        overrides = [*space.params, *overrides]  # the command line refines the file
        optimizer = optimizer or space.optimizer
        budget = budget or space.trials
    optimizer = optimizer or "grid"
    if not overrides:
        raise SweepError(
            "nothing to sweep",
            where="conveyor sweep",
            fix="give overrides such as model.params.max_depth=2,4,6, or --space NAME",
        )
    dimensions = parse_space(root / CONFIG_DIR, overrides)
    prefix = request.name or new_prefix()
    _check_new(root, prefix)
    state = SweepState(prefix, optimizer, request.target, request.jobs, overrides)
    state.baseline = _dvc.head(root)
    state.primary, state.higher_is_better = primary_metric(root)
    if optimizer == "grid":
        state.trials = [
            Trial(f"{prefix}-{i}", list(c)) for i, c in enumerate(grid(dimensions), start=1)
        ]
        state.budget = len(state.trials)
        pipelines = validate(root, state, state.trials)
        state.save(root)
        run_trials(root, state, state.trials, pipelines, progress)
        return state
    from conveyor.experiments.optuna import run_study

    if budget is None:
        raise SweepError("optuna needs a number of trials", where="--trials", fix="add --trials N")
    check_trials(budget, "--trials")
    state.budget = budget
    state.save(root)
    run_study(root, state, dimensions, progress)
    return state


def resume_sweep(root: Path, name: str | None, jobs: int | None, progress: Progress) -> SweepState:
    """Run what an interrupted sweep left: pending and failed trials (and Optuna's remainder)."""
    state = load_state(root, name)
    preflight(root)
    if state.baseline is not None and _dvc.head(root) != state.baseline:
        raise SweepError(
            f"HEAD moved since sweep '{state.prefix}' started from {state.baseline[:7]}: the "
            "remaining trials would run against other code and config than the finished ones",
            where="--resume",
            fix=f"git checkout {state.baseline[:7]} to resume it, or start a new sweep",
        )
    if jobs is not None:
        state.jobs = jobs
    queue.reconcile(root, state)
    if state.optimizer == "optuna":
        from conveyor.experiments.optuna import run_study

        dimensions = parse_space(root / CONFIG_DIR, state.space)
        run_study(root, state, dimensions, progress)
        return state
    left = [t for t in state.trials if t.status not in ("success",)]
    progress.note(f"resuming {state.prefix}: {len(left)} of {len(state.trials)} trials left")
    pipelines = validate(root, state, left)
    run_trials(root, state, left, pipelines, progress)
    return state


def preflight(root: Path) -> None:
    """Refuse a sweep that would run against something other than committed conf/."""
    if not (root / ".dvc").is_dir():
        raise SweepError(
            f"'{root}' is not a DVC repository", where="conveyor sweep", fix="run 'dvc init'"
        )
    if not _hydra_enabled(root):
        raise SweepError(
            "DVC's hydra composition is off, so 'dvc exp run -S' would not recompose conf/",
            where=".dvc/config",
            fix="dvc config hydra.enabled true, and commit .dvc/config",
        )
    _dvc.run(root, "git", "rev-parse", "--verify", "HEAD", what="finding the commit to sweep from")
    dirty = _dvc.dirty(root, [CONFIG_DIR])
    if dirty:
        raise SweepError(
            f"uncommitted changes in {', '.join(dirty[:5])}: queued experiments snapshot the "
            "workspace, so every trial would silently include them",
            where=f"{CONFIG_DIR}/",
            fix="commit them (then 'conveyor compile' and commit), or stash them",
        )
    from conveyor.compiler import check

    if check(root):
        raise SweepError(
            "dvc.yaml/params.yaml are not what conf/ generates",
            where="dvc.yaml",
            fix="run 'conveyor compile' and commit the result (see 'conveyor compile --check')",
        )


def validate(root: Path, state: SweepState, trials: list[Trial]) -> dict[str, str]:
    """Compile every trial in process; the dvc.yaml text of each structural one, by name."""
    from conveyor.compiler import DVC_YAML, compile_files

    committed = (root / DVC_YAML).read_text(encoding="utf-8")
    own: dict[str, str] = {}
    for trial in trials:
        shown = " ".join(trial.overrides)
        try:
            compiled = compile_files(root, trial.overrides)
        except ConveyorError as exc:
            several = len(getattr(exc, "problems", ())) > 1
            raise SweepError(
                f"trial '{trial.name}' ({shown}) does not compile: "
                + (exc.render() if several else str(exc)),
                where="conveyor sweep",
                fix=f"{exc.fix}; nothing was queued"
                if exc.fix and not several
                else "fix the search space; nothing was queued",
            ) from exc
        names = [s.name for s in compiled.pipeline.stages]
        if state.target not in names:
            raise SweepError(
                f"trial '{trial.name}' ({shown}) has no stage '{state.target}'",
                where="--target",
                fix=f"stages: {', '.join(names)}",
            )
        text = compiled.files[DVC_YAML]
        trial.structural = text != committed
        if trial.structural:
            own[trial.name] = text
    return own


def run_trials(
    root: Path,
    state: SweepState,
    trials: list[Trial],
    pipelines: dict[str, str],
    progress: Progress,
) -> None:
    """Queue ``trials`` and wait for them; on Ctrl-C leave the unfinished ones resumable."""
    if not trials:
        return
    reported: set[str] = {t.name for t in state.trials if t.status == "failed"}

    def on_change() -> None:
        for trial in trials:
            if trial.status == "failed" and trial.name not in reported:
                reported.add(trial.name)
                progress.note(f"trial {trial.name} failed ({' '.join(trial.overrides)}):")
                progress.note("    " + (trial.error or "").replace("\n", "\n    "))
        progress.update(state, best_so_far(root, state))

    fresh = [t for t in trials if t.status in ("pending", "failed")]  # others are in DVC's queue
    try:
        queue.forget(root, [t.name for t in fresh])
        if not queue.enqueue_grid(root, state, fresh):
            for trial in fresh:
                queue.enqueue(root, state, trial, pipelines.get(trial.name))
                progress.update(state, None)
        progress.update(state, None)
        queue.wait(root, state, trials, on_change)
    except KeyboardInterrupt:
        progress.note(f"interrupted: stopping {state.prefix} ...")
        queue.stop(root, state, trials)
        counts = state.counts()
        progress.note(
            f"{counts['success']} finished trials kept; {counts['pending']} left: "
            f"conveyor sweep --resume --name {state.prefix}"
        )
        raise


def best_so_far(root: Path, state: SweepState) -> tuple[str, float] | None:
    """The best finished trial and its primary metric."""
    values = leaderboard.primary_values(root, state)
    if not values:
        return None
    pick = max if state.higher_is_better else min
    name = pick(values, key=lambda n: values[n])
    return name, values[name]


def primary_metric(root: Path) -> tuple[str | None, bool]:
    """``evaluate.primary`` and whether higher is better (from the metric component)."""
    data = compose(root / CONFIG_DIR).data
    evaluate = data.get("evaluate")
    primary = evaluate.get("primary") if isinstance(evaluate, dict) else None
    if not isinstance(primary, str):
        return None, True
    from conveyor.plugins import Plugins

    metric = Plugins.discover()["metric"].load(primary, where="evaluate.primary")
    return primary, bool(getattr(metric, "higher_is_better", True))


def seed(root: Path) -> int:
    """The project's ``seed`` (0 when it has none)."""
    value = compose(root / CONFIG_DIR).data.get("seed")
    return value if isinstance(value, int) else 0


def fixed_and_swept(dimensions: list[Dimension]) -> tuple[list[str], list[Dimension]]:
    """Overrides every trial gets, and the dimensions that vary."""
    fixed = [d.override(d.values[0]) for d in dimensions if not d.is_swept]
    return fixed, [d for d in dimensions if d.is_swept]


def _check_new(root: Path, prefix: str) -> None:
    from conveyor.experiments.plan import state_path

    if state_path(root, prefix).is_file():
        raise SweepError(
            f"a sweep named '{prefix}' exists",
            where="--name",
            fix=f"resume it (conveyor sweep --resume --name {prefix}) or choose another name",
        )
    taken = [n for n in _dvc.experiment_refs(root) if n.startswith(f"{prefix}-")]
    if taken:
        raise SweepError(
            f"experiments named '{prefix}-*' exist ({', '.join(sorted(taken)[:3])})",
            where="--name",
            fix="choose another --name, or remove them: dvc exp remove " + " ".join(taken[:3]),
        )


def _hydra_enabled(root: Path) -> bool:
    parser = configparser.ConfigParser()
    parser.read([root / ".dvc" / "config", root / ".dvc" / "config.local"])
    return parser.get("hydra", "enabled", fallback="false").strip().lower() in ("true", "1")
