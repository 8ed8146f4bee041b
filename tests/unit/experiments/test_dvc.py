"""Reading results out of experiment commits with one real ``git cat-file --batch``."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import pytest

from conveyor.errors import SweepError
from conveyor.experiments._dvc import show_files

if TYPE_CHECKING:
    from pathlib import Path


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_files_of_several_commits_come_back_whole_and_missing_ones_are_left_out(
    tmp_path: Path,
) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "m.json").write_text('{"auc": 0.9}\n\nsecond line ünïcode\n', encoding="utf-8")
    _git(tmp_path, "add", "m.json")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    first = _git(tmp_path, "rev-parse", "HEAD")
    (tmp_path / "m.json").write_text("", encoding="utf-8")  # empty: size 0
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "two")
    second = _git(tmp_path, "rev-parse", "HEAD")

    found = show_files(
        tmp_path, [(first, "m.json"), (first, "absent.json"), (second, "m.json"), (first, "m.json")]
    )

    assert found == {
        (first, "m.json"): '{"auc": 0.9}\n\nsecond line ünïcode\n',
        (second, "m.json"): "",
    }


def test_nothing_asked_runs_nothing(tmp_path: Path) -> None:
    assert show_files(tmp_path, []) == {}  # not a git repository: git is never called


def test_outside_a_repository_git_fails_as_a_sweep_error_with_its_message(tmp_path: Path) -> None:
    with pytest.raises(SweepError, match=r"(?s)reading results failed .*not a git repository"):
        show_files(tmp_path, [("HEAD", "m.json")])
