"""Run trials as DVC experiments through DVC's queue, N workers in parallel.

Each trial is queued as ``dvc exp run --queue --no-hydra -n NAME TARGET`` would queue it with the
params.yaml the sweep composed for it in the workspace, through DVC's API in this process
(:mod:`._enqueue`): DVC snapshots the workspace at once, and a trial whose overrides change the
pipeline's structure has its own dvc.yaml written there too, the committed files put back right
after. N queue workers start meanwhile (DVC's, polling every 0.1 s: :mod:`._queue_worker`), so they
take trials as they arrive. Finished trials are read from their experiment refs; DVC's queue
only when refs stop coming or a worker is missing. Workers are DVC's own daemons, so a killed
``conveyor`` leaves them running; Ctrl-C stops them: running trials are killed, queued ones
removed, and both go back to pending for ``--resume``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import time
from typing import TYPE_CHECKING

from conveyor._blas import THREAD_VARIABLES
from conveyor.errors import SweepError, UsageError
from conveyor.experiments import _dvc, _queue_worker
from conveyor.experiments._outcome import MISSING, settle
from conveyor.experiments.plan import FINISHED

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

    from conveyor.experiments.plan import SweepState, Trial, TrialFiles

_log = logging.getLogger("conveyor.sweep")

POLL_SECONDS = 5.0
"""Each ``dvc queue status`` is a whole DVC process (~1 s of CPU the workers need)."""
POLL_ENV = "CONVEYOR_SWEEP_POLL"
"""Seconds between ``dvc queue status`` reads instead of :data:`POLL_SECONDS`. A dead worker is
noticed after :data:`STARVED_POLLS` of them: lower it to notice sooner (each read costs about a
second of CPU), raise it on a machine too busy to answer in time."""
REFS_SECONDS = 0.25
"""A finished trial shows as an experiment ref (``git for-each-ref``, a few milliseconds): read
often, so that the sweep ends, and Optuna asks its next trials, soon after a trial does."""
MIN_POLL_SECONDS = 1.0
"""The shortest interval between queue reads :data:`POLL_ENV` may ask for."""
STARVED_POLLS = 3
"""Polls with fewer trials running than workers wanted before the missing ones start again."""
WORKER_PATIENCE = 8.0
"""Seconds a DVC queue worker surely waits for work once started (DVC's ``TemporaryWorker``
waits 10 s after its start-up before it looks at the queue and exits if it is empty)."""


def poll_seconds() -> float:
    """The poll interval: :data:`POLL_ENV` if set, else :data:`POLL_SECONDS`."""
    text = os.environ.get(POLL_ENV, "").strip()
    if not text:
        return POLL_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= MIN_POLL_SECONDS):
        raise UsageError(
            f"{POLL_ENV}={text!r} is not a number of seconds of at least {MIN_POLL_SECONDS:g}",
            where=f"the environment variable {POLL_ENV}",
            fix=f"set it to seconds between queue reads, e.g. {POLL_ENV}=2, or unset it "
            f"for the default {POLL_SECONDS:g}",
        )
    return seconds


def enqueue(
    root: Path, state: SweepState, trials: list[Trial], files: Mapping[str, TrialFiles]
) -> None:
    """Queue ``trials`` in order, each with its compiled ``files`` (:mod:`._enqueue`).

    The state is saved after each, so a worker can take the first while the rest are queued.
    A trial DVC refuses that has an experiment ref already finished: a worker ran it after an
    interruption was handled.
    """
    from conveyor.experiments._enqueue import TrialQueue

    began = time.monotonic()
    with TrialQueue(root, state.target) as trial_queue:
        for trial in trials:
            compiled = files[trial.name]
            try:
                trial_queue.put(trial.name, compiled.params_yaml, compiled.dvc_yaml)
            except SweepError:
                if trial.name not in _dvc.experiment_refs(root):
                    raise
                trial.status = "success"
            else:
                trial.status = "queued"
            trial.error = None
            state.save(root)
    _log.debug("queued %d trial(s) in %.2f s", len(trials), time.monotonic() - began)


def forget(root: Path, names: list[str]) -> None:
    """Drop leftover queue entries (a failed or killed earlier attempt) so names can be reused."""
    if names:
        _dvc.run(root, "dvc", "queue", "remove", *names, what="clearing the queue", check=False)


def forget_unstarted(root: Path, name: str) -> None:
    """Drop the killed entry of a trial no worker set up, so that ``name`` can be queued again.

    DVC takes such an entry for a queued one, because its stash entry is still there (a worker
    drops it when it sets the trial up): ``dvc queue remove`` drops the stash entry and leaves
    the task, which the kill marked failed. A second remove, finding no stash entry, removes the
    task; without it ``dvc queue status`` and ``dvc exp show`` would list a failed twin of the
    trial for good.
    """
    forget(root, [name])
    forget(root, [name])


def reconcile(root: Path, state: SweepState) -> None:
    """Bring each unfinished trial's status up to date with refs/exps and the DVC queue."""
    refs = _dvc.experiment_refs(root)
    if all(t.status in FINISHED for t in state.trials):
        return
    entries = _dvc.queue_status(root)
    for trial in state.trials:
        if trial.status in FINISHED:
            continue
        entry = entries.get(trial.name)
        if trial.name in refs:
            trial.status, trial.error = "success", None
        elif entries.is_ghost(trial.name):  # its worker died (Ctrl-C reaches workers too)
            _kill(root, [trial.name])
            forget_unstarted(root, trial.name)  # one a worker started goes at the first remove
            trial.status = "pending"
        elif entry is not None and entry.status in ("queued", "running"):
            trial.status = "queued" if entry.status == "queued" else "running"
        elif entry is not None and entry.status == "failed":
            trial.status = "failed"
            trial.error = _dvc.queue_log(root, trial.name) or "failed (no log)"
        else:
            trial.status = "pending"  # never queued, removed, or its worker died
    state.save(root)


