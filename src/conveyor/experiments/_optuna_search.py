"""Bayesian search: Optuna's TPE sampler, ask-and-tell, each trial a DVC experiment.

Trials are asked in batches of ``-j`` (one per queue worker), run, then told: the value of
the primary metric read from the experiment's metrics, or FAIL for a trial that failed. The
sampler is seeded from the project's ``seed``, which the sweep passes in. On ``--resume`` the
study is rebuilt from the finished trials kept in the sweep state, so no result is lost or run
twice. Trials are compiled, queued and awaited by :mod:`conveyor.experiments._trials`.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

from conveyor.config import CONFIG_DIR
from conveyor.config.recompose import Composer
from conveyor.errors import SweepError
from conveyor.experiments import leaderboard
from conveyor.experiments._trials import run_trials, validate
from conveyor.experiments.plan import FINISHED, Trial

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.config.sweep import Dimension
    from conveyor.experiments._cluster import Cluster
    from conveyor.experiments._progress import Progress
    from conveyor.experiments.plan import SweepState, TrialFiles


def distribution(dimension: Dimension) -> Any:  # noqa: ANN401 - an optuna distribution
    """The Optuna distribution of a swept dimension."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if dimension.is_interval:
        assert dimension.low is not None  # noqa: S101 - an interval has both ends
        assert dimension.high is not None  # noqa: S101
        if dimension.integer:
            return IntDistribution(int(dimension.low), int(dimension.high), log=dimension.log)
        return FloatDistribution(dimension.low, dimension.high, log=dimension.log)
    numbers = dimension.numeric
    if numbers and len(numbers) > 1 and all(isinstance(n, int) for n in numbers):
        step = int(numbers[1] - numbers[0])
        return IntDistribution(int(numbers[0]), int(numbers[-1]), step=step)
    return CategoricalDistribution(list(dimension.values))


def fixed_and_swept(dimensions: list[Dimension]) -> tuple[list[str], list[Dimension]]:
    """Overrides every trial gets, and the dimensions that vary."""
    fixed = [d.override(d.values[0]) for d in dimensions if not d.is_swept]
    return fixed, [d for d in dimensions if d.is_swept]


def run_study(
    root: Path,
    state: SweepState,
    dimensions: list[Dimension],
    progress: Progress,
    *,
    seed: int,
    cluster: Cluster | None = None,
    composer: Composer | None = None,
) -> None:
    """Ask, run and tell until ``state.budget`` trials have finished; ``seed`` seeds TPE.

    Trials run on ``cluster`` when one is given (the project's executor), else DVC's queue.
    ``composer`` is the sweep's (its check composed conf/ with it), else a new one.
    """
    import optuna
    from optuna.trial import TrialState, create_trial

    if state.primary is None:
        raise SweepError(
            "optuna needs a metric to optimise, and the project has no evaluate.primary",
            where="conf/evaluate/",
            fix="set evaluate.primary, or use a grid sweep",
        )
    fixed, swept = fixed_and_swept(dimensions)
    if not swept:
        raise SweepError(
            "nothing to search: every key has a single value",
            where="conveyor sweep --optimizer optuna",
            fix="give ranges: key=range(2,8), key=interval(0.01,0.3), key=choice(a,b)",
        )
    distributions = {d.key: distribution(d) for d in swept}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction: Literal["maximize", "minimize"] = (
        "maximize" if state.higher_is_better else "minimize"
    )
    with warnings.catch_warnings():  # constant_liar (spread a batch's guesses) is "experimental"
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    study = optuna.create_study(direction=direction, sampler=sampler)
    by_key = {d.key: d for d in swept}

    def tell(trials: list[Trial]) -> None:
        values = leaderboard.primary_values(root, state)
        for trial in trials:
            value = values.get(trial.name)
            ok = trial.status == "success" and value is not None
            study.add_trial(
                create_trial(
                    params=trial.params or {},
                    distributions=distributions,
                    value=value if ok else None,
                    state=TrialState.COMPLETE if ok else TrialState.FAIL,
                )
            )

    tell([t for t in state.trials if t.status in FINISHED and t.params is not None])
    composer = composer or Composer(root / CONFIG_DIR)  # one compose per choice of groups
    leftover = [t for t in state.trials if t.status not in FINISHED]
    if leftover:  # asked before an interruption: run them as they were asked
        files = validate(root, state, leftover, composer)
        run_trials(root, state, leftover, files, progress, cluster)
        tell(leftover)
    while len(state.trials) < state.budget:
        asked: dict[str, Any] = {}
        for _ in range(min(state.jobs, state.budget - len(state.trials))):
            suggestion = study.ask(distributions)
            params = dict(suggestion.params)
            overrides = [*fixed, *(by_key[k].override(_text(v)) for k, v in params.items())]
            trial = Trial(state.next_name(), overrides, number=suggestion.number, params=params)
            state.trials.append(trial)
            asked[trial.name] = suggestion
        state.save(root)
        batch = [state.trial(name) for name in asked]
        runnable, files = _compilable(root, state, batch, progress, composer)
        run_trials(root, state, runnable, files, progress, cluster, new=True)
        values = leaderboard.primary_values(root, state)
        for trial in batch:
            value = values.get(trial.name)
            if trial.status == "success" and value is not None:
                study.tell(asked[trial.name], value)
            else:
                study.tell(asked[trial.name], state=TrialState.FAIL)


def _compilable(
    root: Path, state: SweepState, batch: list[Trial], progress: Progress, composer: Composer
) -> tuple[list[Trial], dict[str, TrialFiles]]:
    """The trials of ``batch`` that compile; the others fail at once with the reason."""
    runnable: list[Trial] = []
    files: dict[str, TrialFiles] = {}
    for trial in batch:
        try:
            files.update(validate(root, state, [trial], composer))
        except SweepError as exc:
            trial.status, trial.error = "failed", exc.what
            progress.note(f"trial {trial.name} failed: {exc.what}")
            continue
        runnable.append(trial)
    state.save(root)
    return runnable, files


def _text(value: object) -> str:
    """A suggested value as override text."""
    if isinstance(value, float):
        return repr(value)
    return str(value)
