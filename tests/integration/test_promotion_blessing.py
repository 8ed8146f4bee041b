"""Promotion reads the blessing the real gate stage committed, and nothing else blesses a version.

Three commits of one real project, each blessing written by the ``gate`` stage itself (no
hand-written stub): the model's own blessing (HEAD~2); no ``reports/blessing.json`` at all
(HEAD~1); the blessing the gate wrote for another model, 'other': the same conf/ and metrics
under another ``project.name`` (HEAD). The oracle is the committed file read with ``git show``.
"""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING

import pytest

from tests.conftest import commit_all, conveyor, conveyor_in_process, dvc, sh

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow
NAME = "diagnostics"
BLESSING = "reports/blessing.json"


def _committed_blessing(root: Path, ref: str) -> dict | None:
    shown = sh("git", "show", f"{ref}:{BLESSING}", cwd=root, check=False)
    return json.loads(shown.stdout) if shown.returncode == 0 else None


@pytest.fixture(scope="module")
def history(reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("blessing") / "project"
    shutil.copytree(reproduced_template, root, symlinks=True)  # as ``dvc repro`` left it
    commit_all(root, "model, blessed by the gate")

    # The gate's blessing of another model: same conf/, project.name 'other'.
    config = root / "conf" / "config.yaml"
    original = config.read_text()
    config.write_text(original.replace("name: diagnostics", "name: other"))
    conveyor_in_process("compile", cwd=root)
    dvc("repro", "-q", "--single-item", "gate", cwd=root)  # the gate alone: 'other' needs no model
    others = (root / BLESSING).read_text()
    sh("git", "checkout", "-q", "--", ".", cwd=root)  # this tmp project only
    sh("git", "clean", "-qfd", "--", "conf", "reports", "dvc.yaml", "params.yaml", cwd=root)

    sh("git", "rm", "-q", BLESSING, cwd=root)
    commit_all(root, "same model, blessing.json deleted")
    (root / BLESSING).write_text(others)
    commit_all(root, "same model, the other model's blessing")
    return root


@pytest.fixture
def repo(history: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(history, root, symlinks=True)
    return root


def _promote(root: Path, version: str, *extra: str) -> tuple[int, str]:
    done = conveyor(
        "registry", "promote", NAME, version, "--to", "prod", *extra, cwd=root, check=False
    )
    return done.returncode, done.stdout + done.stderr


def _stage_tags(root: Path) -> list[str]:
    return sh("git", "tag", "-l", f"{NAME}#*", cwd=root).stdout.split()


def test_the_commits_hold_what_the_gate_wrote(history: Path) -> None:
    own = _committed_blessing(history, "HEAD~2")
    assert own is not None
    assert (own["model"], own["blessed"]) == (NAME, True)
    assert _committed_blessing(history, "HEAD~1") is None
    other = _committed_blessing(history, "HEAD")
    assert other is not None
    assert (other["model"], other["blessed"]) == ("other", True)
    assert all(check["passed"] for check in other["checks"])


def test_a_version_blessed_by_its_own_gate_is_promoted(repo: Path) -> None:
    conveyor("registry", "register", NAME, "--ref", "HEAD~2", cwd=repo)
    code, out = _promote(repo, "v1.0.0")
    assert code == 0, out
    assert _stage_tags(repo) == [f"{NAME}#prod#1"]


def test_a_version_without_a_committed_blessing_is_refused_unless_forced(repo: Path) -> None:
    conveyor("registry", "register", NAME, "--ref", "HEAD~1", cwd=repo)
    code, out = _promote(repo, "v1.0.0")
    assert code == 1
    assert "Traceback" not in out
    assert f"error: {BLESSING} at commit " in out
    assert f"'{NAME}@v1.0.0' is not blessed: {BLESSING} is missing or unreadable" in out
    assert _stage_tags(repo) == []

    code, out = _promote(repo, "v1.0.0", "--force")
    assert code == 0, out
    message = sh("git", "tag", "-l", "--format=%(contents)", f"{NAME}#prod#1", cwd=repo).stdout
    assert f"conveyor-forced: unblessed: {BLESSING} is missing" in message


def test_a_version_holding_another_models_blessing_is_refused(repo: Path) -> None:
    conveyor("registry", "register", NAME, "--ref", "HEAD", cwd=repo)
    code, out = _promote(repo, "v1.0.0")
    assert code == 1
    assert "Traceback" not in out
    assert f"'{NAME}@v1.0.0' is not blessed: the blessing is for model 'other'" in out
    assert _stage_tags(repo) == []
