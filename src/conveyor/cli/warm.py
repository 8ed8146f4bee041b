"""Warm stages: ``conveyor run`` forks from one process that has already imported its libraries.

A pipeline runs each stage as its own ``conveyor run STAGE`` process (dvc.yaml's ``cmd``), and
each one pays 1-3 s importing pandas, pyarrow, scikit-learn and xgboost before it does any work:
most of a small stage's time, and of every sweep trial's. ``conveyor warm COMMAND`` starts a
*stage server* (conveyor.cli._stage_server) that imports them once, then runs COMMAND
(``dvc repro``, ``dvc exp run``...) with ``CONVEYOR_WARM_SOCKET`` set. Each ``conveyor run`` it
starts sends its arguments, working directory, environment and standard streams over that Unix
socket; the server forks a child that adopts them and runs the stage through the same ``main``
as a cold process, so outputs are the same bytes (tests/integration/test_warm.py). The child's
exit code, or the signal that ended it, comes back as the client's own, so DVC sees what it
would have seen.

Safety: a client that dies (Ctrl-C, SIGKILL from DVC or a test) takes its child with it: the
server sees the connection close and kills the child, and the client forwards SIGINT, SIGTERM
and SIGHUP. When the socket is missing or refuses, ``conveyor run`` runs cold, as before. Only
its own user can connect (the socket lies in a private 0700 directory), and the server exits
when the process that started it does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

SOCKET_ENV = "CONVEYOR_WARM_SOCKET"
"""The environment variable that points ``conveyor run`` at a stage server's socket."""
TIMEOUT_ENV = "CONVEYOR_WARM_TIMEOUT"
"""Seconds ``conveyor run`` waits for a stage server to take its request (default 30), then
runs cold."""
COLD_ENV = "CONVEYOR_COLD"
"""Set to ``1``, every ``conveyor run`` runs cold, whatever server ``SOCKET_ENV`` names (to compare
or to rule warm stages out); sweeps then start no server."""

HEADER = struct.Struct("!I")
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


# -- the client: what `conveyor run` does when SOCKET_ENV is set ---------------------------------


def delegate(path: str, argv: list[str]) -> int | None:
    """Run ``conveyor ARGV`` in a child of the server at ``path``: its exit code.

    None when no server answers (the caller then runs cold). A child ended by a signal ends this
    process by the same signal.
    """
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(float(os.environ.get(TIMEOUT_ENV) or 30))
    request = json.dumps(
        {
            "argv": argv,
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "umask": _umask(),
            "pid": os.getpid(),
        }
    ).encode()
    message = HEADER.pack(len(request)) + request
    with client:
        try:
            client.connect(path)
            client.sendall(message)
            replies = client.makefile("r", encoding="utf-8")
            ready = replies.readline()  # only then do the streams go (_receive)
            if not ready or not json.loads(ready)["ready"]:  # stale (new packages), or gone
                return None
            socket.send_fds(client, [b"S"], [0, 1, 2])
            first = replies.readline()
        except TimeoutError:
            # A server that hangs must not hang the pipeline. If it forks later, it finds this
            # connection closed and kills that child (as for a client that died).
            sys.stderr.write(
                f"warning: the warm stage server at {path} did not answer in "
                f"{client.gettimeout()} s; running the stage cold\n"
            )
            return None
        except OSError:  # nobody listens there (a server that stopped): run cold
            return None
        if not first:  # the server went away before forking: nothing ran
            return None
        client.settimeout(None)  # the stage itself takes as long as it takes
        pid = json.loads(first)["pid"]
        for signum in _FORWARDED:
            signal.signal(signum, lambda signum, _frame: send_signal(pid, signum))
        last = replies.readline()
    if not last:  # the server died mid-stage; its child was killed with it
        sys.stderr.write("error: the warm stage server stopped during the stage\n")
        return 1
    code = int(json.loads(last)["exit"])
    if code < 0:  # ended by a signal: end the same way, as a cold process would have
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


def send_signal(pid: int, signum: int) -> None:
    """Signal ``pid`` if it still exists."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- starting a server ---------------------------------------------------------------------------


@contextlib.contextmanager
def stage_server(
    *, wait: bool = True, threads: Mapping[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """A stage server for the duration of the block; yields the environment to run under.

    The server listens before it imports what stages use: a ``conveyor run`` that comes
    meanwhile waits for the imports. ``wait=False`` yields before even that: a ``conveyor run``
    that comes before the socket exists runs cold (a sweep's driver checks and queues meanwhile).
    ``threads``: thread variables (``OMP_NUM_THREADS``...) the server imports under, besides
    this process's: those its clients will carry (a sweep's trials), so that their stages need
    no pool resized (conveyor.cli._stage_server._limit_threads).
    """
    with tempfile.TemporaryDirectory(prefix="conveyor-warm-") as private:  # mode 0700
        path = str(Path(private) / "stages.sock")
        server = subprocess.Popen(
            [sys.executable, "-m", "conveyor.cli._stage_server", path, str(os.getpid())],
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(threads or {})},
        )
        try:
            if wait:
                _wait_for(path, server)
            yield {**os.environ, SOCKET_ENV: path}
        finally:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=10)
            if server.poll() is None:
                server.kill()
                server.wait()


def _wait_for(path: str, server: subprocess.Popen[bytes]) -> None:
    import time

    while not os.path.exists(path):
        if server.poll() is not None:
            raise OSError(f"the warm stage server exited with {server.returncode} at start")
        time.sleep(0.02)


def run_warm(command: list[str]) -> int:
    """Run ``command`` with a stage server; its exit code."""
    with stage_server() as environment:
        code = subprocess.call(command, env=environment)
    return 128 - code if code < 0 else code  # killed by signal N: 128 + N, as a shell says


# -- `conveyor warm COMMAND...` ------------------------------------------------------------------


def add_warm_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``conveyor warm COMMAND...``."""
    text = "Run COMMAND (e.g. dvc repro) with warm stages."
    parser = commands.add_parser(
        "warm",
        help=text,
        description=f"{text} Each 'conveyor run' that COMMAND starts forks from one process that "
        "has already imported pandas, scikit-learn and xgboost, instead of importing them again; "
        "outputs are the same bytes (docs/benchmarks.md, warm stages).",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND ...")
    parser.set_defaults(handler=warm_command)


def warm_command(args: argparse.Namespace) -> int:
    """Run a command with a stage server (conveyor.cli._stage_server); its exit code."""
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise UsageError("name the command to run, e.g. 'conveyor warm dvc repro'")
    try:
        return run_warm(command)
    except FileNotFoundError as exc:
        raise UsageError(f"'{command[0]}' was not found: {exc.strerror}") from exc
    except OSError as exc:  # the server itself could not start (its log is on stderr above)
        raise UsageError(
            f"the warm stage server could not start: {exc}",
            fix=f"run the command cold: {' '.join(command)}",
        ) from exc