@contextlib.contextmanager
def workers_starting(root: Path, jobs: int) -> Iterator[None]:
    """Start ``jobs`` queue workers in the background while the block queues the trials.

    A worker is ready a second or two after it is started (its DVC and celery start-up), and an
    idle DVC worker waits 10 s for work: started meanwhile, it takes the first trial while the
    rest are queued. (It sets a trial up under DVC's stash lock, which queueing a trial takes
    too: whichever comes second tries again, ``_enqueue``.) When the queueing took longer than
    the workers wait, those that gave up are started again at the end (not sooner: a worker
    still starting would be taken for a missing one and get a twin).
    """
    from concurrent.futures import ThreadPoolExecutor

    began = time.monotonic()
    with ThreadPoolExecutor(1, thread_name_prefix="conveyor-queue-start") as pool:
        started = pool.submit(_start_workers, root, jobs)
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):  # the block's error is the one to show
                started.result()
            raise
        started.result()
    if time.monotonic() - began > WORKER_PATIENCE and _dvc.live_workers(root) < jobs:
        _start_workers(root, jobs)  # only adds the missing ones


def wait(
    root: Path,
    state: SweepState,
    trials: list[Trial],
    on_change: Callable[[], None],
    *,
    poll: float = POLL_SECONDS,
    requeue: Callable[[Trial], None] | None = None,
) -> None:
    """Poll until every one of ``trials`` has finished, on workers :func:`workers_starting` began.

    Experiment refs are read every :data:`REFS_SECONDS`, DVC's queue every ``poll`` seconds
    unless refs keep coming while every worker lives (:func:`_refs_until_poll`). Each queue
    read settles each unfinished trial from its ref and its entry (:func:`._outcome.settle`).

    A worker can die while others run (kombu's filesystem broker sometimes reads a message file
    half-written: ``JSONDecodeError`` in ``.dvc/tmp/exps/celery/dvc-exp-worker-N.out``); the rest
    would then run on fewer workers. When fewer trials run than there should be for a few polls,
    the missing workers are started again (those running are left alone).

    A trial that shows as running with no worker alive failed, unless no worker ever started
    it (:func:`~conveyor.experiments._dvc.never_started`: a worker exiting on an empty queue
    took it): that one is queued again with ``requeue``, once.
    """
    starved = ghost_polls = 0
    pace = Pace()
    absent: dict[str, int] = {}  # reads in a row a trial was neither a ref nor in the queue
    requeued: set[str] = set()
    while any(t.status not in FINISHED for t in trials):
        if not _refs_until_poll(root, state, trials, on_change, poll, pace):
            break  # every trial has its experiment ref: no need to ask DVC's queue
        entries = _dvc.queue_status(root)
        refs = _dvc.experiment_refs(root)  # read after the queue: a trial it calls done has one
        changed = False
        for trial in trials:
            if trial.status in FINISHED:
                continue
            entry = entries.get(trial.name)
            listed = entry.status if entry is not None else MISSING
            log = functools.partial(_dvc.queue_log, root, trial.name)
            changed = settle(trial, listed, trial.name in refs, absent, log) or changed
        if changed:
            state.save(root)
            on_change()
        ghosts = [t for t in trials if t.status == "running" and entries.is_ghost(t.name)]
        ghost_polls = ghost_polls + 1 if ghosts else 0
        if ghost_polls >= STARVED_POLLS:
            refs = _dvc.experiment_refs(root)  # one last look: it may have finished meanwhile
            _kill(root, [t.name for t in ghosts if t.name not in refs])
            for trial in ghosts:
                if trial.name in refs:
                    trial.status, trial.error = "success", None
                elif (
                    requeue is not None
                    and trial.name not in requeued
                    and _dvc.never_started(root, trial.name)
                ):
                    requeued.add(trial.name)
                    forget_unstarted(root, trial.name)
                    requeue(trial)
                    trial.status, trial.error = "queued", None
                else:
                    trial.status = "failed"
                    trial.error = (
                        "its DVC queue worker died; 'conveyor sweep --resume' runs it again"
                    )
            state.save(root)
            on_change()
            ghost_polls = 0
            if any(t.status == "queued" for t in ghosts):
                _start_workers(root, state.jobs)
        waiting = sum(t.status == "queued" for t in trials)
        running = sum(t.status == "running" for t in trials)
        starved = starved + 1 if waiting and running < state.jobs else 0
        if starved >= STARVED_POLLS:
            _start_workers(root, state.jobs)
            starved = 0


