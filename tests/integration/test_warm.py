"""Warm stages (``conveyor warm``): the same bytes as cold, the same exit, and no orphans.

The whole slow suite runs its stages warm (``warm_stages`` in tests/conftest.py), so every
end-to-end test is also a test of the server; these pin what only a comparison or a kill shows.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

from conveyor.cli.warm import SOCKET_ENV, stage_server
from tests.conftest import VENV_BIN, conveyor_in_process

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.slow

SLOW_MODEL = """\
import time
from pathlib import Path

from sklearn.linear_model import LogisticRegression


class Sleepy(LogisticRegression):
    def fit(self, X, y, **kwargs):
        Path("fit.started").write_text("")
        time.sleep(120)
        Path("fit.finished").write_text("")
        return super().fit(X, y, **kwargs)
"""


def test_a_warm_repro_writes_the_same_bytes_as_a_cold_one(
    project_template: Path, reproduced_template: Path, tmp_path: Path
) -> None:
    warm = tmp_path / "warm"
    shutil.copytree(project_template, warm, symlinks=True)
    environment = {k: v for k, v in os.environ.items() if k != SOCKET_ENV}
    done = subprocess.run(
        [VENV_BIN / "conveyor", "warm", "dvc", "repro"],
        cwd=warm,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Every stage ran (none was skipped as cached), through the same console output.
    assert done.stdout.count("> conveyor run ") == (
        reproduced_template / "dvc.yaml"
    ).read_text().count("cmd: conveyor run ")
    # dvc.lock holds the md5 of every output: equal locks are equal bytes.
    assert (warm / "dvc.lock").read_text() == (reproduced_template / "dvc.lock").read_text()
    assert (warm / "reports" / "metrics.json").read_bytes() == (
        reproduced_template / "reports" / "metrics.json"
    ).read_bytes()


def _run(root: Path, *args: str, socket: str | None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != SOCKET_ENV}
    if socket:
        environment[SOCKET_ENV] = socket
    return subprocess.run(
        [VENV_BIN / "conveyor", *args],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def test_exit_codes_and_messages_are_the_cold_ones(reproduced_project: Path) -> None:
    with stage_server() as environment:
        socket = environment[SOCKET_ENV]
        warm_error = _run(reproduced_project, "run", "no-such-stage", socket=socket)
        warm_gate = _run(reproduced_project, "run", "gate", socket=socket)
    cold_error = _run(reproduced_project, "run", "no-such-stage", socket=None)
    assert (warm_error.returncode, warm_error.stdout, warm_error.stderr) == (
        cold_error.returncode,
        cold_error.stdout,
        cold_error.stderr,
    )
    assert warm_error.returncode == 1
    assert "unknown stage 'no-such-stage'" in warm_error.stderr
    assert warm_gate.returncode == 0, warm_gate.stderr
    assert warm_gate.stdout.startswith("gate: ")
    # A socket nobody serves (a server that stopped) falls back to a cold run, not an error.
    stale = _run(reproduced_project, "run", "gate", socket=socket)
    assert (stale.returncode, stale.stdout) == (0, warm_gate.stdout)


def _sleepy_project(root: Path) -> None:
    (root / "sleepy.py").write_text(SLOW_MODEL)
    (root / "conf" / "model" / "sleepy.yaml").write_text("_target_: sleepy.Sleepy\nparams: {}\n")
    config = root / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("model: xgboost", "model: sleepy"))
    conveyor_in_process("compile", cwd=root)


def _stage_of(server: psutil.Process, root: Path) -> psutil.Process:
    """The server's child that runs a stage in ``root``, once its fit has started."""
    deadline = time.monotonic() + 120
    while not (root / "fit.started").exists():
        assert time.monotonic() < deadline, "the warm stage never started fitting"
        time.sleep(0.05)
    (child,) = [c for c in server.children() if Path(c.cwd()).resolve() == root.resolve()]
    return child


@contextlib.contextmanager
def _server(socket: str | None) -> Iterator[str]:
    """The socket of the running server ``socket``, or of a server of its own (none given)."""
    if socket:
        yield socket
        return
    with stage_server() as warm:
        yield warm[SOCKET_ENV]


