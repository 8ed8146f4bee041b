"""Trials on the project's executor: one task per trial, each in its own clone on a worker.

When ``executor.kind`` is not ``local`` (``conveyor score`` and ``monitor`` read the same
setting), a sweep's trials skip DVC's local queue. Each trial is one executor task
(:func:`run_trial`) that, on whatever worker runs it:

1. clones the user's repository (``git clone --no-checkout --shared``) into a temporary
   directory and checks out the sweep's base commit, then writes the trial's params.yaml (as
   the sweep composed it) and, when the trial is structural, its own dvc.yaml;
2. points DVC's cache at the user's (``cache.dir`` in ``.dvc/config.local``), so unchanged
   stages are restored from it and new outputs land in it: workers need the repository and its
   cache on a shared filesystem;
3. runs ``dvc exp run --no-hydra -n NAME TARGET`` there (DVC would compose conf/ again for
   ``-S``), with the thread limits of the local queue
   (:func:`conveyor.experiments.queue.thread_limits`), as a fork of a process that imported
   DVC once per worker process (:mod:`conveyor.experiments._dvc_forkserver`), not a new
   process; a LocalCluster the sweep starts has thread workers, and one such process;
4. sends the experiment back: ``git push <user repo> REF:REF`` of its ref, ``refs/exps/<base
   commit split 2/38>/NAME``, which is what ``dvc exp push <user repo> NAME --no-cache`` pushes,
   without DVC's 0.5 s start-up (and refused, not skipped, when the user's repository already
   has that ref at another commit); then removes its directory, and returns a
   :class:`TrialResult` (a failed step's output tail is the error).

Ctrl-C on the driver calls the running trials off: the driver creates the sweep's stop file
(``<state>.stop`` beside the sweep's state, in the user's repository, which the workers reach),
and each task polls it while ``dvc exp run`` runs in a process group of its own
(``_dvc_forkserver.run_stoppable``): the group is ended (SIGTERM, then SIGKILL), the clone
removed, and nothing pushed. A task not yet started returns at once. The push itself is
never cut short: a trial whose push began lands whole, and counts as finished by its ref.

The driver (:func:`run_on_cluster`) keeps ``-j`` tasks in flight, and a trial succeeds only when
its experiment ref exists in the user's repository: a result is never trusted over DVC's state,
so the leaderboard, ``--show``, ``--apply`` and ``--resume`` read the same refs as with the queue.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from concurrent.futures import FIRST_COMPLETED, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor import _git
from conveyor.errors import ConveyorError, ExecutorError, SweepError
from conveyor.experiments import _dvc, _dvc_forkserver

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from concurrent.futures import Future

    from conveyor.experiments.plan import SweepState, Trial, TrialFiles
    from conveyor.plugins.executor import Session


@dataclass(frozen=True)
class TrialTask:
    """What a worker needs to run one trial: small and picklable."""

    repo: str
    """The user's repository, an absolute path every worker can reach."""
    cache: str
    """The user's DVC cache directory (absolute)."""
    baseline: str
    name: str
    target: str
    params_yaml: str
    """The trial's params.yaml, composed by the sweep (what ``dvc exp run -S`` would compose)."""
    dvc_yaml: str | None
    """A structural trial's own dvc.yaml; None: the committed one."""
    jobs: int
    stop_file: str | None = None
    """A file whose existence calls the trial off (the driver was interrupted)."""
    warm_socket: str | None = None
    """The sweep's stage server (``CONVEYOR_WARM_SOCKET`` on the driver): a worker on the
    driver's machine forks the trial's stages from it even when it was started before the
    sweep (a running cluster); elsewhere nothing listens there and the stages run cold."""

    def stopped(self) -> bool:
        """Whether the driver has called this trial off."""
        return self.stop_file is not None and Path(self.stop_file).exists()


@dataclass(frozen=True)
class TrialResult:
    """What a worker sends back: whether every step passed, and why not."""

    name: str
    ok: bool
    error: str | None = None


STOPPED = "stopped: the sweep was interrupted before it finished"
WARM_SOCKET_ENV = "CONVEYOR_WARM_SOCKET"
"""``conveyor.cli.warm.SOCKET_ENV`` (not imported: the CLI is a layer above)."""


