"""The stage server behind ``conveyor warm`` (conveyor.cli.warm): preload, then fork per stage.

Each request is one ``conveyor run`` client's arguments, directory, environment, umask, pid and
standard streams; a forked child becomes that ``conveyor run`` and the server reports its exit
status back. A client whose connection closes (it died) has its child killed.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import selectors
import signal
import socket
import sys
from typing import TYPE_CHECKING

from conveyor import _blas
from conveyor._blas import THREAD_VARIABLES
from conveyor.cli.warm import HEADER, SOCKET_ENV, send_signal

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

PRELOAD = (
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "scipy.stats",
    "sklearn.pipeline",
    "sklearn.compose",
    "sklearn.preprocessing",
    "sklearn.metrics",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "xgboost",
    "skops.io",
    "conveyor.cli.main",
    "conveyor.runtime",
    "conveyor.components.models",
    "conveyor.components.metrics",
    "conveyor.components.sources",
    "conveyor.bundle.bundle",
)
"""What every stage imports anyway. Nothing here may read the environment at import time in a
way that a stage depends on (thread pools: sized by the server's own variables, resized per
child where its client's differ, ``_limit_threads``)."""

INTERPRETER_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONNOUSERSITE")


def serve(path: str, parent: int) -> None:
    """Preload ``PRELOAD``, then fork a child per request until ``parent`` exits or SIGTERM."""
    import gc

    # A terminal's Ctrl-C reaches the whole foreground group: the command that started the
    # server handles it and ends the server (SIGTERM); a KeyboardInterrupt here would only print
    # a traceback. Each forked stage restores Python's handler (_child).
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    if sys.path and sys.path[0] in ("", os.getcwd()):
        # `python -m` put the server's working directory first. A stage imports nothing from
        # there (its project is made importable by the run itself), and a file created in it
        # would otherwise count as an install below.
        del sys.path[0]
    _blas.pin()  # as `conveyor` does, before the preload loads numpy
    started = _interpreter(dict(os.environ))  # before the imports: a change makes it stale
    baseline = _thread_variables(os.environ)  # the pools are sized by these at the imports
    # Listening before the imports: a stage that comes meanwhile (a sweep's first, as its
    # worker is quick to start) waits in the backlog for the rest of them instead of running
    # cold, which would import the same libraries itself on the same cores.
    listener = _listen(path)
    _preload()
    wake = wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the selector
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector_fd = selector.fileno() if hasattr(selector, "fileno") else -1
    selector.register(wake_read, selectors.EVENT_READ)
    gc.freeze()  # children share the preloaded objects instead of copying them as GC touches them
    children: dict[int, socket.socket] = {}  # pid -> its client's connection
    while not stopping and _alive(parent):
        for key, _ in selector.select(timeout=1.0):
            if key.fileobj is listener:
                fds = (listener.fileno(), selector_fd, *wake)
                _accept(
                    listener,
                    selector,
                    children,
                    fds,
                    lambda env: _interpreter(env) == started and _reachable(env, baseline),
                    baseline,
                )
            elif key.fileobj == wake_read:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_read, 512)
            else:  # a client's connection: it closed (the client died) or sent stray bytes
                assert isinstance(key.fileobj, socket.socket)  # noqa: S101 - registered so
                _client_readable(key.fileobj, selector, children)
        _reap(selector, children)
    for pid in children:
        send_signal(pid, signal.SIGKILL)
    listener.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _listen(path: str) -> socket.socket:
    """A socket listening at ``path``, bound under another name and renamed into place.

    ``bind`` makes the file before ``listen``, and a client that saw it in between (starters
    wait for the file) would be refused.
    """
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    binding = f"{path}.{os.getpid()}"
    try:
        listener.bind(binding)
        listener.listen(64)
        os.rename(binding, path)
    except BaseException:
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(binding)
        raise
    return listener


