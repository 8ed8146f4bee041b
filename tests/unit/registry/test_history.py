"""Events read back from real git tags: ordering, trailers, and the history built from them."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

import pytest

from conveyor.registry import RegistryError, champion, history, resolve
from conveyor.registry.tags import read_events

if TYPE_CHECKING:
    from pathlib import Path


def _git(root: Path, *args: str, date: str | None = None) -> str:
    env = {**os.environ, **({"GIT_COMMITTER_DATE": date} if date else {})}
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repo with two commits and GTO tags made by plain ``git tag -a`` (same grammar)."""
    _git(tmp_path, "init", "-q", "-b", "main")
    for n in (1, 2):
        _git(tmp_path, "commit", "-q", "--allow-empty", "-m", f"c{n}")
    same_second = "2030-01-01T00:00:05+0000"
    tags = [  # (tag, target, date, message): the two prod assignments share one second
        ("m@v1.0.0", "HEAD~1", "2030-01-01T00:00:01+0000", "register"),
        ("m@v1.1.0", "HEAD", "2030-01-01T00:00:02+0000", "register"),
        ("m#prod#9", "HEAD~1", same_second, "promote"),
        ("m#prod#10", "HEAD", same_second, "promote\n\nconveyor-forced: unblessed: failed x"),
        (
            "m#prod#11",
            "HEAD~1",
            "2030-01-01T00:00:07+0000",
            "conveyor-action: rollback\n"
            "conveyor-rollback-from: v1.1.0\nconveyor-reason: bad latency",
        ),
        ("other@v0.1.0", "HEAD", "2030-01-01T00:00:03+0000", "register"),
        ("v1.0.0", "HEAD", "2030-01-01T00:00:03+0000", "a release, not a registry tag"),
    ]
    for tag, target, date, message in tags:
        _git(tmp_path, "tag", "-a", tag, target, "-m", message, date=date)
    return tmp_path


def test_events_come_in_time_order_with_gto_counters_breaking_ties(repo: Path) -> None:
    events = read_events(repo, "m")
    # alphabetically 'm#prod#10' sorts before 'm#prod#9': the counter must decide
    assert [e.tag for e in events] == ["m@v1.0.0", "m@v1.1.0", "m#prod#9", "m#prod#10", "m#prod#11"]
    assert {e.name for e in read_events(repo)} == {"m", "other"}


def test_history_names_versions_actions_and_forced_promotions(repo: Path) -> None:
    lines = [(e.action, e.version, e.stage, bool(e.forced), e.note) for e in history(repo, "m")]
    assert lines == [
        ("register", "v1.0.0", None, False, ""),
        ("register", "v1.1.0", None, False, ""),
        ("promote", "v1.0.0", "prod", False, ""),
        ("promote", "v1.1.0", "prod", True, ""),
        ("rollback", "v1.0.0", "prod", False, "from v1.1.0; bad latency"),
    ]


def test_resolve_every_reference_form(repo: Path) -> None:
    head = _git(repo, "rev-parse", "HEAD")
    assert resolve(repo, "m").version == "v1.1.0"
    assert resolve(repo, "m@v1.1.0").commit == head
    prod = resolve(repo, "m#prod")
    assert (prod.version, prod.stage) == ("v1.0.0", "prod")


def test_resolve_explains_what_is_missing(repo: Path) -> None:
    with pytest.raises(RegistryError, match="no version of 'm' is in stage 'staging'"):
        resolve(repo, "m#staging")
    with pytest.raises(RegistryError, match="model 'churn' is not in the registry") as caught:
        resolve(repo, "churn")
    assert "registered models: m, other" in (caught.value.fix or "")


def test_champion_is_none_without_git_or_assignment(repo: Path, tmp_path_factory) -> None:
    assert champion(tmp_path_factory.mktemp("no_git"), "m") is None
    assert champion(repo, "other") is None
    found = champion(repo, "m")
    assert found is not None
    assert (found.version, found.stage, found.metrics) == ("v1.0.0", "prod", {})
