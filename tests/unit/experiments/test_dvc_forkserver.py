"""A trial's ``dvc exp run`` forked from a DVC-preloaded server behaves as a new process would.

Real DVC commands, forked from multiprocessing's real fork server, against the same commands
run by ``_git.run_stoppable`` as new processes: the same exit codes and output, this call's
directory and environment (not the server's), and a stop that ends DVC and the stage it runs.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import psutil
import pytest

from conveyor import _git
from conveyor.experiments import _dvc_forkserver
from conveyor.experiments._dvc_forkserver import run_stoppable
from tests.conftest import VENV_BIN, git_dvc_repo, running_with

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # real dvc commands


def never() -> bool:
    return False


def _lines(done: _git.Completed | None) -> tuple[int, list[str]]:
    assert done is not None
    return done.returncode, sorted(line for line in done.output.splitlines() if line.strip())


def test_exit_codes_and_output_are_those_of_a_new_process(tmp_path: Path) -> None:
    for command in (("dvc", "status"), ("dvc", "exp", "run", "--no-such-flag"), ("dvc", "root")):
        forked = _lines(run_stoppable(tmp_path, command, stop=never))
        spawned = _lines(_git.run_stoppable(tmp_path, command, stop=never))
        assert forked == spawned, command
        assert forked[0] != 0  # not a DVC repository, a bad flag: each fails, as DVC says
    repo = git_dvc_repo(tmp_path / "repo")
    code, lines = _lines(run_stoppable(repo, ("dvc", "root"), stop=never))
    assert (code, lines) == (0, ["."])  # its directory is the call's: the repository's root


def test_the_environment_is_the_calls_not_the_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_stoppable(tmp_path, ("dvc", "root"), stop=never) is not None  # server up
    config, extra = tmp_path / "global", tmp_path / "extra"
    monkeypatch.setenv("DVC_GLOBAL_CONFIG_DIR", str(config))  # after the server started
    command = ("dvc", "config", "--global", "core.autostage", "true")
    done = run_stoppable(tmp_path, command, stop=never)
    assert done is not None
    assert done.returncode == 0, done.output
    assert "autostage = true" in (config / "config").read_text()
    done = run_stoppable(tmp_path, command, stop=never, env={"DVC_GLOBAL_CONFIG_DIR": str(extra)})
    assert done is not None
    assert done.returncode == 0, done.output
    assert (extra / "config").is_file()  # env adds to (and overrides) this process's


def test_stop_ends_dvc_and_the_stage_it_runs(tmp_path: Path) -> None:
    marker = f"{time.time_ns() % 10**9}"
    # the stage's shell ignores SIGTERM: only the SIGKILL after the grace ends it
    stage = f"stages:\n  slow:\n    cmd: sh -c 'trap \"\" TERM; sleep 1{marker}; true'\n"
    repo = git_dvc_repo(tmp_path / "repo", {"dvc.yaml": stage})
    asked: list[float] = []

    def stop() -> bool:
        asked.append(time.monotonic())
        return bool(running_with(f"sleep 1{marker}"))

    start = time.monotonic()
    assert run_stoppable(repo, ("dvc", "repro"), stop=stop, grace=0.5) is None
    assert time.monotonic() - start < 60
    assert asked
    assert _gone_soon(f"sleep 1{marker}")  # SIGKILLed; a loaded machine may take a moment


def test_what_dvc_leaves_running_in_its_group_is_ended_with_it(tmp_path: Path) -> None:
    """A stage that leaves a process behind, as a new process's would be by run_stoppable."""
    marker = f"{time.time_ns() % 10**9}"
    stage = f"stages:\n  leave:\n    cmd: sh -c 'sleep 2{marker} &'\n"
    repo = git_dvc_repo(tmp_path / "repo", {"dvc.yaml": stage})
    done = run_stoppable(repo, ("dvc", "repro"), stop=never)
    assert done is not None
    assert done.returncode == 0, done.output
    assert _gone_soon(f"sleep 2{marker}")  # SIGKILLed; gone once its parent (init) reaps it


def _gone_soon(marker: str) -> bool:
    """Whether the processes running ``marker`` are gone within 10 s (the sleeps left alone
    run for years): a SIGKILL takes effect when the kernel next schedules its process."""
    deadline = time.monotonic() + 10
    while running_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    return running_with(marker) == []


def _dvc_parent(tmp_path: Path, name: str, cold: bool, monkeypatch: pytest.MonkeyPatch) -> str:
    """The parent of the ``dvc repro`` process, as its stage saw it, and that process's title."""
    # $PPID in the stage's shell is the dvc process; its status file names dvc's own parent
    cmd = "grep PPid /proc/$PPID/status > ppid && tr '\\0' ' ' < /proc/$PPID/cmdline > title"
    stage = f"stages:\n  show:\n    cmd: {cmd}\n"
    repo = git_dvc_repo(tmp_path / name, {"dvc.yaml": stage})
    if cold:
        monkeypatch.setenv("CONVEYOR_COLD", "1")
    done = run_stoppable(repo, ("dvc", "repro", "-q"), stop=never)
    monkeypatch.delenv("CONVEYOR_COLD", raising=False)
    assert done is not None
    assert done.returncode == 0, done.output
    parent = int((repo / "ppid").read_text().split()[1])
    return f"{parent} {(repo / 'title').read_text().strip()}"