def _preload() -> None:
    """Import :data:`PRELOAD`, their thread pools sized by the server's own thread variables.

    A pool sizes itself from ``OMP_NUM_THREADS`` and the like when its library loads, here: the
    server's variables (its baseline) are what its pools have, as a cold process with them
    would. A sweep starts its server with its trials' limits, so that their stages change no
    pool. A client with other values gets them applied in its child (:func:`_limit_threads`);
    one without a variable the server has would need a library's default back, which no call
    restores (a histogram gradient boosting fit under one thread wrote other model bytes): it
    runs cold (:func:`_reachable`).
    """
    for module in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


def _accept(
    listener: socket.socket,
    selector: selectors.BaseSelector,
    children: dict[int, socket.socket],
    server_fds: tuple[int, ...],
    fresh: Callable[[dict[str, str]], bool],
    baseline: dict[str, str],
) -> None:
    connection, _ = listener.accept()
    connection.settimeout(5)  # a client that connects and stalls must not stall the others
    try:
        request, fds = _receive(connection, fresh)
    except (OSError, ValueError):
        connection.close()
        return
    connection.settimeout(None)
    server = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        _die_with(server)
        inherited = [*server_fds, connection.fileno(), *map(_fileno, children.values())]
        _child(request, fds, inherited, baseline)
    for fd in fds:
        os.close(fd)
    children[pid] = connection
    connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    selector.register(connection, selectors.EVENT_READ)


def _fileno(connection: socket.socket) -> int:
    return connection.fileno()


def _interpreter(environment: dict[str, str]) -> tuple[object, ...]:
    """What a new interpreter would import from.

    The variables that shape ``sys.path``, the OpenBLAS kernels it would load (conveyor._blas),
    and the modification time of every folder on ``sys.path`` (pip changes one when it installs
    or removes a package). A forked child cannot pick up a change to any, where a cold process
    would.
    """
    stamps = []
    for entry in sys.path:
        with contextlib.suppress(OSError):
            stamps.append((entry, os.stat(entry or ".").st_mtime_ns))
    variables = (environment.get(name) for name in INTERPRETER_VARIABLES)
    return (*variables, _blas.coretype(environment), *stamps)


def _receive(
    connection: socket.socket, fresh: Callable[[dict[str, str]], bool]
) -> tuple[dict[str, object], list[int]]:
    """The request, then (after a ``ready`` line) the client's three standard streams.

    A client whose interpreter would import differently (``_interpreter``) gets
    ``ready: false``, and runs cold.

    The streams come second so that a client only hands its file descriptors to a server that
    answered: descriptors in flight to a server that never reads them would hold the client's
    pipes open after it exits.
    """
    header = _exactly(connection, HEADER.size)
    (size,) = HEADER.unpack(header)
    request = json.loads(_exactly(connection, size))
    if not isinstance(request, dict):
        raise ValueError("a request is a JSON object")
    if not fresh(dict(request.get("env") or {})):
        connection.sendall(b'{"ready": false}\n')
        raise ValueError("packages were installed or removed since the server started")
    connection.sendall(b'{"ready": true}\n')
    _, fds, _, _ = socket.recv_fds(connection, 1, 3)
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise ValueError("a request carries three streams")
    return request, fds


def _exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ValueError("the request ended early")
        data += chunk
    return data


