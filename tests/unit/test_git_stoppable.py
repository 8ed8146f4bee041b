"""``run_stoppable``: a command and everything it started end when the caller calls it off."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import psutil

from conveyor import _git

if TYPE_CHECKING:
    from pathlib import Path


def _sleepers(marker: str) -> list[psutil.Process]:
    return [
        process
        for process in psutil.process_iter(["cmdline", "status"])
        if marker in " ".join(process.info["cmdline"] or [])
        and process.info["status"] != psutil.STATUS_ZOMBIE
    ]


def test_stop_ends_the_command_and_the_processes_it_started(tmp_path: Path) -> None:
    marker = f"{time.time_ns() % 10**9}"
    # git runs the alias through a shell, which starts a grandchild that ignores SIGTERM
    alias = f"alias.slow=!sh -c 'trap \"\" TERM; sleep 1{marker}; true' && true"
    asked: list[float] = []
    start = time.monotonic()

    def stop() -> bool:
        asked.append(time.monotonic())
        return bool(_sleepers(f"sleep 1{marker}"))  # once the grandchild runs

    done = _git.run_stoppable(tmp_path, ("git", "-c", alias, "slow"), stop=stop, grace=0.5)
    assert done is None
    assert time.monotonic() - start < 60
    assert len(asked) >= 1
    assert _sleepers(f"sleep 1{marker}") == []  # SIGKILL after the grace: nothing runs on


def test_a_command_that_ends_returns_its_result(tmp_path: Path) -> None:
    done = _git.run_stoppable(tmp_path, ("git", "--version"), stop=lambda: False)
    assert done is not None
    assert done.returncode == 0
    assert done.out.startswith("git version")