def test_dvc_is_a_child_of_the_fork_server_and_cold_is_a_new_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent, title = _dvc_parent(tmp_path, "warm", False, monkeypatch).split(" ", 1)
    assert int(parent) != os.getpid()
    assert "multiprocessing.forkserver" in " ".join(psutil.Process(int(parent)).cmdline())
    assert title == "dvc repro -q"  # ps shows the command, not the server
    parent, _ = _dvc_parent(tmp_path, "cold", True, monkeypatch).split(" ", 1)
    assert int(parent) == os.getpid()  # CONVEYOR_COLD=1: a new process, as DVC starts one


def test_a_daemonic_process_runs_it_and_stays_daemonic(tmp_path: Path) -> None:
    """Dask's workers are daemonic processes, which multiprocessing forbids to start children."""
    me = multiprocessing.current_process()
    assert not me.daemon
    me.daemon = True
    try:
        done = run_stoppable(tmp_path, ("dvc", "root"), stop=never)
        assert me.daemon
    finally:
        me.daemon = False
    assert done is not None
    assert done.returncode != 0  # ran: not a DVC repository


def test_other_commands_and_cold_runs_go_to_the_subprocess_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="runs only git and dvc"):
        run_stoppable(tmp_path, ("ls",), stop=never)
    done = run_stoppable(tmp_path, ("git", "--version"), stop=never)
    assert done is not None
    assert done.out.startswith("git version")
    monkeypatch.setenv("CONVEYOR_COLD", "1")
    monkeypatch.setenv("PATH", str(tmp_path))  # a new process needs dvc on PATH; a fork not
    with pytest.raises(Exception, match="the 'dvc' command is not installed"):
        run_stoppable(tmp_path, ("dvc", "root"), stop=never)
    monkeypatch.setenv("CONVEYOR_COLD", "0")
    assert _dvc_forkserver.run_stoppable(tmp_path, ("dvc", "root"), stop=never) is not None


FALLBACK = """\
import sys
from pathlib import Path
from conveyor.experiments import _dvc_forkserver

if __name__ == "__main__":
    never = lambda: False
    for attempt in range(2):
        done = _dvc_forkserver.run_stoppable(Path(sys.argv[1]), ("dvc", "root"), stop=never)
        print(done.returncode, "not inside of a DVC repository" in done.output)
        if attempt == 0:  # from now on a new process, without trying the server again
            def tried(*args):
                raise AssertionError("the fork server was tried again")
            _dvc_forkserver._start = tried
    print(_dvc_forkserver._unavailable.is_set())
"""


def test_where_the_fork_server_cannot_start_dvc_runs_as_a_new_process(tmp_path: Path) -> None:
    """Its socket lives under TMPDIR: a path too long for a Unix socket (as a Dask worker's
    temporary directory can be) must not fail the trial."""
    deep = tmp_path / ("t" * 60) / ("m" * 60)
    deep.mkdir(parents=True)
    env = {**os.environ, "TMPDIR": str(deep), "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    done = subprocess.run(
        [sys.executable, "-c", FALLBACK, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, second, unavailable = done.stdout.splitlines()
    assert first == second  # the second call went straight to a new process, and ran
    assert first.endswith(" True")  # dvc ran in tmp_path: not a DVC repository
    assert int(first.split()[0]) != 0
    assert unavailable == "True"


MAIN_RUN_AGAIN = """\
import sys
from pathlib import Path

with open(sys.argv[2], "a") as runs:  # each time this file runs: as the script, or again
    print(__name__, file=runs)

if __name__ == "__main__":
    from conveyor.experiments import _dvc_forkserver

    for _ in range(3):
        done = _dvc_forkserver.run_stoppable(Path(sys.argv[1]), ("dvc", "root"), stop=bool)
        assert done is not None and "not inside of a DVC repository" in done.output, done
    print(sys.modules["__main__"].__file__ == __file__)
"""


def test_a_child_does_not_run_the_main_module_again(tmp_path: Path) -> None:
    """multiprocessing would run the starter's main module in every child (a Dask worker's
    script, with its imports) before DVC: 0.4 s of CPU per trial on a running cluster."""
    script, runs = tmp_path / "worker_main.py", tmp_path / "runs"
    script.write_text(MAIN_RUN_AGAIN, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path), str(runs)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert runs.read_text().splitlines() == ["__main__"]  # not once more per dvc process
    assert done.stdout.split() == ["True"]  # and the starter's main module is back in place


def test_the_child_leaves_the_objects_it_inherited_to_be_shared(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The fork server's child freezes what it inherited before DVC runs, as a queue worker's
    trial does: ``_become`` in a real fork of this process, DVC's ``main`` a stand-in."""
    import gc

    import dvc.cli

    from tests.unit.experiments.test_forked_trial import (
        _collector_counts,
        report_collector_counts,
    )

    monkeypatch.setattr(dvc.cli, "main", report_collector_counts)
    inherited = len(gc.get_objects())
    log = tmp_path / "dvc.log"
    pid = os.fork()
    if pid == 0:  # the fork server's child, as multiprocessing runs _become there
        code = 70
        try:
            _dvc_forkserver._become(str(tmp_path), ["dvc", "version"], dict(os.environ), str(log))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, log.read_text()
    unfrozen, frozen = _collector_counts(log.read_text())
    assert frozen >= 0.9 * inherited  # (a few may have been freed since)
    assert unfrozen < inherited / 10