def _die_with(server: int) -> None:
    """End this child when the server ends (Linux).

    The client of a server that died reports its stage failed; the stage must not run on.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != server:  # it died before the line above took effect
        os._exit(1)


def _child(
    request: dict[str, object], fds: list[int], inherited: list[int], baseline: dict[str, str]
) -> None:
    """Become the client's ``conveyor run``: its streams, directory, environment and arguments."""
    code = 70
    try:
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in inherited:
            with contextlib.suppress(OSError):
                os.close(fd)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(str(request["cwd"]))
        importlib.invalidate_caches()  # files added since the server's imports (project code)
        environment = dict(request["env"])  # type: ignore[call-overload]
        environment.pop(SOCKET_ENV, None)  # the child runs the stage itself
        _limit_threads(environment, baseline)
        os.environ.clear()
        os.environ.update(environment)
        os.umask(int(request["umask"]))  # type: ignore[call-overload]
        argv = [str(arg) for arg in request["argv"]]  # type: ignore[attr-defined]
        sys.argv = ["conveyor", *argv]
        from conveyor.cli.main import main
        from conveyor.runtime.repo_lock import act_for

        act_for(int(request["pid"]))  # type: ignore[call-overload]  # the dvc above is the client's
        try:
            main(argv)
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
        except KeyboardInterrupt:
            code = 130
    finally:
        with contextlib.suppress(Exception):
            import atexit

            atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _thread_variables(environment: Mapping[str, str]) -> dict[str, str]:
    return {name: environment[name] for name in THREAD_VARIABLES if name in environment}


def _reachable(environment: Mapping[str, str], baseline: Mapping[str, str]) -> bool:
    """Whether a child can give a client the thread pools it would have had cold.

    Not when the client lacks one of the server's variables: the library's default is lost.
    """
    return set(baseline) <= set(_thread_variables(environment))


def _limit_threads(environment: Mapping[str, str], baseline: Mapping[str, str]) -> None:
    """Apply the client's thread limits, as a cold process would have had them from the start.

    Thread pools read these variables when their library loads, which was in the server, under
    ``baseline``. Only what differs is applied, and a pool already of the wanted size is left
    alone: OpenBLAS, told its size in a forked child, starts its threads there at once, and
    they spin idle for about 0.1 s each: a client's ``OPENBLAS_NUM_THREADS=2`` on 2 cores made
    every stage 0.07 s slower, and cost 0.2 s of CPU (numpy's and scipy's OpenBLAS).
    """
    had = _pool_sizes(baseline)
    wanted = {api: size for api, size in _pool_sizes(environment).items() if had.get(api) != size}
    if not wanted:
        return
    from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

    controller = ThreadpoolController()
    sizes: dict[str, set[int]] = {}
    for pool in controller.info():
        sizes.setdefault(pool["user_api"], set()).add(pool["num_threads"])
    changes = {api: size for api, size in wanted.items() if sizes.get(api, {size}) != {size}}
    if changes:
        controller.limit(limits=changes)


def _pool_sizes(environment: Mapping[str, str]) -> dict[str, int]:
    """The thread pool sizes ``environment`` sets, by threadpoolctl API, as the libraries read it.

    OpenMP from ``OMP_NUM_THREADS``; OpenBLAS and MKL from their own variable, or else from
    ``OMP_NUM_THREADS`` too.
    """
    openmp = environment.get("OMP_NUM_THREADS", "")
    blas = environment.get("OPENBLAS_NUM_THREADS") or environment.get("MKL_NUM_THREADS") or openmp
    return {
        api: int(value) for api, value in (("openmp", openmp), ("blas", blas)) if value.isdigit()
    }


def _client_readable(
    connection: socket.socket, selector: selectors.BaseSelector, children: dict[int, socket.socket]
) -> None:
    """Kill the stage of a client that died (or was killed): it must not outlive it.

    A client sends nothing after its request, so a readable connection has closed.
    """
    with contextlib.suppress(OSError):
        if connection.recv(4096):
            return  # stray bytes: ignored
    for pid, owner in list(children.items()):
        if owner is connection:
            send_signal(pid, signal.SIGKILL)  # reaped, and the connection closed, by _reap
    selector.unregister(connection)


def _reap(selector: selectors.BaseSelector, children: dict[int, socket.socket]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = children.pop(pid, None)
        if connection is None:
            continue
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(connection)
        with contextlib.suppress(OSError):
            code = os.waitstatus_to_exitcode(status)
            connection.sendall(json.dumps({"exit": code}).encode() + b"\n")
        connection.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if __name__ == "__main__":  # the server process that conveyor.cli.warm.stage_server starts
    serve(sys.argv[1], int(sys.argv[2]))
