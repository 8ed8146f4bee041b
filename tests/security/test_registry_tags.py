"""Tampered registry tags: a moved or re-created version tag is caught, reported and refused.

A version tag ``name@vX.Y.Z`` is a release: its message records the commit it was registered
at, and every stage tag records the version (its commit and tag object) it was given. These
tests move and re-create tags with plain ``git tag`` in a real trained project and check that
``list``/``show``/``verify`` report it, and that serve, score, promote and register refuse a
moved version with one consistent message.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path  # noqa: TC003 - fixtures' annotations
from typing import Any

import pytest

from conveyor.registry import RegistryError, resolve
from tests.conftest import VENV_BIN, conveyor_warm, sh
from tests.trained_pair import trained_pair

pytestmark = pytest.mark.slow
NAME = "diagnostics"
V1 = f"{NAME}@v1.0.0"


@pytest.fixture(scope="module")
def trained(reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two trained, blessed, committed models: A (HEAD~1, 40 trees) and B (HEAD, 30 trees), the
    run's shared ``trained_pair``; A registered as v1.0.0 and promoted to prod (once: the tags
    are in .git, which each test's copy carries)."""
    root = tmp_path_factory.mktemp("tags") / "project"
    shutil.copytree(trained_pair(reproduced_template, tmp_path_factory), root, symlinks=True)
    _registry(root, "register", NAME, "--ref", "HEAD~1")
    _registry(root, "promote", NAME, "v1.0.0", "--to", "prod")
    return root


