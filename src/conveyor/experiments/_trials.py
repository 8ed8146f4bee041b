"""Trial mechanics that every search strategy uses: compile, queue, wait, track the best.

A strategy (the grid in :mod:`conveyor.experiments.sweep`, the Bayesian search in
:mod:`conveyor.experiments._optuna_search`) decides which trials to run; this module runs them.
It knows nothing of strategies or of how the sweep was asked for, so both import it and it
imports neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.errors import ConveyorError, SweepError
from conveyor.experiments import leaderboard, queue
from conveyor.experiments.plan import TrialFiles

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.config.recompose import Composer
    from conveyor.experiments._cluster import Cluster
    from conveyor.experiments._progress import Progress
    from conveyor.experiments.plan import SweepState, Trial
    from conveyor.plugins import Plugins


def validate(
    root: Path,
    state: SweepState,
    trials: list[Trial],
    composer: Composer | None = None,
    plugins: Plugins | None = None,
) -> dict[str, TrialFiles]:
    """Compile every trial in process; each one's params.yaml (and dvc.yaml if structural).

    Trials that choose the same config groups share one Hydra compose (``composer``, one per
    sweep; the sweep's check of the project composed with it too): a grid over model params
    composes conf/ once, and each trial only applies its values, checks them and builds its stage
    graph (milliseconds). The files are the bytes a compile of each trial on its own gives
    (tests/integration/test_sweep_compile.py); each trial is queued with them (:mod:`._enqueue`).
    """
    from conveyor.compiler import DVC_YAML, PARAMS_YAML, compile_files
    from conveyor.config import CONFIG_DIR
    from conveyor.config.recompose import Composer
    from conveyor.plugins import Plugins

    composer = composer or Composer(root / CONFIG_DIR)
    plugins = plugins or Plugins.discover()
    committed = (root / DVC_YAML).read_text(encoding="utf-8")
    files: dict[str, TrialFiles] = {}
    for trial in trials:
        shown = " ".join(trial.overrides)
        try:
            compiled = compile_files(root, trial.overrides, composer=composer, plugins=plugins)
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
        files[trial.name] = TrialFiles(
            compiled.files[PARAMS_YAML], text if trial.structural else None
        )
    return files


def run_trials(
    root: Path,
    state: SweepState,
    trials: list[Trial],
    files: dict[str, TrialFiles],
    progress: Progress,
    cluster: Cluster | None = None,
    *,
    new: bool = False,
) -> None:
    """Queue ``trials`` and wait for them; on Ctrl-C leave the unfinished ones resumable.

    With a ``cluster`` (a project executor other than ``local``), each trial is a task on it
    (:mod:`conveyor.experiments._cluster`) instead of an entry in DVC's local queue. ``new``:
    the trials' names were never queued (a new sweep's, whose name no state file or experiment
    has; a batch Optuna just asked), so DVC's queue holds no earlier attempt of theirs to clear
    (a ``dvc queue remove``, a DVC start-up, saved).
    """
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

    if cluster is not None:
        from conveyor.experiments._cluster import run_on_cluster

        try:
            run_on_cluster(root, state, trials, files, cluster, on_change)
        except KeyboardInterrupt:
            _interrupted(state, progress)
            raise
        return
    fresh = [t for t in trials if t.status in ("pending", "failed")]  # others are in DVC's queue
    poll = queue.poll_seconds()  # a bad setting is refused before anything is queued
    try:
        with queue.workers_starting(root, state.jobs):  # ready when the queueing ends
            if not new:  # an earlier attempt's entry: failed, or gone (none queued, none runs)
                queue.forget(root, [t.name for t in fresh])
            queue.enqueue(root, state, fresh, files)
        progress.update(state, None)

        def requeue(trial: Trial) -> None:
            progress.note(
                f"trial {trial.name}: a DVC queue worker took it and exited without starting "
                "it; queued again"
            )
            queue.enqueue(root, state, [trial], files)

        queue.wait(root, state, trials, on_change, poll=poll, requeue=requeue)
    except KeyboardInterrupt:
        progress.note(f"interrupted: stopping {state.prefix} ...")
        queue.stop(root, state, trials)
        _interrupted(state, progress)
        raise


def _interrupted(state: SweepState, progress: Progress) -> None:
    counts = state.counts()
    progress.note(
        f"{counts['success']} finished trials kept; {counts['pending']} left: "
        f"conveyor sweep --resume --name {state.prefix}"
    )


def best_so_far(root: Path, state: SweepState) -> tuple[str, float] | None:
    """The best finished trial and its primary metric."""
    values = leaderboard.primary_values(root, state)
    if not values:
        return None
    pick = max if state.higher_is_better else min
    name = pick(values, key=lambda n: values[n])
    return name, values[name]