@contextlib.contextmanager
def _sleeping_stage(
    root: Path, socket: str | None = None
) -> Iterator[tuple[subprocess.Popen[str], psutil.Process, psutil.Process]]:
    """``conveyor run train`` of a model asleep in ``fit``, forked from the server at ``socket``
    (a child of this process), or from a server of its own: (the client, the server, the stage).
    """
    _sleepy_project(root)
    environment = {k: v for k, v in os.environ.items() if k != SOCKET_ENV}
    with _server(socket) as path:
        server = next(p for p in psutil.Process().children() if path in p.cmdline())
        client = subprocess.Popen(
            [VENV_BIN / "conveyor", "run", "train"],
            cwd=root,
            env={**environment, SOCKET_ENV: path},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            yield client, server, _stage_of(server, root)
        finally:
            if client.poll() is None:
                client.kill()
            client.wait(timeout=30)


@pytest.mark.parametrize(
    ("kill", "exit_code"),
    [
        (signal.SIGKILL, -signal.SIGKILL),  # the client dies hard: the server kills its stage
        (signal.SIGTERM, -signal.SIGTERM),  # forwarded: the stage ends the same way
        (signal.SIGINT, 130),  # Ctrl-C: the stage's KeyboardInterrupt exit, as cold
    ],
)
def test_a_stage_never_outlives_its_client(
    reproduced_project: Path, warm_stages: str | None, kill: signal.Signals, exit_code: int
) -> None:
    # The session's server (one stage's end must not be the server's), or one of its own when
    # the run is cold (CONVEYOR_COLD=1).
    with _sleeping_stage(reproduced_project, warm_stages) as (client, server, stage):
        client.send_signal(kill)
        assert client.wait(timeout=30) == exit_code
        gone, _ = psutil.wait_procs([stage], timeout=10)
        assert gone, f"the stage (pid {stage.pid}) outlived its client"
        assert server.is_running()  # one stage's end is not the server's
    assert not (reproduced_project / "fit.finished").exists()


def test_the_client_s_thread_limits_reach_the_forked_stage(tmp_path: Path) -> None:
    """Thread pools size themselves when their library loads, in the server; the child applies
    the client's OMP_NUM_THREADS as a cold process would have read it."""
    probe = (
        "import os, sys\n"
        "from conveyor.cli._stage_server import _limit_threads, _thread_variables\n"
        "import numpy, xgboost\n"  # loaded first, as in the server, with 2 threads
        "from threadpoolctl import threadpool_info\n"
        "client = {**os.environ, 'OMP_NUM_THREADS': '1', 'OPENBLAS_NUM_THREADS': '1'}\n"
        "_limit_threads(client, _thread_variables(os.environ))\n"
        "print(sorted({p['num_threads'] for p in threadpool_info()}))\n"
    )
    environment = {**os.environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
    assert _printed(probe, environment, tmp_path) == "[1]"


POOL_THREADS = (
    "import os, sys\n"
    "from conveyor.cli._stage_server import _limit_threads, _preload\n"
    "_preload()\n"  # in the server: numpy's and scipy's OpenBLAS, OpenMP, under the variables
    "def child(client, baseline):\n"  # a forked stage: the threads it has, and its pools
    "    reader, writer = os.pipe()\n"
    "    if os.fork() == 0:\n"
    "        _limit_threads(client, baseline)\n"
    "        from threadpoolctl import threadpool_info\n"
    "        sizes = sorted({p['num_threads'] for p in threadpool_info()})\n"
    "        os.write(writer, f'{len(os.listdir(\"/proc/self/task\"))} {sizes}'.encode())\n"
    "        os._exit(0)\n"
    "    os.close(writer)\n"
    "    return os.read(reader, 100).decode()\n"
)
TWO = {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_a_stage_whose_pools_have_its_sizes_starts_no_threads(tmp_path: Path) -> None:
    """OpenBLAS told its size in a forked child starts its threads there and they spin idle
    (0.1 s of a core each, every stage of a sweep). A client whose limits the pools already
    have, as the server's own (a sweep's trials) or by size, starts none; one that wants
    other sizes still gets them."""
    probe = POOL_THREADS + (
        "two = {k: v for k, v in os.environ.items() if k.endswith('_NUM_THREADS')}\n"
        "print(child({**os.environ}, two))\n"  # the server's own variables
        "print(child({**os.environ}, {}))\n"  # other variables, the pools' sizes
        "print(child({**os.environ, 'OPENBLAS_NUM_THREADS': '1'}, two))\n"
    )
    printed = _printed(probe, {**os.environ, **TWO}, tmp_path).splitlines()
    assert printed[:2] == ["1 [2]", "1 [2]"]  # one thread: none started
    assert printed[2].endswith(" [1, 2]")  # OpenBLAS at 1, OpenMP kept at 2


def test_a_client_without_the_server_s_thread_variables_runs_cold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server started under OMP_NUM_THREADS=1 (a sweep's -j 2, a test's monkeypatch) has
    one-thread pools. A client that set none must run on the threads a cold process has, which
    no call in a child restores: it runs cold. Other values are applied in the child."""
    from conveyor.cli._stage_server import THREAD_VARIABLES

    monkeypatch.chdir(tmp_path)
    for name in THREAD_VARIABLES:  # CI found one left set by an earlier test in this process
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    environment = {k: v for k, v in os.environ.items() if k != SOCKET_ENV}
    unset = {k: v for k, v in environment.items() if k != "OMP_NUM_THREADS"}
    with stage_server() as warm:
        path = warm[SOCKET_ENV]
        assert _ready(path, environment)
        assert not _ready(path, unset)
        assert _ready(path, {**environment, "OMP_NUM_THREADS": "2"})
    # OpenBLAS reads OMP_NUM_THREADS too when its own variable is unset: both pools go to 2.
    two = "print(child({**os.environ, 'OMP_NUM_THREADS': '2'}, {'OMP_NUM_THREADS': '1'}))\n"
    assert _printed(POOL_THREADS + two, environment, tmp_path).endswith(" [2]")


def _printed(code: str, environment: dict[str, str], cwd: Path) -> str:
    """What ``python -c code`` prints, run in ``cwd`` with exactly ``environment``."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    return done.stdout.strip()


def test_a_server_that_never_answers_costs_a_timeout_not_the_stage(
    reproduced_project: Path, tmp_path: Path
) -> None:
    """A hung server (here: a socket that listens and never accepts) must not hang DVC."""
    import socket as sockets

    mute = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    path = str(tmp_path / "mute.sock")
    mute.bind(path)
    mute.listen(8)
    environment = {k: v for k, v in os.environ.items() if k != SOCKET_ENV}
    with mute:
        waited = subprocess.run(
            [VENV_BIN / "conveyor", "run", "gate"],
            cwd=reproduced_project,
            env={**environment, SOCKET_ENV: path, "CONVEYOR_WARM_TIMEOUT": "1"},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        cold = subprocess.run(
            [VENV_BIN / "conveyor", "run", "gate"],
            cwd=reproduced_project,
            env={**environment, SOCKET_ENV: path, "CONVEYOR_COLD": "1"},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    assert waited.returncode == 0, waited.stderr
    assert f"the warm stage server at {path} did not answer in 1.0 s" in waited.stderr
    assert waited.stdout.startswith("gate: ")
    # CONVEYOR_COLD=1 never asks the server at all: no wait, no warning, the same answer.
    assert (cold.returncode, cold.stdout, cold.stderr) == (0, waited.stdout, "")


def _ready(path: str, environment: dict[str, str]) -> bool:
    """Whether the server at ``path`` would take a request from a client with ``environment``
    (the first step of conveyor.cli.warm.delegate; the client then hangs up)."""
    import json
    import socket as sockets

    from conveyor.cli.warm import HEADER

    request = json.dumps(
        {"argv": ["run", "gate"], "cwd": "/", "env": environment, "umask": 0o22, "pid": 1}
    ).encode()
    with sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM) as client:
        client.connect(path)
        client.sendall(HEADER.pack(len(request)) + request)
        return bool(json.loads(client.makefile("r").readline())["ready"])


def test_the_server_goes_cold_only_when_a_new_interpreter_would_import_differently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the server starts here, as `conveyor warm` in a project
    environment = {k: v for k, v in os.environ.items() if k != SOCKET_ENV}
    with stage_server() as warm:
        path = warm[SOCKET_ENV]
        assert _ready(path, environment)
        # Stages write into the project; that is no install (the directory python -m put
        # first on the server's sys.path is dropped).
        (tmp_path / "dvc.lock").write_text("")
        (tmp_path / "reports").mkdir()
        assert _ready(path, environment)
        # A plugin on PYTHONPATH (tests/integration/test_plugins.py) needs a cold process.
        assert not _ready(path, {**environment, "PYTHONPATH": str(tmp_path)})
        assert _ready(path, environment)


def test_a_stage_that_comes_while_the_server_imports_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not cold: a sweep's first stage comes about then, and a cold one imports the same
    libraries again on the same cores. The server listens as soon as it starts."""
    monkeypatch.chdir(tmp_path)
    environment = {k: v for k, v in os.environ.items() if k != SOCKET_ENV}
    with stage_server() as warm:  # returns once the socket exists
        path = warm[SOCKET_ENV]
        server = next(p for p in psutil.Process().children() if path in p.cmdline())
        mapped = {Path(m.path).name for m in server.memory_maps() if m.path}
        assert not any(name.startswith("libxgboost") for name in mapped), "preloaded already"
        assert _ready(path, environment)  # taken once the imports are done
        mapped = {Path(m.path).name for m in server.memory_maps() if m.path}
        assert any(name.startswith("libxgboost") for name in mapped)


def test_a_stage_dies_with_its_server(reproduced_project: Path) -> None:
    """A server killed hard cannot kill its stages itself: they end with it, and the client
    reports the stage failed, not a stage that goes on writing behind DVC's back."""
    with _sleeping_stage(reproduced_project) as (client, server, stage):
        server.kill()
        _, err = client.communicate(timeout=30)
        assert client.returncode == 1
        assert "the warm stage server stopped during the stage" in err
        gone, _ = psutil.wait_procs([stage], timeout=10)
        assert gone, f"the stage (pid {stage.pid}) outlived its server"
    assert not (reproduced_project / "fit.finished").exists()


def test_conveyor_warm_exits_as_its_command_does(tmp_path: Path) -> None:
    """Its command's exit code, 128 + N for a command killed by signal N (as a shell reports
    it), and a usage error with the fix for a command that does not exist."""

    def warm(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [VENV_BIN / "conveyor", "warm", *command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    assert warm("sh", "-c", "exit 3").returncode == 3
    assert warm("sh", "-c", "kill -TERM $$").returncode == 128 + signal.SIGTERM
    missing = warm("no-such-command-here")
    assert missing.returncode == 2
    assert "'no-such-command-here' was not found" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_ctrl_c_ends_a_warm_command_without_a_traceback(tmp_path: Path) -> None:
    """A terminal's Ctrl-C goes to the whole foreground group, the stage server too: the
    command that started it ends it, and nothing but the interruption is reported."""
    command = subprocess.Popen(
        [VENV_BIN / "conveyor", "warm", "sleep", "60"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a group of its own, as a terminal's foreground job
    )
    deadline = time.monotonic() + 60
    server = None
    while server is None and time.monotonic() < deadline:  # listening, and done importing
        with contextlib.suppress(psutil.Error):
            server = next(
                (
                    child
                    for child in psutil.Process(command.pid).children()
                    if "_stage_server" in " ".join(child.cmdline())
                    and any("libxgboost" in m.path for m in child.memory_maps())
                ),
                None,
            )
        time.sleep(0.05)
    assert server is not None, "the stage server did not start"
    os.killpg(command.pid, signal.SIGINT)
    _, err = command.communicate(timeout=60)
    assert command.returncode == 130, err
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err
    assert not server.is_running()