class Pace:
    """When the latest experiment ref came, kept across queue reads: at first, the wait's start."""

    def __init__(self) -> None:
        self.last = time.monotonic()


def _refs_until_poll(
    root: Path,
    state: SweepState,
    trials: list[Trial],
    on_change: Callable[[], None],
    poll: float,
    pace: Pace | None = None,
) -> bool:
    """Mark trials whose experiment ref appears as finished, until it is time to read the queue.

    DVC writes the ref when the trial's results are committed; ``dvc queue status`` shows it
    as a success only later, so without this the last trial of a sweep waited a poll or two.
    That read comes ``poll`` seconds after the start, unless a new ref came while every worker
    wanted is alive (:func:`_workers_busy`): the queue is moving, and a ``dvc queue status`` (a
    DVC start-up, about a second of the CPU the trials run on) would tell nothing the refs do
    not, so the read is put off to ``poll`` seconds after the next ref is due (the gap since the
    one before, ``pace``: a trial's length at ``-j 1``). Refs that stop coming (a failed or
    stuck trial, the last ones running) or a missing worker still get the queue read, so
    failures and dead workers are found from DVC's own state. Returns whether any of
    ``trials`` is unfinished.
    """
    pace = pace if pace is not None else Pace()
    deadline = time.monotonic() + poll
    while time.monotonic() < deadline:
        time.sleep(REFS_SECONDS)
        refs = _dvc.experiment_refs(root)
        done = [t for t in trials if t.status not in FINISHED and t.name in refs]
        for trial in done:
            trial.status, trial.error = "success", None
        if done:
            state.save(root)
            on_change()
        if all(t.status in FINISHED for t in trials):
            return False
        if done:
            now = time.monotonic()
            if _workers_busy(root, state.jobs, trials):
                deadline = max(deadline, now + (now - pace.last) + poll)
            pace.last = now
    return True


def _workers_busy(root: Path, jobs: int, trials: list[Trial]) -> bool:
    """Whether as many DVC queue workers are alive as unfinished ``trials`` can keep busy."""
    unfinished = sum(t.status not in FINISHED for t in trials)
    return _dvc.live_workers(root) >= min(jobs, unfinished)


def _start_workers(root: Path, jobs: int) -> None:
    """``dvc queue start -j JOBS``, with workers that poll the queue every 0.1 s, not 1 s."""
    _queue_worker.spawn_workers(root, jobs, thread_limits(jobs))


def thread_limits(jobs: int, cores: int | None = None) -> dict[str, str]:
    """Each of ``jobs`` parallel trials gets ``cores // jobs`` threads (at least one).

    Without this, two trials on two cores each start two-thread fits and fight over the cores.
    A variable the user set is kept, and a model's own ``n_jobs`` still wins: the environment
    only changes defaults, so no recorded param changes and no stage reruns.
    """
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = str(max(1, (cores or 1) // max(1, jobs)))
    return {name: threads for name in THREAD_VARIABLES if name not in os.environ}


def stop(root: Path, state: SweepState, trials: list[Trial]) -> None:
    """After Ctrl-C: unqueue waiting trials, kill running ones, mark both pending for --resume.

    Unqueue first, so that no worker picks up a trial between the kill and the removal; a
    killed (or dead-worker) entry turns 'failed' in DVC's queue and can then be removed.
    """
    refs = _dvc.experiment_refs(root)
    unfinished = [t.name for t in trials if t.status not in FINISHED and t.name not in refs]
    entries = _dvc.queue_status(root)
    # 'dvc queue remove' fails as a whole if any name is running: unqueue the waiting ones only.
    forget(root, [n for n in unfinished if (e := entries.get(n)) and e.status == "queued"])
    _kill(root, [n for n in unfinished if (e := entries.get(n)) and e.status == "running"])
    entries = _dvc.queue_status(root)
    for name in unfinished:  # killed entries turn 'failed'; anything left goes one by one
        if entries.is_ghost(name):
            _kill(root, [name])
        if entries.get(name) is not None:
            forget(root, [name])
    settle_interrupted(root, state, trials)


def _kill(root: Path, names: list[str]) -> None:
    if names:
        _dvc.run(root, "dvc", "queue", "kill", *names, what="stopping trials", check=False)


def settle_interrupted(root: Path, state: SweepState, trials: list[Trial]) -> None:
    """After an interruption: trials with an experiment ref succeeded, the rest go pending.

    Unfinished trials go back to pending for ``--resume``; the state is saved at once.
    """
    refs = _dvc.experiment_refs(root)
    for trial in trials:
        if trial.name in refs:
            trial.status, trial.error = "success", None
        elif trial.status not in FINISHED:
            trial.status = "pending"
    state.save(root)
