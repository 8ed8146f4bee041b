"""``conveyor sweep``: check the project, plan the trials, run them as DVC experiments, rank.

This module orchestrates: it reads the request and the project, then hands the trials to a
strategy, the grid (every combination, run here) or the Bayesian search
(:mod:`conveyor.experiments._optuna_search`). Both run trials through
:mod:`conveyor.experiments._trials`, which imports neither.

Before anything is queued: hydra composition must be on in DVC, conf/ committed, dvc.yaml and
params.yaml current (``compile --check``), and every combination must compile (in process, so
a typo fails at once with the combination named). A combination whose compiled dvc.yaml differs
from the committed one is structural: it is queued with its own dvc.yaml.

conf/ is composed once per distinct choice of config groups, the check's (no overrides) and the
combinations' (trials that differ in values share it, and trials that choose no group share the
check's: :mod:`conveyor.config.recompose`): once the check has passed, params.yaml is what conf/
composes, so the project's facts (the primary metric that ranks the trials, the seed) are read
from it. The sweep ranks by the metric the gate, ``conveyor
monitor`` and ``conveyor ct`` use: ``evaluate.primary``, else the first of ``evaluate.metrics``.
"""

from __future__ import annotations

import configparser
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conveyor.config import CONFIG_DIR
from conveyor.config.sweep import check_trials, grid, load_space_file, parse_space
from conveyor.errors import SweepError
from conveyor.experiments import _dvc, queue
from conveyor.experiments._trials import run_trials, validate
from conveyor.experiments.plan import SweepState, Trial, load_state, new_prefix
from conveyor.runtime.facts import primary_higher_is_better, read_facts

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from conveyor.config.recompose import Composer
    from conveyor.experiments._cluster import Cluster
    from conveyor.experiments._progress import Progress
    from conveyor.plugins import Plugins
    from conveyor.spec.facts import ProjectFacts

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
    composer, plugins = _compiling(root)
    facts = preflight(root, composer, plugins)
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
    state.primary, state.higher_is_better = ranking(facts)
    if optimizer == "grid":
        state.trials = [
            Trial(f"{prefix}-{i}", list(c)) for i, c in enumerate(grid(dimensions), start=1)
        ]
        state.budget = len(state.trials)
        files = validate(root, state, state.trials, composer, plugins)
        state.save(root)
        with _executor(root, progress) as cluster:
            run_trials(root, state, state.trials, files, progress, cluster, new=True)
        return state
    from conveyor.experiments._optuna_search import run_study

    if budget is None:
        raise SweepError("optuna needs a number of trials", where="--trials", fix="add --trials N")
    check_trials(budget, "--trials")
    state.budget = budget
    state.save(root)
    with _executor(root, progress) as cluster:
        run_study(
            root, state, dimensions, progress, seed=facts.seed, cluster=cluster, composer=composer
        )
    return state


def resume_sweep(root: Path, name: str | None, jobs: int | None, progress: Progress) -> SweepState:
    """Run what an interrupted sweep left: pending and failed trials (and Optuna's remainder)."""
    state = load_state(root, name)
    composer, plugins = _compiling(root)
    facts = preflight(root, composer, plugins)
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
        from conveyor.experiments._optuna_search import run_study

        dimensions = parse_space(root / CONFIG_DIR, state.space)
        with _executor(root, progress) as cluster:
            run_study(
                root,
                state,
                dimensions,
                progress,
                seed=facts.seed,
                cluster=cluster,
                composer=composer,
            )
        return state
    left = [t for t in state.trials if t.status not in ("success",)]
    progress.note(f"resuming {state.prefix}: {len(left)} of {len(state.trials)} trials left")
    files = validate(root, state, left, composer, plugins)
    if left:
        with _executor(root, progress) as cluster:
            run_trials(root, state, left, files, progress, cluster)
    return state


@contextmanager
def _executor(root: Path, progress: Progress) -> Iterator[Cluster | None]:
    """The project's executor for the trials: None (DVC's local queue) for ``local``."""
    from conveyor.experiments._cluster import open_cluster

    with open_cluster(root) as cluster:
        if cluster is not None:
            progress.note(
                f"trials run on the '{cluster.kind}' executor ({cluster.session.workers} "
                "workers), each in its own clone of the base commit"
            )
        yield cluster


def _compiling(root: Path) -> tuple[Composer, Plugins]:
    """What the project's check and every trial's compile share.

    One Hydra compose per choice of config groups (the check's is the trials' when they choose
    none) and one scan of the installed plugins.
    """
    from conveyor.config.recompose import Composer
    from conveyor.plugins import Plugins

    return Composer(root / CONFIG_DIR), Plugins.discover()


def preflight(
    root: Path, composer: Composer | None = None, plugins: Plugins | None = None
) -> ProjectFacts:
    """Refuse a sweep that would run against something other than committed conf/.

    ``composer`` and ``plugins``, when given, are the ones the trials then compile with.

    Returns:
        The project's facts, read from params.yaml once the check has shown that it is what
        conf/ composes (so conf/ is composed once, not once per fact).
    """
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
    from conveyor.compiler import check_drift

    drift = check_drift(root, composer=composer, plugins=plugins)
    if drift.diff:
        raise SweepError(
            "dvc.yaml/params.yaml are not what conf/ generates",
            where="dvc.yaml",
            fix=f"{drift.short_fix()} (see 'conveyor compile --check')",
        )
    return read_facts(root)


def ranking(facts: ProjectFacts) -> tuple[str, bool]:
    """The metric that ranks the trials, and whether higher is better (from its component).

    The project's primary metric, exactly as the gate and ``conveyor monitor`` pick it
    (:attr:`ProjectFacts.primary_metric`), so a project without ``evaluate.primary`` ranks by
    its first metric.
    """
    return facts.primary_metric, primary_higher_is_better(facts)


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