def run_trial(task: TrialTask) -> TrialResult:
    """Run ``task`` in a fresh clone in a temporary directory on this worker (see the module)."""
    if task.stopped():
        return TrialResult(task.name, ok=False, error=STOPPED)
    with tempfile.TemporaryDirectory(
        prefix=f"conveyor-{task.name}-", ignore_cleanup_errors=True
    ) as tmp:
        try:
            return _run_in(Path(tmp), task)
        except ConveyorError as exc:  # git or dvc missing on the worker, an unusable tmp dir
            return TrialResult(task.name, ok=False, error=exc.render())


def _run_in(tmp: Path, task: TrialTask) -> TrialResult:
    from conveyor.compiler import DVC_YAML, PARAMS_YAML
    from conveyor.experiments.queue import thread_limits

    work = tmp / "repo"
    clone = ("git", "clone", "-q", "--no-checkout", "--shared", task.repo, str(work))
    failed = _step(tmp, clone, "cloning the repository")
    failed = failed or _step(work, ("git", "checkout", "-q", "--detach", task.baseline), "checkout")
    if failed:
        return TrialResult(task.name, ok=False, error=failed)
    if task.stopped():
        return TrialResult(task.name, ok=False, error=STOPPED)
    # The trial's files, as the local queue stashes them (_enqueue): DVC need not compose conf/
    (work / PARAMS_YAML).write_text(task.params_yaml, encoding="utf-8")
    if task.dvc_yaml is not None:
        (work / DVC_YAML).write_text(task.dvc_yaml, encoding="utf-8")
    (work / ".dvc" / "config.local").write_text(f"[cache]\n    dir = {task.cache}\n", "utf-8")
    run = ["dvc", "exp", "run", "--no-hydra", "-n", task.name, task.target]
    env = thread_limits(task.jobs)
    if task.warm_socket is not None:
        env[WARM_SOCKET_ENV] = task.warm_socket
    done = _dvc_forkserver.run_stoppable(work, run, stop=task.stopped, env=env)
    if done is None:
        return TrialResult(task.name, ok=False, error=STOPPED)
    failed = _failure(done, "dvc exp run")
    ref = experiment_ref(task.baseline, task.name)
    push = ("git", "push", "-q", task.repo, f"{ref}:{ref}")
    failed = failed or _step(work, push, "sending the experiment back (git push of its ref)")
    return TrialResult(task.name, ok=failed is None, error=failed)


def experiment_ref(baseline: str, name: str) -> str:
    """The ref DVC commits experiment ``name`` of ``baseline`` (a full commit id) under."""
    return f"refs/exps/{baseline[:2]}/{baseline[2:]}/{name}"


def _step(
    where: Path, command: tuple[str, ...], what: str, env: dict[str, str] | None = None
) -> str | None:
    """Run ``command``; None when it passed, else ``what`` failed with its output's tail."""
    return _failure(_git.run(where, command, check=False, env=env), what)


def _failure(done: _git.Completed, what: str) -> str | None:
    """None when ``done`` passed, else ``what`` failed with its output's tail."""
    if done.returncode == 0:
        return None
    return f"{what} failed (exit {done.returncode}):\n" + "\n".join(_dvc.tail(done.output))


@dataclass(frozen=True)
class Cluster:
    """An open executor session, and where its workers find the user's repository and cache."""

    session: Session
    kind: str
    repo: str
    cache: str


@contextmanager
def open_cluster(root: Path) -> Iterator[Cluster | None]:
    """The project's executor, opened for trials; None for ``local`` (DVC's queue runs them)."""
    from conveyor.executors import open_project_executor, project_executor
    from conveyor.spec.executor import DEFAULT_EXECUTOR

    kind = project_executor(root).kind
    if kind == DEFAULT_EXECUTOR:
        yield None
        return
    status = _dvc.run(root, "git", "status", "--porcelain", "--untracked-files=no", what="git")
    modified = [line[3:] for line in status.out.splitlines() if line.strip()]
    if modified:
        raise SweepError(
            f"uncommitted changes in {', '.join(modified[:5])}: trials on the '{kind}' executor "
            "run in clones of the sweep's base commit, so they would not see them",
            where="conveyor sweep",
            fix="commit them (or stash them), then run the sweep again",
        )
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="conveyor-cache-dir") as pool:
        asked = pool.submit(cache_dir, root)  # while the cluster starts
        with open_project_executor(root, subprocesses=True) as session:
            assert session is not None  # noqa: S101 - not local, so an executor session
            yield Cluster(session, kind, str(root.resolve()), asked.result())


