"""A run-cache entry a killed trial left half-written no longer fails the trial that reruns it.

Real ``git`` and ``dvc`` in a tmp project. DVC saves a run-cache entry as ``.<token>.tmp`` in
the entry's folder and renames it; its loader takes the newest file of the folder. A process
killed between the two (an interrupted sweep's trial) leaves the file, and the next ``dvc
repro`` of that stage on those inputs fails with "failed to reproduce 's': 'outs'": a resumed
sweep's trial did, in the suite. A queue worker removes such files before each trial
(``_queue_worker.drop_half_written_run_cache``), leaving any that may be a save in progress.
"""

from __future__ import annotations

import os
import subprocess
import time
from typing import TYPE_CHECKING

import pytest

from conveyor.experiments import _forked_trial
from conveyor.experiments._queue_worker import drop_half_written_run_cache
from tests.conftest import VENV_BIN

if TYPE_CHECKING:
    from pathlib import Path

STAGE = """\
stages:
  s:
    cmd: python -c "import yaml; print(yaml.safe_load(open('params.yaml'))['a'])" > out.txt
    params: [a]
    outs: [out.txt]
"""
pytestmark = pytest.mark.slow  # real dvc repro and dvc exp processes


def _dvc(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    return subprocess.run(
        [str(VENV_BIN / "dvc"), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A DVC project whose stage ran with a=1 and a=2 (two run-cache entries), now at a=1."""
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    _dvc(tmp_path, "init", "-q")
    (tmp_path / "dvc.yaml").write_text(STAGE)
    for value in (1, 2):
        (tmp_path / "params.yaml").write_text(f"a: {value}\n")
        _dvc(tmp_path, "repro", "-q")
    (tmp_path / "params.yaml").write_text("a: 1\n")
    return tmp_path


def _entry(project: Path) -> Path:
    """The run-cache entry of the stage at a=1."""
    runs = project / ".dvc" / "cache" / "runs"
    [entry] = [p for p in runs.glob("*/*/*") if "a: 1" in p.read_text()]
    return entry


def test_a_half_written_entry_fails_dvc_until_a_worker_clears_it(project: Path) -> None:
    entry = _entry(project)
    now = time.time()
    os.utime(entry, (now - 20, now - 20))
    text = entry.read_text()
    half = entry.parent / ".killed-mid-save.tmp"
    half.write_text(text[: text.index("outs:")])  # its first lines: no outs yet
    os.utime(half, (now - 10, now - 10))  # the newest file of the folder
    saving = entry.parent / ".saving-now.tmp"
    saving.write_text(text[:10])  # another process's save, in progress

    failed = _dvc(project, "repro", check=False)  # DVC's loader, as a resumed trial met it
    assert failed.returncode != 0
    assert "failed to reproduce 's': 'outs'" in failed.stderr

    removed = drop_half_written_run_cache(str(project / ".dvc" / "cache" / "runs"))
    assert removed == [str(half)]
    assert entry.exists()  # a whole entry stays
    assert saving.exists()  # too new to be anything but a save in progress
    saving.unlink()  # (one that finished would have been renamed)

    done = _dvc(project, "repro")
    assert "Stage 's' is cached - skipping run" in done.stdout  # restored from the entry
    assert (project / "out.txt").read_text() == "1\n"


def test_an_old_enough_file_goes_and_only_tmp_files_do(tmp_path: Path) -> None:
    folder = tmp_path / "ab" / "abcdef"
    folder.mkdir(parents=True)
    now = time.time()
    files = {name: folder / name for name in (".a.tmp", ".b.tmp", "entry", "visible.tmp")}
    for path in files.values():
        path.write_text("cmd: x\n")
        os.utime(path, (now - 5, now - 5))
    os.utime(files[".b.tmp"], (now - 0.5, now - 0.5))
    assert drop_half_written_run_cache(str(tmp_path)) == [str(files[".a.tmp"])]
    assert drop_half_written_run_cache(str(tmp_path), older_than=0.0) == [str(files[".b.tmp"])]
    assert {p.name for p in folder.iterdir()} == {"entry", "visible.tmp"}
    assert drop_half_written_run_cache(str(tmp_path / "missing")) == []


def test_a_worker_runs_its_check_before_each_trial_only(tmp_path: Path) -> None:
    calls: list[str] = []
    worker = _forked_trial._Subprocess(before=lambda: calls.append("checked"))
    with (tmp_path / "log").open("ab") as output:
        other = worker.Popen(["true"], stdout=output)
        assert other.wait() == 0
        assert calls == []
        cold = worker.Popen(
            ["dvc", "exp", "exec-run", "--help"], stdout=output, stderr=subprocess.STDOUT,
            env={**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"},
        )  # fmt: skip
        cold.wait()
    assert calls == ["checked"]
