"""DVC's queue workers, polling their broker every 0.1 s instead of kombu's 1 s.

``dvc queue start -j N`` spawns ``dvc exp queue-worker NODE`` daemons. Each is a celery worker
on kombu's filesystem transport, which looks for a new message once a second: after a trial
ends, the next one waited up to a second (0.87 s each in a traced 8-trial ``-j 1`` sweep,
about a quarter of a trial; docs/sweeps.md). A sweep starts its workers here instead:

    python -m conveyor.experiments._queue_worker start JOBS     # in the project, detached
    python -m conveyor.experiments._queue_worker work NODE [--clean]

``work`` is what ``dvc exp queue-worker`` runs, DVC's own ``celery_queue.worker.start``, on the
celery app DVC builds for the project, with kombu's ``polling_interval`` set. ``start`` imports
what a worker runs once, then forks one ``work`` per missing worker, kept as DVC's
``ManagedProcess`` keeps a process, under DVC's node names, pid and log files
(``dvc-exp-<hash>-<n>@localhost``, ``.dvc/tmp/exps/celery/dvc-exp-worker-<n>``), so
``dvc queue status``, ``stop``, ``kill`` and a later ``dvc queue start`` see them as DVC's own.
Which workers are missing is read from the process table, not from celery's one-second inspect.
A worker also tries DVC's experiments lock again every 0.05 s where DVC waits a second
(:func:`with_quick_lock_retries`), takes only whole messages from the broker
(``conveyor.experiments._broker``), runs each trial's ``dvc exp exec-run`` in a fork of itself
(``conveyor.experiments._forked_trial``), first removes any run-cache entry a killed trial left
half-written (:func:`drop_half_written_run_cache`), and collects a trial's experiment until it
is in the repository (``conveyor.experiments._collect``).
"""

from __future__ import annotations

import hashlib
import inspect
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

POLL_SECONDS = 0.1
"""kombu's ``polling_interval`` for the workers a sweep starts (kombu's default: 1.0)."""
MODULE = "conveyor.experiments._queue_worker"
LOCK_RETRY_SECONDS = 0.05
"""How often a worker tries DVC's experiments lock again (DVC: every second)."""
LOCK_PATIENCE = 180.0
"""How long it keeps trying: DVC's own 180 tries a second apart."""
LOCK_RETRIED = (
    ("dvc.repo.experiments.queue.base", "BaseStashQueue", "get_stash_entry"),
    ("dvc.repo.experiments.executor.local", "TempDirExecutor", "init_git"),
    ("dvc.repo.experiments.queue.base", "BaseStashQueue", "collect_git"),
)
"""The steps of a worker's trial that take the lock, each ``@retry(180, LockError, timeout=1)``
in DVC: taking the trial's stash entry, pushing it to its temporary copy, fetching its result."""
MONITOR_RETRY_SECONDS = 1.0
"""How long a worker's idle monitor waits after an error before it watches again."""
HALF_WRITTEN_AGE = 1.0
"""A run-cache ``.tmp`` file untouched this long is no save in progress (DVC writes a few
hundred bytes and renames it at once)."""


def node_name(wdir: str, number: int) -> str:
    """DVC's name for its queue worker ``number`` (``CeleryQueue._spawn_worker``)."""
    wdir_hash = hashlib.sha256(wdir.encode("utf-8")).hexdigest()[:6]
    return f"dvc-exp-{wdir_hash}-{number}@localhost"


def with_fast_polling(app: Any) -> Any:  # noqa: ANN401 - DVC's celery app (FSApp)
    """``app`` with kombu polling its broker every :data:`POLL_SECONDS`; DVC's options kept."""
    options = dict(app.conf.broker_transport_options or {})
    options["polling_interval"] = POLL_SECONDS
    app.conf.broker_transport_options = options
    return app


def missing(nodes: Iterable[str], command_lines: Iterable[str]) -> list[str]:
    """The ``nodes`` that no running process names on its command line (or celery title)."""
    lines = list(command_lines)
    return [node for node in nodes if not any(node in line for line in lines)]


def spawn_workers(root: Path, jobs: int, env: Mapping[str, str]) -> None:
    """``start JOBS`` in ``root``, in a process of its own (DVC's spawn forks its caller).

    ``env`` is added for the workers to inherit. A SweepError with its output if it fails.
    """
    import logging
    import subprocess
    import tempfile
    import time

    from conveyor.errors import SweepError

    command = [sys.executable, "-m", MODULE, "start", str(jobs)]
    started = time.monotonic()
    # output to a file: a daemon holding a pipe open would block us until it exits
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as log:
        code = subprocess.call(
            command,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env, "DVC_NO_ANALYTICS": "1"},
        )
        log.seek(0)
        output = log.read().strip().splitlines()[-10:]
    seconds = time.monotonic() - started
    logging.getLogger("conveyor.sweep").debug(
        "started queue workers 1..%d (those missing): exit %d in %.2f s", jobs, code, seconds
    )
    if code != 0:
        raise SweepError(
            f"starting {jobs} DVC queue worker(s) failed (exit {code}):\n    "
            + "\n    ".join(output or ["(no output)"]),
            where=str(root),
            fix="run 'dvc queue start' in the project to see why, then 'conveyor sweep --resume'",
        )


