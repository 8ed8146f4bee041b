"""A queue worker's trial is a fork of the worker that becomes ``dvc exp exec-run``.

Real forks of the test process, which plays the worker: it holds what celery leaves in a
worker (a handler on the root logger, ``sys.stdout`` replaced by a proxy, its own SIGTERM
handler) and DVC's ``main`` replaced by a function only this process's memory holds, so a
child that printed its token ran in a fork, and one started afresh could not have.
"""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from typing import TYPE_CHECKING

import psutil
import pytest

from conveyor.experiments import _forked_trial
from conveyor.experiments._forked_trial import ForkedExecRun, forks

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

ARGS = ["dvc", "exp", "exec-run", "--infofile", "/nowhere/trial.run"]
SHAPE = {
    "stdin": subprocess.DEVNULL,
    "stderr": subprocess.STDOUT,
    "close_fds": True,
    "shell": False,
    "env": None,
}


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """This process dressed as a celery worker; what its logging handler and proxy caught."""
    caught = io.StringIO()
    handler = logging.StreamHandler(caught)
    handler.setFormatter(logging.Formatter("CELERY %(message)s"))
    logging.root.addHandler(handler)
    monkeypatch.setattr(sys, "stdout", caught)  # celery's LoggingProxy takes print()s
    monkeypatch.setattr(sys, "stderr", caught)
    previous = signal.signal(signal.SIGTERM, lambda *_: _say("celery: warm shutdown"))
    yield caught
    signal.signal(signal.SIGTERM, previous)
    logging.root.removeHandler(handler)


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _main(monkeypatch: pytest.MonkeyPatch, body: Callable[[list[str]], int | None]) -> None:
    import dvc.cli

    monkeypatch.setattr(dvc.cli, "main", body)


def _start(log: Path) -> ForkedExecRun:
    with log.open("ab") as output:
        started = _forked_trial._Subprocess().Popen(ARGS, stdout=output, **SHAPE)
    assert isinstance(started, ForkedExecRun)
    return started


