"""``run_stoppable``: a command and everything it started end when the caller calls it off."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from conveyor import _git
from conveyor.errors import CommandNotFoundError, GitError
from tests.conftest import running_with

if TYPE_CHECKING:
    from pathlib import Path


def test_stop_ends_the_command_and_the_processes_it_started(tmp_path: Path) -> None:
    marker = f"{time.time_ns() % 10**9}"
    # git runs the alias through a shell, which starts a grandchild that ignores SIGTERM
    alias = f"alias.slow=!sh -c 'trap \"\" TERM; sleep 1{marker}; true' && true"
    asked: list[float] = []
    start = time.monotonic()

    def stop() -> bool:
        asked.append(time.monotonic())
        return bool(running_with(f"sleep 1{marker}"))  # once the grandchild runs

    done = _git.run_stoppable(tmp_path, ("git", "-c", alias, "slow"), stop=stop, grace=0.5)
    assert done is None
    assert time.monotonic() - start < 60
    assert len(asked) >= 1
    assert running_with(f"sleep 1{marker}") == []  # SIGKILL after the grace: nothing runs on


def test_a_command_that_ends_returns_its_result(tmp_path: Path) -> None:
    done = _git.run_stoppable(tmp_path, ("git", "--version"), stop=lambda: False)
    assert done is not None
    assert done.returncode == 0
    assert done.out.startswith("git version")


def test_it_refuses_and_reports_as_run_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same refusals as ``_git.run``: not git or dvc, a missing folder, no dvc on PATH."""
    never = lambda: False  # noqa: E731 - the caller never calls it off here
    with pytest.raises(ValueError, match="runs only git and dvc"):
        _git.run_stoppable(tmp_path, ("ls",), stop=never)
    with pytest.raises(GitError, match="'git status' could not start") as raised:
        _git.run_stoppable(tmp_path / "gone", ("git", "status"), stop=never)
    assert raised.value.fix is not None
    assert "exists" in raised.value.fix
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CommandNotFoundError, match="the 'dvc' command is not installed"):
        _git.run_stoppable(tmp_path, ("dvc", "exp", "run"), stop=never)
