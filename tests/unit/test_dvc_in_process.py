"""``dvc()`` in process (tests/dvc_in_process.py) answers as the ``dvc`` console script does."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests import dvc_in_process
from tests.conftest import VENV_BIN, dvc, git_dvc_repo

ECHO_STAGE = (
    "stages:\n  hello:\n"
    "    cmd: echo stage-output > out.txt && echo stage-said-hi\n    outs: [out.txt]\n"
)


def console_script(*args: str, cwd: Path) -> tuple[int, str, str]:
    done = subprocess.run(
        [VENV_BIN / "dvc", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return git_dvc_repo(tmp_path / "p", {"dvc.yaml": ECHO_STAGE, ".gitignore": ""})


def test_reads_and_errors_exit_and_print_as_the_console_script(project: Path) -> None:
    cases = [
        ("status",),
        ("status", "--json"),
        ("status", "no-such-stage"),  # an error: exit 255 and a message on stderr
        ("metrics", "show"),
        ("params", "diff", "--all"),
        ("no-such-verb",),  # the parser's error, exit 254
        ("status", "--help"),  # argparse exits
    ]
    for args in cases:
        code, out, err, hung = dvc_in_process.run(args, project, hang_seconds=60)
        assert (code, out, err, hung) == (*console_script(*args, cwd=project), False), args


def test_a_stage_s_own_output_is_captured_after_dvc_s_line_for_it(project: Path) -> None:
    code, out, _, _ = dvc_in_process.run(("repro",), project, hang_seconds=60)
    assert code == 0
    assert (project / "out.txt").read_text() == "stage-output\n"
    assert out.index("Running stage 'hello'") < out.index("stage-said-hi")


def test_quiet_stays_quiet_after_a_call_that_printed(project: Path) -> None:
    assert dvc_in_process.run(("status",), project, hang_seconds=60)[1]  # the stage changed
    quiet = dvc_in_process.run(("status", "-q"), project, hang_seconds=60)
    assert quiet == (1, "", "", False) == (*console_script("status", "-q", cwd=project), False)


def test_the_process_is_left_as_it_was(project: Path, tmp_path: Path) -> None:
    handlers = [(h, getattr(h, "stream", None)) for h in logging.getLogger("dvc").handlers]
    cwd, fds = Path.cwd(), len(os.listdir("/proc/self/fd"))
    dvc_in_process.run(("status", "no-such-stage"), project, hang_seconds=60)
    assert Path.cwd() == cwd
    assert len(os.listdir("/proc/self/fd")) == fds
    assert [(h, getattr(h, "stream", None)) for h in logging.getLogger("dvc").handlers] == handlers


def test_a_hung_stage_is_killed_and_reported(project: Path) -> None:
    (project / "dvc.yaml").write_text("stages:\n  hang:\n    cmd: sleep 600\n")
    started = time.monotonic()
    code, _, _, hung = dvc_in_process.run(("repro",), project, hang_seconds=2)
    assert hung
    assert code != 0
    assert time.monotonic() - started < 300  # killed, not waited for: the stage sleeps 600 s
    assert not [p for p in psutil.Process().children(recursive=True) if "sleep" in p.name()]


def test_only_daemon_free_verbs_from_the_main_thread_run_in_process(monkeypatch) -> None:
    assert dvc_in_process.runs_in_process(("repro", "-f", "train"))
    assert dvc_in_process.runs_in_process(("-q", "status"))
    assert not dvc_in_process.runs_in_process(("exp", "run"))  # queue daemons fork the caller
    assert not dvc_in_process.runs_in_process(("queue", "start"))
    assert not dvc_in_process.runs_in_process(("--cd", "sub", "status"))
    monkeypatch.setenv(dvc_in_process.PROCESS_ENV, "1")
    assert not dvc_in_process.runs_in_process(("status",))


def test_the_slow_rule_still_sees_an_in_process_repro(project: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"starts 'dvc repro' but is not marked slow"):
        dvc("repro", cwd=project)
    assert not (project / "out.txt").exists()
