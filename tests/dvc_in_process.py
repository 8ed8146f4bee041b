"""``dvc ARGS`` through DVC's own ``dvc.cli.main`` in the test's process, as the console script
runs it, without the ~1 s of CPU each new ``dvc`` process spends importing DVC.

A whole run's process accounting counted 224 ``dvc`` processes started by tests, about 1.1 s of
CPU each, most of it that start-up (docs/testing.md). The console script is ``sys.exit(main())``
over the same function, so the parser, the commands, their output and exit codes are DVC's own.
What a process gave for free is made explicit here: the working directory is restored, stdout
and stderr are captured at the file-descriptor level (a stage ``dvc repro`` runs writes to the
descriptors it inherits, not to ``sys.stdout``), DVC's log handlers and its ``ui`` switch are put
back, and a call that runs past the hang limit has the processes it started killed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

IN_PROCESS = frozenset(
    {"init", "status", "repro", "metrics", "params", "plots", "config", "add", "commit", "checkout"}
)
"""Verbs run in process. Not ``exp`` or ``queue``: those start DVC's queue daemons, which fork
the calling process (here: the test process)."""

PROCESS_ENV = "CONVEYOR_DVC_PROCESS"
"""``CONVEYOR_DVC_PROCESS=1 pytest`` runs every ``dvc`` as its own process, to compare."""


def runs_in_process(args: tuple[str, ...]) -> bool:
    """Whether ``dvc ARGS`` is one this module runs (from the main thread only: it changes the
    process's working directory and file descriptors)."""
    verb = next((a for a in args if not a.startswith("-")), None)
    return (
        verb in IN_PROCESS
        and "--cd" not in args
        and "-C" not in args
        and os.environ.get(PROCESS_ENV) != "1"
        and threading.current_thread() is threading.main_thread()
    )


def run(args: tuple[str, ...], cwd: Path, hang_seconds: float) -> tuple[int, str, str, bool]:
    """``(exit code, stdout, stderr, hung)`` of ``dvc ARGS`` in ``cwd``."""
    from dvc.cli import main

    with (
        tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out,
        tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err,
    ):
        with _descriptors_to(out, err), _dvc_logs_to_sys_streams(), _watchdog(hang_seconds) as hung:
            before = Path.cwd()
            os.chdir(cwd)
            try:
                code = main(list(args))
            except SystemExit as exit_:  # `--help` and `--version` exit from argparse
                code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
            finally:
                os.chdir(before)
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read(), hung.is_set()


@contextlib.contextmanager
def _descriptors_to(out: IO[str], err: IO[str]) -> Iterator[None]:
    """fds 1 and 2, and ``sys.stdout``/``sys.stderr``, into ``out`` and ``err`` meanwhile."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    # line-buffered, so DVC's "Running stage" lines land before the stage's own output
    text_out = open(1, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
    text_err = open(2, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
    try:
        with _colorama_wrapped(text_out, text_err) as (wrapped_out, wrapped_err):  # noqa: SIM117
            with contextlib.redirect_stdout(wrapped_out), contextlib.redirect_stderr(wrapped_err):
                yield
    finally:
        text_out.flush()
        text_err.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


@contextlib.contextmanager
def _colorama_wrapped(out: IO[str], err: IO[str]) -> Iterator[tuple[IO[str], IO[str]]]:
    """``out`` and ``err`` as ``colorama.init()`` (which DVC calls at import) wraps a process's
    streams: ANSI colours stripped from a stream that is not a terminal (DVC's help colours its
    links). colorama records them too: DVC turns it off and on around its JSON output, which sets
    ``sys.stdout`` back to the recorded stream."""
    from colorama import initialise

    wrapped = [initialise.wrap_stream(s, None, None, False, True) for s in (out, err)]
    names = ("orig_stdout", "orig_stderr", "wrapped_stdout", "wrapped_stderr")
    saved = [getattr(initialise, name) for name in names]
    for name, stream in zip(names, (out, err, *wrapped), strict=True):
        setattr(initialise, name, stream)
    try:
        yield wrapped[0], wrapped[1]
    finally:
        for name, value in zip(names, saved, strict=True):
            setattr(initialise, name, value)


@contextlib.contextmanager
def _dvc_logs_to_sys_streams() -> Iterator[None]:
    """DVC's log handlers (bound to the streams of DVC's import time) to the current
    ``sys.stdout``/``sys.stderr``, and its ``ui`` switch as a new process has it, meanwhile."""
    from dvc.ui import ui

    handlers = [
        h for h in logging.getLogger("dvc").handlers if isinstance(h, logging.StreamHandler)
    ]
    streams = [h.stream for h in handlers]
    enabled = ui._enabled  # `dvc -q` leaves it off; a process started with it off
    for handler in handlers:  # DVC's setup: below WARNING to stdout, WARNING and up to stderr
        handler.setStream(sys.stderr if handler.level >= logging.WARNING else sys.stdout)
    ui._enabled = False
    try:
        yield
    finally:
        for handler, stream in zip(handlers, streams, strict=True):
            handler.setStream(stream)
        ui._enabled = enabled


@contextlib.contextmanager
def _watchdog(seconds: float) -> Iterator[threading.Event]:
    """An event set, and every process started meanwhile killed, once ``seconds`` have passed:
    a hung stage fails the call, as the hang limit kills a ``dvc`` process."""
    import psutil

    me = psutil.Process()
    before = {child.pid for child in me.children(recursive=True)}
    started = time.time()
    hung = threading.Event()

    def kill() -> None:
        hung.set()
        for child in me.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if child.pid not in before and child.create_time() >= started - 1:
                    child.kill()

    timer = threading.Timer(seconds, kill)
    timer.daemon = True
    timer.start()
    try:
        yield hung
    finally:
        timer.cancel()