def cache_dir(root: Path) -> str:
    """What ``dvc cache dir`` prints in ``root``, as an absolute path.

    Read by DVC's own ``Config`` in this process, from the files a ``Repo`` reads (the
    repository's config and config.local, the global and system ones): 0.1 s of CPU, where
    asking ``dvc`` took a start-up of 0.4 s while the cluster started. A cache that names a
    remote (``cache.local``), or a config DVC refuses, is left to ``dvc cache dir``: its
    answer, or its own error as a SweepError.
    """
    from dvc.config import Config, ConfigError

    dvc_dir = str(root / ".dvc")
    try:
        cache = Config(dvc_dir, local_dvc_dir=dvc_dir)["cache"]
    except ConfigError:  # DVC's CLI reads past what its validation refuses: ask it
        cache = None
    if cache is None or "local" in cache:
        asked = _dvc.run(root, "dvc", "cache", "dir", what="finding the DVC cache")
        return str((root / asked.out.strip()).resolve())
    return str(Path(cache.get("dir") or os.path.join(dvc_dir, "cache")).resolve())


def run_on_cluster(
    root: Path,
    state: SweepState,
    trials: list[Trial],
    files: dict[str, TrialFiles],
    cluster: Cluster,
    on_change: Callable[[], None],
) -> None:
    """Run ``trials``, ``state.jobs`` at a time, as tasks; save the state after every change."""
    if state.baseline is None:
        raise SweepError("the sweep has no base commit", where="--resume", fix="start a new sweep")
    waiting = [t for t in trials if t.status != "success"]
    running: dict[Future[TrialResult], Trial] = {}
    stop = stop_path(root, state.prefix)
    stop.unlink(missing_ok=True)  # an earlier interruption's: this run is wanted
    try:
        while waiting or running:
            while waiting and len(running) < max(1, state.jobs):
                trial = waiting.pop(0)
                task = TrialTask(
                    cluster.repo,
                    cluster.cache,
                    state.baseline,
                    trial.name,
                    state.target,
                    files[trial.name].params_yaml,
                    files[trial.name].dvc_yaml,
                    state.jobs,
                    str(stop.resolve()),
                    os.environ.get(WARM_SOCKET_ENV),
                )
                running[cluster.session.submit(run_trial, task)] = trial
                trial.status, trial.error = "running", None
            state.save(root)
            on_change()
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            refs = _dvc.experiment_refs(root)  # after the results: a pushed trial has its ref
            for future in done:
                _settle(running.pop(future), future, refs)
        state.save(root)
        on_change()
    except KeyboardInterrupt:
        call_off(stop, list(running))
        from conveyor.experiments.queue import settle_interrupted

        settle_interrupted(root, state, trials)
        raise


STOP_WAIT = 60.0
"""Seconds the driver waits, after Ctrl-C, for its running trials to stop on their workers."""


def stop_path(root: Path, prefix: str) -> Path:
    """The file whose existence calls off the running trials of sweep ``prefix``."""
    from conveyor.experiments.plan import state_path

    return state_path(root, prefix).with_suffix(".stop")


def call_off(stop: Path, running: list[Future[TrialResult]]) -> None:
    """Stop the trials in flight: create ``stop`` and wait for their tasks to return.

    Each task ends its ``dvc exp run`` group and removes its clone when it sees the file
    (tasks not started return at once), so the wait is short; a second Ctrl-C skips it. The
    executor's session then closes, which cancels whatever it still holds (Dask forgets the
    tasks of a closed client). The file stays while a task may still be running (a worker
    that did not answer), so a late starter stops too; the next run of the sweep removes it.
    """
    stop.parent.mkdir(parents=True, exist_ok=True)
    stop.touch()
    with contextlib.suppress(KeyboardInterrupt):
        wait(running, timeout=STOP_WAIT)
    if all(future.done() for future in running):
        stop.unlink(missing_ok=True)


def _settle(trial: Trial, future: Future[TrialResult], refs: dict[str, str]) -> None:
    """The trial's outcome: its ref decides success; the task's result or error says why not."""
    try:
        result = future.result()
        error = result.error if not result.ok else None
    except ExecutorError as exc:  # its worker died, and the executor's retries with it
        error = f"{exc.what}; 'conveyor sweep --resume' runs it again"
    except Exception as exc:  # whatever the task raised is this trial's failure
        error = f"the task failed on the executor: {type(exc).__name__}: {exc}"
    if trial.name in refs:
        trial.status, trial.error = "success", None
    else:
        trial.status = "failed"
        trial.error = error or "the task finished, but the experiment did not arrive"