def test_the_trial_is_a_fork_that_becomes_dvc_with_its_output_in_the_log(
    worker: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token = uuid.uuid4().hex

    def main(argv: list[str]) -> int:
        _say(f"token {token} argv {argv} sys.argv {sys.argv}")
        _say(f"sigterm default: {signal.getsignal(signal.SIGTERM) == signal.SIG_DFL}")
        _say(f"sigint raises: {signal.getsignal(signal.SIGINT) is signal.default_int_handler}")
        _say(f"stdin: {sys.stdin.read()!r}")
        _say(f"title: {psutil.Process().cmdline()[0]}")
        logging.getLogger("dvc.anything").warning("a warning DVC logs")
        sys.stderr.write("on stderr\n")
        return 3

    _main(monkeypatch, main)
    log = tmp_path / "trial.out"
    log.write_bytes(b"before\n")
    trial = _start(log)
    assert trial.pid != os.getpid()
    assert trial.wait() == 3
    assert trial.returncode == trial.poll() == 3
    lines = log.read_text().splitlines()
    assert lines[0] == "before"  # appended, as ManagedProcess opens the log
    assert f"token {token} argv {ARGS[1:]} sys.argv {ARGS}" in lines
    assert "sigterm default: True" in lines
    assert "sigint raises: True" in lines
    assert "stdin: ''" in lines
    assert f"title: {' '.join(ARGS)}" in lines
    assert "on stderr" in lines
    assert "CELERY" not in log.read_text()  # no handler of the worker's wrote it
    assert worker.getvalue() == ""  # nor did the worker's proxy take any of it


def test_dvcs_colours_are_stripped_in_the_log_as_in_a_new_process(
    worker: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """DVC's links carry colorama's codes, which its streams strip where they are no terminal:
    the child must strip them for its log, not reuse the worker's (import-time) streams."""
    from dvc.utils import format_link

    def main(argv: list[str]) -> int:
        _say(f"see {format_link('https://dvc.org/doc')}")
        logging.getLogger("dvc").error("failed: %s", format_link("https://error.dvc.org/x"))
        return 1

    _main(monkeypatch, main)
    log = tmp_path / "trial.out"
    trial = _start(log)
    assert trial.wait() == 1
    text = log.read_text()
    assert "see <https://dvc.org/doc>" in text
    assert "failed: <https://error.dvc.org/x>" in text  # DVC's own logger, on the log
    assert "\x1b[" not in text


@pytest.mark.parametrize(
    ("ending", "code", "logged"),
    [
        ("return", 0, None),
        ("exit", 4, None),
        ("exit-text", 1, "stopped"),
        ("error", 1, "RuntimeError: broken"),
        ("interrupt", -signal.SIGINT, None),
    ],
)
def test_the_exit_status_is_mains_as_a_new_process_reports_it(
    worker: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    ending: str,
    code: int,
    logged: str | None,
) -> None:
    def main(argv: list[str]) -> int | None:
        if ending == "exit":
            sys.exit(4)
        if ending == "exit-text":
            sys.exit("stopped")
        if ending == "error":
            raise RuntimeError("broken")
        if ending == "interrupt":
            raise KeyboardInterrupt
        return None

    _main(monkeypatch, main)
    log = tmp_path / "trial.out"
    assert _start(log).wait() == code
    if logged is not None:
        assert logged in log.read_text()


def test_signals_end_the_trial_as_they_end_a_new_process(
    worker: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def main(argv: list[str]) -> int:
        _say("ready")
        time.sleep(30)
        return 0

    _main(monkeypatch, main)
    log = tmp_path / "trial.out"
    for signum, expected in ((signal.SIGTERM, -signal.SIGTERM), (signal.SIGKILL, -signal.SIGKILL)):
        trial = _start(log)
        deadline = time.monotonic() + 20
        while log.read_text().count("ready") < (1 if signum == signal.SIGTERM else 2):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        if signum == signal.SIGKILL:
            trial.kill()
        else:
            os.kill(trial.pid, signum)  # the worker's own handler would have printed
        assert trial.wait() == expected
    assert "warm shutdown" not in log.read_text() + worker.getvalue()


def test_wait_with_a_timeout_raises_as_popen_does(
    worker: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _main(monkeypatch, lambda argv: time.sleep(30))
    trial = _start(tmp_path / "trial.out")
    with pytest.raises(subprocess.TimeoutExpired):
        trial.wait(timeout=0.1)
    assert trial.poll() is None
    trial.kill()
    assert trial.wait(timeout=20) == -signal.SIGKILL
    trial.kill()  # reaped: nothing to do, no error


@pytest.mark.parametrize(
    ("args", "change"),
    [
        (["dvc", "exp", "run"], {}),
        (["python", "-m", "dvc", "exp", "exec-run"], {}),
        ("dvc exp exec-run", {}),
        (ARGS, {"env": {"PATH": "/bin"}}),
        (ARGS, {"cwd": "/elsewhere"}),
        (ARGS, {"shell": True}),
        (ARGS, {"stderr": subprocess.PIPE}),
        (ARGS, {"stdin": subprocess.PIPE}),
        (ARGS, {"start_new_session": True}),
        (ARGS, {"stdout": None}),
    ],
)
def test_only_dvcs_own_trial_start_is_forked(
    tmp_path: Path, args: object, change: dict[str, object]
) -> None:
    with (tmp_path / "log").open("ab") as output:
        assert forks(ARGS, {"stdout": output, **SHAPE})
        assert not forks(args, {"stdout": output, **SHAPE, **change})


def test_cold_runs_dvcs_own_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with (tmp_path / "log").open("ab") as output:
        monkeypatch.setenv("CONVEYOR_COLD", "0")  # as everywhere: only 1 means cold
        assert forks(ARGS, {"stdout": output, **SHAPE})
        monkeypatch.setenv("CONVEYOR_COLD", "1")
        assert not forks(ARGS, {"stdout": output, **SHAPE})
        started = _forked_trial._Subprocess().Popen(["true"], stdout=output, **SHAPE)
    assert isinstance(started, subprocess.Popen)  # anything else: a real process
    assert started.wait() == 0


def test_install_gives_dvc_tasks_process_module_the_forking_popen_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dvc_task.proc import process

    monkeypatch.setattr(process, "subprocess", subprocess)
    assert _forked_trial.install()
    installed = getattr(process, "subprocess")  # noqa: B009 - not in its __all__
    assert isinstance(installed, _forked_trial._Subprocess)
    assert installed.DEVNULL == subprocess.DEVNULL  # the rest of the module as it is
    assert _forked_trial.install()
    assert getattr(process, "subprocess") is installed  # noqa: B009
    monkeypatch.setattr(process, "subprocess", object())  # a dvc_task of another shape
    assert not _forked_trial.install()


@pytest.mark.parametrize(
    ("code", "status", "printed"), [(None, 0, ""), (3, 3, ""), ("no node", 1, "no node\n")]
)
def test_a_forked_child_exits_as_python_exits_on_system_exit(
    code: object, status: int, printed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _forked_trial.exit_status(SystemExit(code)) == status
    assert capsys.readouterr().err == printed


def test_preload_imports_what_exists_and_skips_what_this_dvc_lacks() -> None:
    missing = f"dvc.no_such_module_{uuid.uuid4().hex}"
    sys.modules.pop("json.tool", None)
    _forked_trial.preload(["json.tool", missing])
    assert "json.tool" in sys.modules
    assert missing not in sys.modules


def test_every_preloaded_module_exists_in_the_installed_dvc() -> None:
    """The lists are kept by hand from what children imported: a typo, or a module a DVC
    upgrade moved, would silently leave that import to every trial again."""
    import importlib.util

    from conveyor.experiments import _dvc_forkserver, _queue_worker

    names = (*_forked_trial.PRELOAD, *_queue_worker.PRELOAD, *_dvc_forkserver.PRELOAD)
    assert [name for name in names if importlib.util.find_spec(name) is None] == []


def _collector_counts(text: str) -> tuple[int, int]:
    """The ``unfrozen N frozen M`` a stand-in ``main`` printed: the child's collector lists."""
    found = re.search(r"unfrozen (\d+) frozen (\d+)", text)
    assert found is not None, text
    return int(found[1]), int(found[2])


def report_collector_counts(argv: list[str]) -> int:
    """A stand-in for DVC's ``main``: how many objects the child's collector still examines."""
    import gc

    _say(f"unfrozen {len(gc.get_objects())} frozen {gc.get_freeze_count()}")
    return 0


def test_the_child_leaves_the_objects_it_inherited_to_be_shared(
    worker: io.StringIO, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Frozen at once: the child's collections never write into the worker's objects, so the
    pages that hold them stay shared instead of being copied (``keep_inherited_objects_shared``)."""
    import gc

    inherited = len(gc.get_objects())
    _main(monkeypatch, report_collector_counts)
    log = tmp_path / "trial.out"
    assert _start(log).wait() == 0
    unfrozen, frozen = _collector_counts(log.read_text())
    assert frozen >= 0.9 * inherited  # (a few may have been freed since)
    assert unfrozen < inherited / 10  # what the child made itself since