@pytest.fixture
def repo(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``trained``: model A registered as v1.0.0 and promoted to prod."""
    root = tmp_path / "project"
    shutil.copytree(trained, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


def _registry(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return conveyor_warm("registry", *args, cwd=root, check=check)


def _json(root: Path, *args: str) -> Any:
    return json.loads(_registry(root, *args, "--json").stdout)


def _git(root: Path, *args: str) -> str:
    return sh("git", *args, cwd=root).stdout.strip()


def _rev(root: Path, rev: str) -> str:
    return _git(root, "rev-parse", f"{rev}^{{commit}}")


def _message(root: Path, tag: str) -> str:
    return _git(root, "tag", "-l", "--format=%(contents)", tag)


def _later() -> None:
    """Git stores tag times in whole seconds; make the next tag visibly newer: every tag so far
    was made in this second or before, so the next one, made after it ends, is newer."""
    time.sleep(1.01 - time.time() % 1.0)


def _error(done: subprocess.CompletedProcess[str]) -> str:
    """The ``error: ...`` line a refused command printed (the where: what part)."""
    lines = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert lines, done.stderr
    return lines[0]


def _serve(root: Path, ref: str) -> subprocess.CompletedProcess[str]:
    """``conveyor serve REF``; a server that starts (instead of refusing) fails the test."""
    try:
        return conveyor_warm("serve", ref, "--port", "0", cwd=root, check=False, timeout=90)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(
            f"'conveyor serve {ref}' started serving a moved version:\n"
            f"{expired.stdout!r}\n{expired.stderr!r}"
        )


def _move_v1_to_model_b(root: Path, message: str | None = None) -> tuple[str, str]:
    """``git tag -f -a`` the version tag onto model B; (registered commit, new commit)."""
    old, new = _rev(root, V1), _rev(root, "HEAD")
    _later()
    _git(root, "tag", "-f", "-a", V1, "-m", message or "register diagnostics v1.0.0", new)
    return old, new


# -- moved: the version tag now names another commit (another model) ------------------------


def test_register_records_the_commit_and_promote_the_version_tag(repo: Path) -> None:
    commit = _rev(repo, V1)
    assert f"conveyor-commit: {commit}" in _message(repo, V1)
    stage = _message(repo, f"{NAME}#prod#1")
    assert "conveyor-version: v1.0.0" in stage
    assert f"conveyor-commit: {commit}" in stage
    assert f"conveyor-version-tag: {_git(repo, 'rev-parse', V1)}" in stage
    shown = json.loads(sh(VENV_BIN / "gto", "show", "--json", cwd=repo).stdout)
    assert shown[NAME]["stage"] == {"prod": "v1.0.0"}  # still plain GTO tags


def test_moved_version_tag_is_reported_by_list_show_and_verify(repo: Path) -> None:
    old, new = _move_v1_to_model_b(repo)

    (listed,) = _json(repo, "list")
    assert listed["stages"] == {"prod": "v1.0.0"}
    kinds = {(p["kind"], p["tag"]) for p in listed["problems"]}
    assert ("moved", V1) in kinds
    table = _registry(repo, "list")
    assert "v1.0.0 (moved)" in table.stdout
    assert f"warning: {V1}: tag moved: it points at commit {new[:7]}" in table.stderr

    shown = _json(repo, "show", NAME)
    assert any(p["kind"] == "moved" and p["version"] == "v1.0.0" for p in shown["problems"])
    assert "moved" in _registry(repo, "show", NAME).stdout

    for ref in (V1, f"{NAME}#prod", NAME):
        done = _registry(repo, "verify", ref, check=False)
        assert done.returncode == 1, (ref, done.stdout)
        assert "OK" not in done.stdout
        assert f"error: {V1}: tag moved: it points at commit {new[:7]}" in done.stderr
        assert f"'{NAME}#prod#1' promoted it to 'prod' at commit {old[:7]}" in done.stderr
        assert f"git tag -f -a {V1}" in done.stderr  # the fix names the command
        assert old[:7] in done.stderr.split("fix:", 1)[1]


def test_serve_score_and_promote_refuse_a_moved_version(repo: Path) -> None:
    _move_v1_to_model_b(repo)
    verified = _registry(repo, "verify", V1, check=False)
    served = _serve(repo, V1)
    served_stage = _serve(repo, f"{NAME}#prod")
    scored = conveyor_warm(
        "score",
        f"{NAME}#prod",
        "data/split/test.parquet",
        "-o",
        "out.parquet",
        cwd=repo,
        check=False,
    )
    promoted = _registry(repo, "promote", NAME, "v1.0.0", "--to", "staging", check=False)
    for done in (verified, served, served_stage, scored, promoted):
        assert done.returncode == 1, done.stderr
        assert "moved" in _error(done)
        assert "fix:" in done.stderr
    # one message everywhere: the same where and what, whichever command found it
    assert len({_error(d) for d in (verified, served, served_stage, scored, promoted)}) == 1
    assert not (repo / "out.parquet").exists()
    assert _git(repo, "tag", "-l", f"{NAME}#staging*") == ""
    with pytest.raises(RegistryError, match="tag moved: it points at commit"):
        resolve(repo, f"{NAME}#prod")


def test_moved_tag_keeping_its_message_is_caught_without_any_stage(repo: Path) -> None:
    _git(repo, "tag", "-d", f"{NAME}#prod#1")  # no stage tag to cross-check against
    old, new = _move_v1_to_model_b(repo, message=_message(repo, V1))
    done = _registry(repo, "verify", V1, check=False)
    assert done.returncode == 1
    assert f"{V1}: tag moved: it points at commit {new[:7]}, but it was registered at commit " in (
        done.stderr
    )
    assert f"at commit {old[:7]} (as its message records)" in done.stderr


def test_moved_tag_written_by_an_older_conveyor_is_caught(repo: Path) -> None:
    """Tags registered before this fix record the short commit in their first line only."""
    _git(repo, "tag", "-d", f"{NAME}#prod#1")
    old = _rev(repo, V1)
    _move_v1_to_model_b(repo, message=f"register diagnostics v1.0.0 (commit {old[:7]})")
    done = _registry(repo, "verify", V1, check=False)
    assert done.returncode == 1
    assert f"registered at commit {old[:7]}" in done.stderr


def test_version_tag_moved_with_a_forged_message_is_caught_by_its_stage(repo: Path) -> None:
    new = _rev(repo, "HEAD")
    _move_v1_to_model_b(repo, message=f"register\n\nconveyor-commit: {new}")
    for ref in (V1, f"{NAME}#prod"):
        done = _registry(repo, "verify", ref, check=False)
        assert done.returncode == 1, ref
        assert "moved" in _error(done)
        assert f"{NAME}#prod#1" in done.stderr  # the stage tag that still records the old commit


def test_moved_stage_tag_is_refused(repo: Path) -> None:
    _registry(repo, "register", NAME, "--ref", "HEAD")  # v1.0.1 at model B
    stage_tag = f"{NAME}#prod#1"
    _git(repo, "tag", "-f", "-a", stage_tag, "-m", _message(repo, stage_tag), "HEAD")
    done = _registry(repo, "verify", f"{NAME}#prod", check=False)
    assert done.returncode == 1  # today: prod silently became v1.0.1
    assert f"{stage_tag}: tag moved: it points at commit" in _error(done)
    assert "moved" in _error(done)
    assert _registry(repo, "verify", V1).returncode == 0  # the version itself is intact


# -- re-created at the same commit: same content, reported, stages keep resolving ----------


@pytest.mark.parametrize("how", ["delete-and-create", "force"])
def test_recreated_version_tag_keeps_its_stages_and_is_reported(repo: Path, how: str) -> None:
    commit = _rev(repo, V1)
    _later()
    if how == "delete-and-create":
        _git(repo, "tag", "-d", V1)
        _git(repo, "tag", "-a", V1, "-m", "register diagnostics v1.0.0", commit)
    else:  # the same message, so only the tag object tells
        _git(repo, "tag", "-f", "-a", V1, "-m", _message(repo, V1), commit)

    (listed,) = _json(repo, "list")
    assert listed["stages"] == {"prod": "v1.0.0"}  # today: the commit, '...'
    assert [(p["kind"], p["tag"], p["stage"]) for p in listed["problems"]] == [
        ("re-created", V1, "prod")
    ]
    assert resolve(repo, f"{NAME}#prod").version == "v1.0.0"
    done = _registry(repo, "verify", f"{NAME}#prod")
    assert done.stdout.startswith("OK: diagnostics@v1.0.0")
    assert f"warning: {V1}: tag re-created after it was promoted to 'prod'" in done.stderr
    assert "same commit" in done.stderr
    assert "re-created" in _registry(repo, "show", NAME).stdout

    # the warning's fix works: promoting again records the tag as it is now
    _registry(repo, "promote", NAME, "v1.0.0", "--to", "prod")
    assert _json(repo, "list")[0]["problems"] == []
    again = _registry(repo, "promote", NAME, "v1.0.0", "--to", "prod", check=False)
    assert "already holds stage 'prod'" in again.stderr


def test_stage_of_a_deleted_version_tag_says_which_version_and_why(repo: Path) -> None:
    _git(repo, "tag", "-d", V1)
    done = _registry(repo, "verify", f"{NAME}#prod", check=False)
    assert done.returncode == 1
    # today: "no registered version '<commit>'" while listing 'v1.0.0' as registered
    assert f"'prod' holds v1.0.0, but tag '{V1}' no longer exists" in done.stderr
    (listed,) = _json(repo, "list")
    assert listed["stages"] == {"prod": "v1.0.0"}
    assert [p["kind"] for p in listed["problems"]] == ["deleted"]


# -- register never re-creates a version, nor hides a moved one ------------------------------


def test_register_refuses_to_recreate_or_hide_a_version_tag(repo: Path) -> None:
    twice = _registry(repo, "register", NAME, "--ref", "HEAD", "--version", "v1.0.0", check=False)
    assert twice.returncode == 1
    assert f"'{V1}' is already registered" in twice.stderr

    old, _ = _move_v1_to_model_b(repo)
    hidden = _registry(repo, "register", NAME, "--ref", old, check=False)
    assert hidden.returncode == 1  # today: registers v1.0.1 at A, and the move goes unseen
    assert "moved" in _error(hidden)
    assert _git(repo, "tag", "-l", f"{NAME}@v1.0.1") == ""
