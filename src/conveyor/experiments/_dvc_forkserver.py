"""A trial on an executor runs ``dvc exp run`` as a fork of a DVC-preloaded process.

Each trial on a worker (``_cluster``) used to start ``dvc exp run`` as a new process: a Python
start-up and DVC's imports, about 0.6 s of CPU, paid again by every trial a worker runs.
:func:`run_stoppable` runs it in a child of multiprocessing's fork server instead: one per
worker process, started on its first trial, which has imported DVC's CLI and experiment
modules (:data:`PRELOAD`) once. The fork server is single-threaded, so forking it is safe
where forking the worker itself (its event loop and comms threads) would not be.

The child becomes the command as ``_git.run_stoppable`` starts it:

- in ``root`` (the trial's clone), with this process's environment at the time of the call
  plus ``env``, and DVC's analytics off (not the fork server's environment, which is the
  worker's when the server started);
- stdin /dev/null; its output and errors in one file, returned as the command's output;
- in a session (process group) of its own that ``stop`` ends as a whole, SIGTERM then SIGKILL
  after ``grace`` seconds; after a normal exit, anything it left in its group is killed;
- shown as the command (``ps``: setproctitle); its exit status is DVC's ``main``'s, and what
  Python gives a process that ends otherwise (an uncaught error: 1, a signal: negative).

Under ``CONVEYOR_COLD=1``, for any command but ``dvc ...``, and in a process where the fork
server cannot start (its Unix socket lives under ``TMPDIR``, whose path may be too long for
one), it is ``_git.run_stoppable``: a new process, as before.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor import _git
from conveyor.experiments._forked_trial import (
    COLD_ENV,
    dvc_on_fresh_streams,
    keep_inherited_objects_shared,
    on_fds,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

PRELOAD = (
    "dvc.cli",
    "dvc.cli.parser",
    "dvc.repo",
    "dvc.repo.index",
    "dvc.repo.graph",
    "dvc.repo.plots",
    "dvc.repo.stage",
    "dvc.repo.experiments.run",
    "dvc.repo.experiments.executor.local",
    "dvc.repo.experiments.queue.workspace",
    "dvc.repo.experiments.queue.celery",
    "dvc.repo.reproduce",
    "dvc.data_cloud",
    "dvc.cachemgr",
    "dvc.analytics",
    "dvc_task.proc.manager",
    "dvc_data.index.checkout",
    "dvc_data.fs",
    "dulwich.porcelain",
    "dulwich.stash",
    "dulwich.worktree",
    "scmrepo.git",
    "networkx",
    "setproctitle",
    # and what a run in a fresh clone imported on its way: 0.09 s of CPU a trial, measured
    # by hand in the children (docs/benchmarks.md, the night's runs)
    "dvc._debug",
    "dvc.dirs",
    "dvc.repo.artifacts",
    "dvc.repo.brancher",
    "dvc.repo.datasets",
    "dvc.repo.open_repo",
    "dvc.utils.strictyaml",
    "dvc_data.hashfile.status",
    "dulwich.filters",
    "dulwich.gc",
    "dulwich.line_ending",
    "fsspec.implementations.memory",
    "platformdirs",
    "pygit2",
    "ruamel.yaml",
    "scmrepo.git.backend.pygit2.filter",
)
"""What ``dvc exp run`` imports, imported once by the fork server (one missing is skipped)."""

_NO_MAIN = types.ModuleType("__main__")
"""What the child is told this process's main module is: one with no file to run again."""
_lock = threading.Lock()
_context: Any = None
_unavailable = threading.Event()
"""Set once the fork server could not start in this process: new processes from then on."""


