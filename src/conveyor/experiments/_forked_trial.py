"""A queue worker runs each trial's ``dvc exp exec-run`` in a fork of itself, not a new process.

DVC's worker starts every trial as a new ``dvc exp exec-run`` process (``run_exp``, through
dvc_task's ``ManagedProcess``): a Python start-up and DVC's CLI and experiment imports, about
0.3 s of CPU a trial, which the worker itself has done already. :func:`install` makes the
worker fork instead (:class:`ForkedExecRun`): the child becomes that command, as a new process
would be, and the parent keeps its imports for the next trial:

- its standard input is /dev/null, its output and errors go to the trial's log, as
  ``ManagedProcess`` redirects them (``dvc queue logs``), through fresh Python streams, no
  logging handler of the worker's (celery's) and DVC's logging set up again on them
  (:func:`dvc_on_fresh_streams`: colours stripped, as for a new process writing to a file), so
  the log holds what DVC prints, as before;
- signals act as on a new process (celery's shutdown handlers are not inherited), so ``dvc
  queue kill`` and a Ctrl-C do what they did; its pid is the one ``ManagedProcess`` records;
- it shows as ``dvc exp exec-run ...`` (``ps``, psutil: setproctitle), not as the worker, so
  nothing counts it as one (``_dvc.live_workers``, ``_queue_worker.missing``);
- its exit status is DVC's ``main``'s, and what Python gives a process that ends otherwise (an
  uncaught error: 1, its traceback logged; Ctrl-C: the signal), as ``Popen`` reports it.

Only a call of exactly that shape is forked: ``Popen(["dvc", "exp", "exec-run", ...])`` with its
output to a file, errors with it, no ``env``, ``cwd`` or shell. Anything else, and everything
under ``CONVEYOR_COLD=1``, starts a process as DVC does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

EXEC_RUN = ("dvc", "exp", "exec-run")
PRELOAD = (
    "dvc.cli",
    "dvc.cli.parser",  # every command's module: DVC's parser imports them all
    "dvc.commands.experiments.exec_run",
    "dvc.repo.reproduce",
    "dvc._debug",
    "dvc.analytics",
    "dvc.compare",
    "dvc_data.fs",
    "dulwich.filters",
    "dulwich.gc",
    "dulwich.line_ending",
    "networkx",
    "ruamel.yaml",
)
"""What an exec-run imports that the worker has not: imported by the worker before its first
fork, so every later trial starts with them (0.08 s of CPU a trial, imported alone)."""
COLD_ENV = "CONVEYOR_COLD"
"""``conveyor.cli.warm.COLD_ENV`` (not imported: the CLI is a layer above): ``1`` runs trials as
DVC does, as it runs stages cold."""
POLL_SECONDS = 0.05
"""How often :meth:`ForkedExecRun.wait` looks, when given a timeout."""


def preload(modules: Iterable[str]) -> None:
    """Import ``modules`` before forking, skipping any this DVC version lacks.

    As a fork server skips them: a child imports what it needs itself.
    """
    import importlib

    for name in modules:
        with contextlib.suppress(ModuleNotFoundError):
            importlib.import_module(name)


class ForkedExecRun:
    """``dvc exp exec-run`` in a fork of this process, with the part of ``Popen`` DVC uses."""

    def __init__(self, args: list[str], output: int) -> None:
        preload(PRELOAD)
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None:
                stream.flush()  # nothing buffered is written twice
        self.args = args
        self.returncode: int | None = None
        self.pid = os.fork()
        if self.pid == 0:
            _become(args, output)

    def poll(self) -> int | None:
        """The exit status if the child has ended, else None."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to end; ``subprocess.TimeoutExpired`` after ``timeout``."""
        if self.returncode is None and timeout is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        deadline = time.monotonic() + (timeout or 0.0)
        while self.poll() is None:
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(POLL_SECONDS)
        assert self.returncode is not None  # noqa: S101 - poll() set it
        return self.returncode

    def kill(self) -> None:
        """SIGKILL the child (nothing if it has been reaped)."""
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


def _become(args: list[str], output: int) -> None:
    """In the child: become ``args`` as a new process would, run DVC's ``main``, exit."""
    code = 255
    try:
        import logging
        import shlex

        import setproctitle

        keep_inherited_objects_shared()
        setproctitle.setproctitle(shlex.join(args))
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                       signal.SIGUSR2, signal.SIGCHLD):  # fmt: skip
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        on_fds(output)
        sys.stdin = sys.__stdin__
        for handler in logging.root.handlers[:]:  # the worker's (celery's) handlers
            logging.root.removeHandler(handler)
        logging.root.setLevel(logging.WARNING)
        dvc_on_fresh_streams()
        sys.argv = list(args)
        from dvc.cli import main

        code = int(main(list(args[1:])) or 0)
    except SystemExit as exit_:
        code = exit_status(exit_)
    except KeyboardInterrupt:  # Python ends a process by the signal itself: Popen sees -2
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:  # an uncaught error: its traceback in the log, exit 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # exiting anyway
                stream.flush()
        os._exit(code)