def celery_dir(root: str) -> str:
    """DVC's ``celery_queue.wdir`` for the repository at ``root``, without importing DVC.

    ``<root>/.dvc/tmp/exps/celery``: the queue's broker, and its workers' pid and log files.
    Importing DVC's ``Repo`` to ask would take 0.3 s of the start of every sweep, while the
    first trial waits for its worker.
    """
    return os.path.join(root, ".dvc", "tmp", "exps", "celery")


PRELOAD = (
    "dvc.repo",
    "dvc.repo.experiments.queue.celery",
    "dvc_task.worker",
    "celery.apps.worker",
    "celery.worker.consumer",
    "kombu.transport.filesystem",
    "setproctitle",
    "conveyor.experiments._forked_trial",
)
"""What a worker imports before it takes a trial (about 0.3 s of CPU), imported once by
:func:`start` for every worker it forks."""


def start(jobs: int) -> None:
    """Start the missing ones of workers 1..``jobs`` for the project in the working directory.

    Each is a fork of this process once it has imported what a worker runs (:data:`PRELOAD`
    and :data:`_forked_trial.PRELOAD`): a second worker no longer pays a Python start-up and
    those imports (about 0.45 s of CPU, while the sweep queues its trials and the first
    worker starts on the same cores).
    """
    import psutil

    from conveyor.experiments import _forked_trial

    wdir = celery_dir(os.getcwd())
    lines = [" ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])]
    nodes = missing([node_name(wdir, n) for n in range(1, jobs + 1)], lines)
    if not nodes:
        return
    _forked_trial.preload((*PRELOAD, *_forked_trial.PRELOAD))
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # nothing buffered is written twice
    os.makedirs(wdir, exist_ok=True)
    for node in nodes:
        number = int(node.rsplit("@", 1)[0].rsplit("-", 1)[1])
        clean = ["--clean"] if number == 1 else []  # as DVC: the first cleans the broker at exit
        _spawn_forked(["work", node, *clean], wdir, f"dvc-exp-worker-{number}")


def _spawn_forked(argv: list[str], wdir: str, name: str) -> None:
    """Run ``main(argv)`` in a detached fork, as dvc_task's ``ManagedProcess.spawn`` runs a command.

    As there: a keeper process in a group of its own starts the worker, writes its pid to
    ``<wdir>/<name>.pid`` and its ``ProcessInfo`` to ``<name>.json``, waits for it, then
    records its exit code; the worker's output and errors are appended to ``<name>.out``. The
    worker shows as ``python -m MODULE ARGV`` (``ps``; ``missing``, ``_dvc.live_workers``).
    """
    if os.fork():
        return
    code = 1
    try:
        os.setpgid(0, 0)
        out = os.path.join(wdir, f"{name}.out")
        _redirect(out)
        worker = os.fork()
        if worker == 0:
            os._exit(_run_as(argv))
        _record(wdir, name, worker, out, None)
        _, status = os.waitpid(worker, 0)
        _record(wdir, name, worker, out, os.waitstatus_to_exitcode(status))
        code = 0
    finally:
        os._exit(code)


def _run_as(argv: list[str]) -> int:
    """``main(argv)`` as ``python -m MODULE ARGV`` runs it; its exit status."""
    import traceback

    import setproctitle

    from conveyor.experiments._forked_trial import exit_status

    sys.argv = [sys.argv[0], *argv]
    setproctitle.setproctitle(" ".join([sys.executable, "-m", MODULE, *argv]))
    code = 1
    try:
        code = main(argv)
    except SystemExit as exc:  # celery's worker may leave this way
        code = exit_status(exc)
    except BaseException:  # any error: in the worker's log, as Python shows it
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return code


def _redirect(out: str) -> None:
    """Standard input from /dev/null; output and errors appended to ``out``."""
    from conveyor.experiments._forked_trial import on_fds

    log = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    on_fds(log)
    os.close(log)


def _record(wdir: str, name: str, pid: int, out: str, returncode: int | None) -> None:
    """The pid and ``ProcessInfo`` files ``ManagedProcess`` keeps for a process.

    The pid file first and whole (renamed in; DVC writes it after the info, in place), so
    whoever sees the info finds the pid beside it, never an empty file.
    """
    from pathlib import Path

    from dvc_task.proc.process import ProcessInfo

    from conveyor import _atomic

    _atomic.write_text(Path(wdir) / f"{name}.pid", str(pid))
    ProcessInfo(pid, None, out, None, returncode).dump(os.path.join(wdir, f"{name}.json"))


def work(node: str, *, clean: bool) -> None:
    """Run queue worker ``node`` as ``dvc exp queue-worker`` does, polling faster.

    Its trials' ``dvc exp exec-run`` are forks of it (``_forked_trial``), not new processes,
    each started with the run-cache clear of half-written entries.
    """
    from dvc.repo import Repo

    from conveyor.experiments import _broker, _collect, _forked_trial

    repo = Repo(os.getcwd())
    runs = repo.stage_cache.cache_dir
    queue = repo.experiments.celery_queue
    with_fast_polling(queue.celery)
    _broker.read_whole_messages()
    with_quick_lock_retries()
    _collect.collect_surely()  # after: it wraps the quick-retrying collect
    _forked_trial.install(before=lambda: drop_half_written_run_cache(runs))
    with_lasting_monitor(without_ping(queue.worker)).start(node, fsapp_clean=clean)


def drop_half_written_run_cache(
    cache_dir: str, *, older_than: float = HALF_WRITTEN_AGE
) -> list[str]:
    """Remove the run-cache entries DVC left half-written; the paths removed.

    DVC saves a stage's run-cache entry as ``.<token>.tmp`` in the entry's folder, then renames
    it. A trial killed in between (an interrupted sweep kills its running trials; a worker can
    die) leaves that file behind, and DVC's loader takes the newest file of the folder: the next
    run of the same stage on the same inputs, the resumed trial, failed with "failed to
    reproduce 'train': 'outs'" (the file held the entry's first lines). A worker clears them
    before each trial; a file touched less than ``older_than`` seconds ago may be another
    process's save in progress and is left alone.
    """
    import glob
    import time

    removed = []
    now = time.time()
    for path in glob.glob(os.path.join(glob.escape(cache_dir), "*", "*", ".*.tmp")):
        try:
            if now - os.stat(path).st_mtime >= older_than:
                os.unlink(path)
                removed.append(path)
        except FileNotFoundError:  # renamed or removed meanwhile
            continue
    return removed


def without_ping(worker: Any) -> Any:  # noqa: ANN401 - dvc_task's TemporaryWorker
    """``worker``, starting without first pinging its own name.

    dvc_task's ``TemporaryWorker.start`` first asks over celery whether a worker of that name
    answers, and with none there the broadcast waits its whole second: a second before every
    sweep's first trial. :func:`start` spawned this worker because no process runs it
    (:func:`missing`, from the process table), so the answer is known.
    """
    worker.ping = _nobody_answers
    return worker


def with_lasting_monitor(worker: Any, *, pause: float = MONITOR_RETRY_SECONDS) -> Any:  # noqa: ANN401
    """``worker``, whose idle monitor outlives an error instead of dying with it.

    dvc_task's ``TemporaryWorker.monitor`` thread shuts the worker down once the queue is empty.
    It parses the broker's message files, and one that does not parse (caught half-written)
    raised in the thread, which died: a worker whose monitor died never exits (a benchmark
    once waited in vain for one; whether this was why is not known). The monitor now starts
    again after ``pause`` seconds.
    """
    import logging
    import time

    monitor = worker.monitor

    def lasting(name: str) -> None:
        while True:
            try:
                monitor(name)
            except Exception:  # any error: the thread must go on
                logging.getLogger(__name__).warning("queue monitor failed; again", exc_info=True)
                time.sleep(pause)
            else:
                return

    worker.monitor = lasting
    return worker


def _nobody_answers(name: str, timeout: float = 1.0) -> None:
    return None


def with_quick_lock_retries() -> list[str]:
    """DVC's :data:`LOCK_RETRIED` steps try the lock every :data:`LOCK_RETRY_SECONDS`.

    The sweep queues trials while its first worker takes the first one: taking a trial's stash
    entry found the lock held by the next trial's queueing, and DVC slept a whole second before
    trying again (the first trial of a traced 8-trial sweep started its stages 1.9 s after
    the worker received it, the others 0.9 s). Two workers finishing and starting trials
    meet at the same lock. Each lock is held for a few milliseconds. A step whose shape is
    not DVC's known one (another DVC version) keeps DVC's retry; the names of those patched
    are returned.
    """
    import importlib

    from dvc.lock import LockError

    from conveyor._retry import retrying

    patched = []
    for module, owner, name in LOCK_RETRIED:
        cls = getattr(importlib.import_module(module), owner, None)
        attribute = inspect.getattr_static(cls, name, None)
        static = isinstance(attribute, staticmethod)
        undecorated = getattr(attribute.__func__ if static else attribute, "__wrapped__", None)
        if undecorated is None:
            continue
        quick = retrying(undecorated, LockError, patience=LOCK_PATIENCE, every=LOCK_RETRY_SECONDS)
        setattr(cls, name, staticmethod(quick) if static else quick)
        patched.append(f"{owner}.{name}")
    return patched


def main(argv: list[str]) -> int:
    """``start JOBS`` or ``work NODE [--clean]``."""
    if argv[:1] == ["start"] and len(argv) == 2 and argv[1].isdigit():
        start(int(argv[1]))
        return 0
    if argv[:1] == ["work"] and len(argv) in (2, 3):
        work(argv[1], clean=argv[2:] == ["--clean"])
        return 0
    sys.stderr.write(f"usage: python -m {MODULE} start JOBS | work NODE [--clean]\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