def run_stoppable(
    root: Path,
    command: Sequence[str],
    *,
    stop: Callable[[], bool],
    env: Mapping[str, str] | None = None,
    every: float = 0.2,
    grace: float = 3.0,
) -> _git.Completed | None:
    """``_git.run_stoppable(root, command, ...)``, forked from the fork server (see the module).

    None when ``stop`` ended it; otherwise the command's exit status and output (its errors
    interleaved with it, as ``Completed.stdout``).
    """
    named = tuple(command)
    if os.environ.get(COLD_ENV) == "1" or named[:1] != ("dvc",) or _unavailable.is_set():
        return _git.run_stoppable(root, named, stop=stop, env=env, every=every, grace=grace)
    environ = {**os.environ, **(env or {}), "DVC_NO_ANALYTICS": "1"}
    with tempfile.TemporaryDirectory(prefix="conveyor-dvc-") as tmp:
        log = Path(tmp) / "output"
        try:
            process = _start(_become, (str(root), list(named), environ, str(log)))
        except OSError:  # no fork server here (its socket's path too long under TMPDIR...)
            _unavailable.set()
            return _git.run_stoppable(root, named, stop=stop, env=env, every=every, grace=grace)
        try:
            while process.exitcode is None:
                process.join(every)
                if process.exitcode is None and stop():
                    return None
            _git.signal_group(process.pid, signal.SIGKILL)  # anything it left behind
            output = log.read_bytes() if log.exists() else b""
            return _git.Completed(named, process.exitcode, output, b"")
        finally:
            if process.exitcode is None:
                _end(process, grace)


def _fork_server() -> Any:  # noqa: ANN401 - multiprocessing's ForkServerContext
    """The fork server's multiprocessing context, its preload set before the server starts."""
    global _context  # one fork server per process, as multiprocessing has
    with _lock:
        if _context is None:
            import multiprocessing

            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(list(PRELOAD))  # no effect once a server runs
            _context = context
        return _context


def _start(target: Callable[..., None], args: tuple[Any, ...]) -> Any:  # noqa: ANN401 - a Process
    """A child of the fork server running ``target(*args)``, started from this process.

    Dask starts its workers as daemonic processes, which multiprocessing forbids to start
    children (they would be orphaned when it ends them). The child here is the fork server's,
    not this process's, and starts a session of its own, as a subprocess does; so the flag is
    lifted while it starts.

    Every multiprocessing child also runs this process's main module again before ``target``
    (``spawn.prepare``): on the workers of a cluster that a script started (the benchmark's
    running cluster), each ``dvc exp run`` imported Dask again, 0.4 s of CPU per trial. The fork
    server was meant to import it once, but never has before Python 3.13 (CPython gh-126631),
    and the child needs nothing from it (``target`` is importable), so the main module is
    hidden while the child starts: ``sys.modules`` names a file-less one for those
    milliseconds (under the lock, as the daemon flag).
    """
    import multiprocessing

    context = _fork_server()
    process = context.Process(target=target, args=args, name=args[1][0], daemon=False)
    me = multiprocessing.current_process()
    with _lock:
        daemonic, main = me.daemon, sys.modules["__main__"]
        me.daemon, sys.modules["__main__"] = False, _NO_MAIN
        try:
            process.start()
        finally:
            me.daemon, sys.modules["__main__"] = daemonic, main
    return process


def _become(root: str, args: list[str], environ: dict[str, str], log: str) -> None:
    """In the fork server's child: become ``args`` in ``root`` and run DVC's ``main``."""
    import shlex

    import setproctitle

    keep_inherited_objects_shared()
    os.setsid()  # a group of its own, ended as one by stop
    setproctitle.setproctitle(shlex.join(args))
    os.chdir(root)
    os.environ.clear()
    os.environ.update(environ)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    on_fds(output)
    os.close(output)
    dvc_on_fresh_streams()
    sys.argv = list(args)
    from dvc.cli import main

    sys.exit(main(args[1:]))  # multiprocessing turns it (or an error: 1) into the exit code


def _end(process: Any, grace: float) -> None:  # noqa: ANN401 - a multiprocessing Process
    """SIGTERM to ``process``'s group, then SIGKILL after ``grace`` seconds or once it exits.

    The process itself gets each signal too: its ``setsid`` may not have run yet.
    """
    _git.signal_group(process.pid, signal.SIGTERM)
    process.terminate()  # nothing once it has been reaped
    process.join(grace)
    _git.signal_group(process.pid, signal.SIGKILL)
    process.kill()
    process.join()