def keep_inherited_objects_shared() -> None:
    """In a forked child: the garbage collector passes over every object the fork inherited.

    A collection writes into the header of each object it examines, so a child's full
    collections copied nearly every page of its parent's objects (copy-on-write): the kernel's
    work, on the cores the other trials run on. Frozen, they stay shared, and the child still
    collects what it allocates itself. A forked ``dvc status`` takes 0.61 times the CPU and 0.56
    times the page faults frozen (benchmarks/bench_fork_freeze.py). The stage server freezes its
    objects before it forks, for the same reason.
    """
    import gc

    gc.freeze()  # moves the collector's lists whole: touches no object's page


def on_fds(output: int) -> None:
    """Standard input from /dev/null, output and errors to the file ``output`` (fds 0, 1, 2)."""
    stdin = os.open(os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    os.close(stdin)
    os.dup2(output, 1)
    os.dup2(output, 2)


def exit_status(exit_: SystemExit) -> int:
    """The status Python ends a process with on ``exit_``; a message code goes to stderr."""
    if isinstance(exit_.code, int):
        return exit_.code
    if exit_.code is not None:
        sys.stderr.write(f"{exit_.code}\n")
    return int(exit_.code is not None)


def dvc_on_fresh_streams() -> None:
    """In a forked child: Python's streams on fds 1 and 2, and DVC's logging set up on them.

    The parent imported DVC, whose import (``dvc.logger.setup``) wrapped the parent's streams
    for colorama and gave DVC's loggers handlers on them: colours decided, and output sent,
    for where the parent writes. A new process would decide them for its own output (a log
    file: no colour codes), so the child does it again, as ``import dvc`` does.
    """
    import logging

    import colorama  # type: ignore[import-untyped]
    from dvc import logger

    colorama.deinit()
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    for name in ("dvc", "dvc_objects", "dvc_data"):  # the loggers setup() gives handlers to
        named = logging.getLogger(name)
        for handler in named.handlers[:]:
            named.removeHandler(handler)
    logger.setup()


def forks(args: object, kwargs: dict[str, Any]) -> bool:
    """Whether a ``Popen(args, **kwargs)`` call is the trial start :class:`ForkedExecRun` runs."""
    cold = os.environ.get(COLD_ENV) == "1"
    if cold or not isinstance(args, list) or tuple(args[:3]) != EXEC_RUN:
        return False
    stdout = kwargs.get("stdout")
    return (
        hasattr(stdout, "fileno")
        and kwargs.get("stderr") == subprocess.STDOUT
        and kwargs.get("stdin") in (None, subprocess.DEVNULL)
        and kwargs.get("env") is None
        and kwargs.get("cwd") is None
        and not kwargs.get("shell")
        and set(kwargs) <= {"stdin", "stdout", "stderr", "close_fds", "shell", "env"}
    )


class _Subprocess:
    """The ``subprocess`` module as dvc_task's process module sees it: ``Popen`` forks a trial.

    ``before`` runs before each trial starts, forked or not.
    """

    def __init__(self, before: Callable[[], object] | None = None) -> None:
        self._before = before

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - the module's attributes
        return getattr(subprocess, name)

    def Popen(self, args: Any, **kwargs: Any) -> Any:  # noqa: ANN401, N802 - subprocess.Popen's shape
        if self._before is not None and isinstance(args, list) and tuple(args[:3]) == EXEC_RUN:
            self._before()
        if forks(args, kwargs):
            return ForkedExecRun(list(args), kwargs["stdout"].fileno())
        return subprocess.Popen(args, **kwargs)  # DVC's own call, unchanged


def install(before: Callable[[], object] | None = None) -> bool:
    """Make dvc_task's ``ManagedProcess`` fork trials in this process; False if it cannot.

    ``before``: run in this process before each trial starts.
    """
    from dvc_task.proc import process

    used = getattr(process, "subprocess", None)
    if used is not subprocess:  # installed already, or another dvc_task
        return isinstance(used, _Subprocess)
    process.subprocess = _Subprocess(before)  # type: ignore[assignment,attr-defined]
    return True
