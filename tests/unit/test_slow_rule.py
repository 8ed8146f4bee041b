"""The slow rule (docs/testing.md): outside ``slow``, no test starts a stage's work."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.conftest import STAGE_WORK, VENV_BIN, conveyor, conveyor_warm, stage_work

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        ([VENV_BIN / "dvc", "repro"], "dvc repro"),
        (["dvc", "--cd", "sub", "exp", "run", "-S", "seed=1"], "dvc exp"),
        (["dvc", "-C", "repro", "status"], None),  # 'repro' is the directory here
        ([str(VENV_BIN / "conveyor"), "-v", "score", "m", "x.csv"], "conveyor score"),
        ([sys.executable, "-m", "conveyor", "serve", "m"], "conveyor serve"),
        ([b"conveyor", b"run", b"train"], "conveyor run"),
        (["conveyor", "compile", "model=random_forest"], None),
        (["conveyor", "registry", "promote", "m", "v1.0.0"], None),
        (["conveyor", "explain", "run"], None),  # only the verb counts
        (["dvc", "status"], None),
        (["git", "repro"], None),
        ([sys.executable, "-c", "pass", "exp"], None),
        (["conveyor"], None),
    ],
)
def test_stage_work_names_the_command_that_makes_a_test_slow(
    argv: list[str], command: str | None
) -> None:
    assert stage_work(argv) == command


def test_every_stage_verb_counts() -> None:
    for program, verbs in STAGE_WORK.items():
        for verb in verbs:
            assert stage_work([program, verb]) == f"{program} {verb}"


def test_a_fast_test_that_starts_dvc_repro_fails_before_it_runs(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"starts 'dvc repro' but is not marked slow"):
        subprocess.run([VENV_BIN / "dvc", "repro"], cwd=tmp_path, check=False)
    with pytest.raises(pytest.fail.Exception, match=r"starts 'conveyor score' but is not"):
        subprocess.run(f"{VENV_BIN / 'conveyor'} score m x.csv".split(), check=False)


def test_a_fast_test_that_forks_stage_work_from_the_warm_server_fails_too(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"starts 'conveyor score' but is not"):
        conveyor_warm("score", "m", "x.csv", cwd=tmp_path, check=False)


def test_a_fast_test_may_start_compile_level_commands(tmp_path: Path) -> None:
    done = subprocess.run(
        [VENV_BIN / "conveyor", "--version"], cwd=tmp_path, capture_output=True, check=False
    )
    assert done.returncode == 0


@pytest.mark.slow
def test_a_slow_test_may_start_stage_work(tmp_path: Path) -> None:
    done = subprocess.run(
        [VENV_BIN / "dvc", "exp", "--help"], cwd=tmp_path, capture_output=True, check=False
    )
    assert done.returncode == 0


@pytest.mark.slow
def test_conveyor_warm_exits_and_prints_as_the_console_script(tmp_path: Path) -> None:
    """Same exit code, stdout and stderr as the console script, for an error and a success."""
    for args in (["score", "no-such-model", "x.csv"], ["compile", "--check"], ["--version"]):
        warm = conveyor_warm(*args, cwd=tmp_path, check=False)
        cold = conveyor(*args, cwd=tmp_path, check=False)
        assert (warm.returncode, warm.stdout, warm.stderr) == (
            cold.returncode,
            cold.stdout,
            cold.stderr,
        ), args
    assert warm.returncode == 0
    assert warm.stdout.strip()


def test_a_command_that_hangs_is_killed_and_fails_its_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tests.conftest

    monkeypatch.setattr(tests.conftest, "HANG_SECONDS", 0.5)
    with pytest.raises(pytest.fail.Exception, match=r"sleep 30 still ran after 0.5 s: killed"):
        tests.conftest.sh("sh", "-c", "echo started; sleep 30")
