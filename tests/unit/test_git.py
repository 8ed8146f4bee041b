"""The one runner of git and dvc, conveyor._git: real git, one GitError subtree, no other."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

import pytest

from conveyor import _git
from conveyor.errors import (
    CommandNotFoundError,
    ContinuousTrainingError,
    ConveyorError,
    GitError,
    InitError,
    NotARepositoryError,
    RegistryError,
    RevisionError,
    SweepError,
)
from tests.conftest import REPO, sh

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

SRC = REPO / "src"
RUNNER = "conveyor/_git.py"
RUNS_OTHER_PROGRAMS = {
    "conveyor/components/_image.py": "builds conveyor's wheel with 'python -m pip wheel'",
    "conveyor/cli/warm.py": "starts the stage server and the command given to 'conveyor warm'",
    "conveyor/experiments/_queue_worker.py": "starts DVC's queue workers, polling faster",
    "conveyor/experiments/_forked_trial.py": "passes DVC's own Popen calls through unchanged",
}
"""Modules besides the runner that may import subprocess, and the program each runs."""
_SPAWNERS = {
    "subprocess": {"run", "Popen", "call", "check_call", "check_output", "getoutput"},
    "os": {"system", "popen", "execv", "execvp", "execvpe", "execl", "execlp", "spawnv"},
    "asyncio": {"create_subprocess_exec", "create_subprocess_shell"},
}


def _repo(path: Path) -> Path:
    sh("git", "init", "-q", "-b", "main", cwd=path)
    (path / "a.txt").write_text("one\n", encoding="utf-8")
    sh("git", "add", "a.txt", cwd=path)
    sh("git", "commit", "-qm", "one", cwd=path)
    return path


def _starts_with_git_or_dvc(node: ast.expr) -> bool:
    if isinstance(node, ast.List | ast.Tuple) and node.elts:
        node = node.elts[0]
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.split(" ")[0] in _git.PROGRAMS
    )


def violations(source: str, *, may_import_subprocess: bool) -> list[str]:
    """What in ``source`` runs a program past the runner: ``line: why``."""
    found = []
    aliases: dict[str, str] = {}  # local name -> "module" or "module.function"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name] = alias.name
                if alias.name == "subprocess" and not may_import_subprocess:
                    found.append(f"{node.lineno}: imports subprocess")
        elif isinstance(node, ast.ImportFrom) and node.module in _SPAWNERS:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            if node.module == "subprocess" and not may_import_subprocess:
                found.append(f"{node.lineno}: imports from subprocess")
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            target = f"{aliases.get(func.value.id, func.value.id)}.{func.attr}"
        elif isinstance(func, ast.Name) and "." in aliases.get(func.id, ""):
            target = aliases[func.id]
        else:
            continue
        module, _, name = target.partition(".")
        if name not in _SPAWNERS.get(module, ()):
            continue
        if module != "subprocess" or not may_import_subprocess:
            found.append(f"{node.lineno}: calls {target}")
        elif node.args and _starts_with_git_or_dvc(node.args[0]):
            found.append(f"{node.lineno}: runs git or dvc through {target}")
    return found


def test_only_the_runner_runs_git_or_dvc() -> None:
    """No module but conveyor/_git.py runs a program, except those listed with their reason."""
    modules = {p.relative_to(SRC).as_posix(): p for p in sorted(SRC.rglob("*.py"))}
    assert RUNNER in modules
    assert set(RUNS_OTHER_PROGRAMS) <= set(modules)
    found = {
        name: problems
        for name, path in modules.items()
        if name != RUNNER
        and (
            problems := violations(
                path.read_text(encoding="utf-8"),
                may_import_subprocess=name in RUNS_OTHER_PROGRAMS,
            )
        )
    }
    assert found == {}
    # each listed module still runs its program: the list names no lapsed exception
    for name in RUNS_OTHER_PROGRAMS:
        assert "import subprocess" in modules[name].read_text(encoding="utf-8"), name


@pytest.mark.parametrize(
    ("source", "allowed", "found"),
    [
        ("import subprocess\nsubprocess.run(['git', 'status'])\n", False, 2),
        ("import subprocess as sp\nsp.check_output(('dvc', 'exp', 'show'))\n", True, 1),
        ("from subprocess import run as r\nr(['git'])\n", True, 1),
        ("import subprocess\nsubprocess.Popen('git status', shell=True)\n", True, 1),
        ("import os\nos.system('dvc repro')\n", True, 1),
        ("import asyncio\nasyncio.create_subprocess_exec(cmd)\n", False, 1),
        ("import subprocess\nsubprocess.run([sys.executable, '-m', 'pip'])\n", True, 0),
        ("from conveyor import _git\n_git.run(root, ('git', 'status'))\n", False, 0),
    ],
)
def test_the_scan_finds_every_way_to_run_git(source: str, allowed: bool, found: int) -> None:
    assert len(violations(source, may_import_subprocess=allowed)) == found


def test_git_returns_its_output_and_exit_code(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    head = _git.git(root, "rev-parse", "HEAD")
    assert head.command == ("git", "rev-parse", "HEAD")
    assert head.returncode == 0
    assert len(head.out.strip()) == 40
    assert _git.resolve_commit(root, "main") == head.out.strip()
    assert _git.resolve_commit(root, "no-such-branch") is None
    assert _git.show_file(root, "HEAD", "a.txt") == b"one\n"
    assert _git.show_file(root, "HEAD", "b.txt") is None
    (root / "b.txt").write_text("two\n", encoding="utf-8")
    (root / ".gitignore").write_text("c.txt\n", encoding="utf-8")
    (root / "c.txt").write_text("ignored\n", encoding="utf-8")
    assert _git.ls_files(root) == ["a.txt"]
    assert sorted(_git.ls_files(root, untracked=True)) == [".gitignore", "a.txt", "b.txt"]
    assert _git.ls_files(root, ["b.txt"], untracked=True) == ["b.txt"]


def test_a_failure_is_a_git_error_with_the_command_and_output(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    with pytest.raises(GitError) as info:
        _git.git(root, "rev-parse", "--verify", "no-such-branch")
    error = info.value
    assert type(error) is GitError
    assert isinstance(error, ConveyorError)
    assert error.exit_code == 1
    assert error.command == ("git", "rev-parse", "--verify", "no-such-branch")
    assert error.returncode == 128
    assert "fatal: Needed a single revision" in error.stderr
    assert error.output == error.stdout + error.stderr
    assert str(error).startswith(f"{root}: 'git rev-parse --verify no-such-branch' exited 128:")
    unchecked = _git.git(root, "rev-parse", "--verify", "no-such-branch", check=False)
    assert unchecked.returncode == 128
    assert "fatal: Needed a single revision" in unchecked.err


def test_outside_a_repository_git_says_so(tmp_path: Path) -> None:
    with pytest.raises(NotARepositoryError, match="not a git repository") as info:
        _git.git(tmp_path, "status")
    assert info.value.fix == "run it inside a git repository"
    with pytest.raises(NotARepositoryError):
        _git.cat_file(tmp_path, ["HEAD:a.txt"])
    assert _git.cat_file(tmp_path, []) == {}  # nothing asked: git never runs


def test_a_missing_program_is_command_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    for run in (_git.git, _git.dvc):
        with pytest.raises(CommandNotFoundError, match=r"the '(git|dvc)' command is not installed"):
            run(tmp_path, "--version", check=False)


def test_only_git_and_dvc_run(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="runs only git and dvc"):
        _git.run(tmp_path, ("ls", "-l"))
    with pytest.raises(ValueError, match="runs only git and dvc"):
        _git.run(tmp_path, ())


def test_commands_run_with_empty_stdin_and_dvc_analytics_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DVC_NO_ANALYTICS", raising=False)
    root = _repo(tmp_path)
    env = _git.git(root, "-c", "alias.e=!printenv DVC_NO_ANALYTICS", "e")
    assert env.out == "1\n"
    assert _git.git(root, "-c", "alias.c=!cat", "c").out == ""  # reads stdin: empty, no wait
    fed = _git.git(root, "hash-object", "--stdin", stdin=b"one\n").out.strip()
    assert fed == _git.git(root, "rev-parse", "HEAD:a.txt").out.strip()


def test_a_detached_command_leaves_its_output_in_stdout(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    done = _git.run(root, ("git", "-c", "alias.e=!echo out; echo err >&2", "e"), detach=True)
    assert (done.out, done.stderr) == ("out\nerr\n", b"")
    with pytest.raises(GitError, match="exited 128") as info:
        _git.run(root, ("git", "rev-parse", "--verify", "nope"), detach=True)
    assert "fatal: Needed a single revision" in info.value.stdout


def _registry(root: Path) -> object:
    from conveyor.registry._git import run_git

    return run_git(root, "status")


def _ct(root: Path) -> object:
    from conveyor.ct._workspace import head

    return head(root)


def _sweep(root: Path) -> object:
    from conveyor.experiments._dvc import head

    return head(root)


def _diff(root: Path) -> object:
    from conveyor.review._revision import work_tree

    return work_tree(root)


def _init(root: Path) -> object:
    from conveyor.scaffold._vcs import stage

    stage(root, ["a.txt"])
    return None


@pytest.mark.parametrize(
    ("call", "raised", "message"),
    [
        (_registry, RegistryError, "is not in a git repository, and the registry is git tags"),
        (_ct, ContinuousTrainingError, "reading HEAD failed ('git rev-parse HEAD' exited 128)"),
        (_sweep, SweepError, "reading HEAD failed ('git rev-parse HEAD' exited 128)"),
        (_diff, RevisionError, "is not inside a git repository, so there are no revisions"),
        (_init, InitError, "'git add -- a.txt' failed: fatal: not a git repository"),
    ],
)
def test_each_caller_raises_its_own_error_from_the_git_error(
    tmp_path: Path, call: Callable[[Path], object], raised: type[ConveyorError], message: str
) -> None:
    with pytest.raises(raised) as info:
        call(tmp_path)
    assert type(info.value) is raised
    assert message in str(info.value)
    assert isinstance(info.value.__cause__, NotARepositoryError)


def test_verbose_shows_each_command_with_its_exit_code_and_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`conveyor -v`: what a slow command (a sweep) spends its time on, command by command."""
    import logging
    import re

    with caplog.at_level(logging.DEBUG, logger="conveyor.commands"):
        _git.git(tmp_path, "init", "-q", "my repo")
        _git.git(tmp_path / "my repo", "rev-parse", "HEAD", check=False)
    lines = [r.getMessage() for r in caplog.records if r.name == "conveyor.commands"]
    assert len(lines) == 2
    assert re.fullmatch(r"ran 'git init -q 'my repo'': exit 0 in \d+\.\d\d s", lines[0])
    assert re.fullmatch(r"ran 'git rev-parse HEAD': exit 128 in \d+\.\d\d s", lines[1])
