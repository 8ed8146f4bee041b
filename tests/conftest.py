"""Shared fixtures: real git + DVC projects in tmp dirs, initialised once per session and copied."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

os.environ["DVC_NO_ANALYTICS"] = "1"
os.environ["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"  # dvc runs `conveyor`
os.environ.setdefault("GIT_AUTHOR_NAME", "conveyor-tests")
os.environ.setdefault("GIT_AUTHOR_EMAIL", "tests@conveyor.invalid")
os.environ.setdefault("GIT_COMMITTER_NAME", "conveyor-tests")
os.environ.setdefault("GIT_COMMITTER_EMAIL", "tests@conveyor.invalid")


def sh(
    *args: str | Path, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a real command; on failure show its output in the assertion message."""
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done


def commit_all(root: Path, message: str) -> None:
    """Stage everything in ``root`` and commit it, as a user does after ``dvc repro``."""
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", message, cwd=root)


def conveyor(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The installed ``conveyor`` console script, as users run it."""
    return sh(VENV_BIN / "conveyor", *args, cwd=cwd, check=check)


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real ``dvc`` command."""
    return sh(VENV_BIN / "dvc", *args, cwd=cwd, check=check)


@pytest.fixture(scope="session")
def project_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repo's default project (conf/ only) in a fresh git + DVC repo with hydra enabled."""
    root = tmp_path_factory.mktemp("template") / "project"
    root.mkdir()
    shutil.copytree(REPO / "conf", root / "conf")
    sh("git", "init", "-q", "-b", "main", cwd=root)
    dvc("init", "-q", cwd=root)
    dvc("config", "core.analytics", "false", cwd=root)
    dvc("config", "hydra.enabled", "true", cwd=root)
    # A smaller model keeps the end-to-end tests quick; the default project is unchanged.
    xgb = root / "conf" / "model" / "xgboost.yaml"
    xgb.write_text(xgb.read_text().replace("n_estimators: 300", "n_estimators: 40"))
    conveyor("compile", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "init", cwd=root)
    return root


@pytest.fixture
def project(project_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the template project; the test runs inside it."""
    root = tmp_path / "project"
    shutil.copytree(project_template, root, symlinks=True)
    monkeypatch.chdir(root)
    return root
