"""kill -9 at chosen points, and a direct run racing ``dvc repro``: nothing is lost or mixed.

The kills are real SIGKILLs of a real ``conveyor run`` process. The kill point is chosen from
outside the product code: the child is the installed CLI started under a Python audit hook
(``TRIPWIRE`` below) that watches the filesystem events the interpreter reports (rename,
replace, remove, rmtree, chmod, open for writing) and kills its own process with SIGKILL at
the N-th such event after the first rename that touches a watched path. ctypes calls are not
audited, so the lookup of libc's ``renameat2`` (or ``syscall``), made just before the call,
counts as that rename. SIGKILL runs no ``finally`` block, exactly like ``kill -9`` from a
shell, and no test hook lives in src/.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from conveyor import _atomic
from conveyor.bundle.manifest import verify_manifest
from tests.conftest import conveyor, dvc, sh

if TYPE_CHECKING:
    from pathlib import Path

BUNDLE = "models/diagnostics"
SPLITS = ("data/split/train.parquet", "data/split/test.parquet")

TRIPWIRE = r"""
import os, signal, sys

watched = [os.path.abspath(p) for p in os.environ["TRIP_PATHS"].split(os.pathsep)]
arm_on = os.environ["TRIP_ON"]  # "rename": a rename touching a watched path; "write": any write
state = {"armed": False, "left": int(os.environ["TRIP_AFTER"])}
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT
RENAMES = {"os.rename", "os.replace"}
MUTATING = RENAMES | {"os.remove", "os.rmdir", "shutil.rmtree", "os.chmod", "open"}

def paths(args):
    for arg in args:
        if isinstance(arg, tuple):
            yield from paths(arg)
        elif isinstance(arg, (str, bytes, os.PathLike)):
            yield os.path.abspath(os.fsdecode(arg))

def touches(args):
    return any(p == w or p.startswith(w + os.sep) for p in paths(args) for w in watched)

def hook(event, args):
    if event == "ctypes.dlsym" and args[1] in ("renameat2", "syscall") and not state["armed"]:
        state["armed"] = True  # ctypes calls are not audited: their lookup, just before, is
        return
    if event not in MUTATING:
        return
    if event == "open" and not (isinstance(args[2], int) and args[2] & WRITE):
        return
    if state["armed"]:
        if state["left"] == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        state["left"] -= 1
    elif (arm_on == "write" or event in RENAMES) and touches(args):
        state["armed"] = True  # this event runs when the hook returns; kill at a later one

sys.addaudithook(hook)
from conveyor.cli.main import main
sys.argv = ["conveyor", *sys.argv[1:]]
sys.exit(main())
"""


def killed_run(
    root: Path, stage: str, watch: tuple[str, ...], after: int, *, arm_on: str = "rename"
) -> int:
    """``conveyor run STAGE``, SIGKILLed at the ``after``-th write after a watched rename.

    ``arm_on="write"`` arms at the first write of any kind under a watched path instead.
    """
    env = {**os.environ, "TRIP_PATHS": os.pathsep.join(str(root / w) for w in watch)}
    env["TRIP_AFTER"], env["TRIP_ON"] = str(after), arm_on
    env.pop("CONVEYOR_WARM_SOCKET", None)  # the tripwire watches this process: no warm child
    done = subprocess.run(
        [sys.executable, "-c", TRIPWIRE, "run", stage],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode


def digest(path: Path) -> dict[str, str]:
    """sha256 of a file, or of every file under a directory, by relative path."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {
        str(p.relative_to(path.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
    }


def leftovers(root: Path) -> list[str]:
    """Hidden temporaries anywhere under the project's output folders."""
    found = []
    for folder in ("data", "models", "reports"):
        for p in (root / folder).rglob(".*"):
            if p.name not in (".gitignore",):
                found.append(str(p.relative_to(root)))
    return sorted(found)


def untracked_hidden(root: Path) -> list[str]:
    """What ``git status`` shows a user of hidden files and folders (.gitignore files aside)."""
    status = sh("git", "status", "--porcelain", "--untracked-files=all", cwd=root).stdout
    names = [line[3:] for line in status.splitlines()]
    return [n for n in names if "/." in f"/{n}" and not n.endswith(".gitignore")]


def set_param(root: Path, old: str, new: str) -> None:
    params = root / "params.yaml"
    text = params.read_text()
    assert old in text
    params.write_text(text.replace(old, new, 1))


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.fixture(scope="module")
def trained_template(reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default project after a real ``dvc repro`` (the run's shared ``reproduced_template``):
    splits and a bundle on disk."""
    root = tmp_path_factory.mktemp("trained") / "project"
    shutil.copytree(reproduced_template, root, symlinks=True)
    return root


@pytest.fixture
def trained(trained_template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(trained_template, root, symlinks=True)
    return root


# -- a directory output (the model bundle) -----------------------------------------------


@pytest.mark.slow
def test_kill_right_after_the_first_rename_of_a_bundle_swap_leaves_a_complete_bundle(
    trained: Path,
) -> None:
    old = digest(trained / BUNDLE)
    set_param(trained, "n_estimators: 40", "n_estimators: 7")  # the new bundle differs
    assert killed_run(trained, "train", (BUNDLE,), after=0) == -signal.SIGKILL
    bundle = trained / BUNDLE
    assert bundle.is_dir(), f"no {BUNDLE} after a kill: {leftovers(trained)}"
    verify_manifest(bundle)  # complete: every file present and as hashed
    assert digest(bundle) != old  # and new: the kill came after the swap
    assert leftovers(trained)  # the old copy, at the temporary name, was not deleted yet
    assert untracked_hidden(trained)

    conveyor("run", "train", cwd=trained)  # the next run cleans it
    assert leftovers(trained) == []
    assert untracked_hidden(trained) == []


@pytest.mark.slow
@pytest.mark.parametrize("after", [1, 2])
def test_kill_while_the_old_bundle_is_deleted_is_cleaned_on_the_next_run(
    trained: Path, after: int
) -> None:
    set_param(trained, "n_estimators: 40", "n_estimators: 7")
    assert killed_run(trained, "train", (BUNDLE,), after=after) == -signal.SIGKILL
    assert (trained / BUNDLE / "pipeline.skops").is_file()
    assert leftovers(trained)
    conveyor("run", "train", cwd=trained)
    assert leftovers(trained) == []


@pytest.mark.slow
def test_a_swapped_bundle_has_the_mode_mkdir_would_give_it(trained: Path) -> None:
    sh("sh", "-c", f"umask 027 && exec {shutil.which('conveyor')} run train", cwd=trained)
    assert stat.S_IMODE((trained / BUNDLE).stat().st_mode) == 0o750
    sh("sh", "-c", f"umask 022 && exec {shutil.which('conveyor')} run train", cwd=trained)
    assert stat.S_IMODE((trained / BUNDLE).stat().st_mode) == 0o755
    assert stat.S_IMODE((trained / BUNDLE / "pipeline.skops").stat().st_mode) == 0o644


def test_directory_and_file_modes_follow_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        with _atomic.atomic_dir(tmp_path / "b") as tmp:
            (tmp / "f").write_text("x")
        _atomic.write_text(tmp_path / "f.txt", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o600
    os.umask(0o002)
    try:
        with _atomic.atomic_dir(tmp_path / "b") as tmp:
            (tmp / "g").write_text("y")
        _atomic.write_text(tmp_path / "f.txt", "y")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o775
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o664
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["g"]


# -- the swap itself, and what the next write repairs ------------------------------------


@pytest.mark.parametrize("via", ["libc", "syscall"])
def test_renameat2_exchanges_two_directories_in_one_step(tmp_path: Path, via: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_text("a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("b")
    assert _atomic._renameat2(tmp_path / "a", tmp_path / "b", via=via) == 0
    assert (tmp_path / "a" / "x").read_text() == "b"
    assert (tmp_path / "b" / "x").read_text() == "a"
    missing = _atomic._renameat2(tmp_path / "a", tmp_path / "nope", via=via)
    assert missing == 2  # ENOENT: nothing to exchange with, nothing moved
    assert (tmp_path / "a" / "x").read_text() == "b"


def test_a_bundle_left_aside_by_a_killed_two_rename_swap_is_put_back(tmp_path: Path) -> None:
    # What a kill between the two renames of the fallback leaves: path missing, old aside.
    aside = tmp_path / f".b.old-{dead_pid()}"
    aside.mkdir()
    (aside / "pipeline.skops").write_text("old")
    half_new = tmp_path / f".b.{dead_pid()}.abcd_123.tmp"
    half_new.mkdir()
    _atomic.recover(tmp_path / "b")
    assert (tmp_path / "b" / "pipeline.skops").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_only_temporaries_of_dead_processes_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "train.parquet"
    target.write_text("current")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        live = tmp_path / f".train.parquet.{sleeper.pid}.abcdefgh.tmp"
        dead = tmp_path / f".train.parquet.{dead_pid()}.abcdefgh.tmp"
        legacy = tmp_path / ".train.parquet.k3j_x9q2.tmp"  # today's names carry no pid
        mine = tmp_path / f".train.parquet.{os.getpid()}.zzzzzzzz.tmp"  # a previous me
        old_dead = tmp_path / f".train.parquet.old-{dead_pid()}"
        sibling = tmp_path / f".test.parquet.{dead_pid()}.abcdefgh.tmp"  # same folder: goes
        other_legacy = tmp_path / ".test.parquet.k3j_x9q2.tmp"  # no pid, not this path's
        users = tmp_path / ".notes.1.tmp"
        for p in (live, dead, legacy, mine, old_dead, sibling, other_legacy, users):
            p.write_text("x")
        _atomic.write_text(target, "new")
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [target.name, live.name, other_legacy.name, users.name]
        )
    finally:
        sleeper.kill()
        sleeper.wait()
    assert target.read_text() == "new"


def test_a_journal_never_moves_anything_outside_its_own_folder(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    secret = tmp_path / "secret"
    secret.write_text("keep")
    journal = tmp_path / "d" / f".conveyor-set.{dead_pid()}.abcdefgh.json"
    journal.write_text(json.dumps({"moves": [["../secret", "x"], [".x.1.abcdefgh.tmp", "../y"]]}))
    _atomic.recover(tmp_path / "d" / "x")
    assert secret.read_text() == "keep"
    assert not (tmp_path / "y").exists()
    assert not (tmp_path / "d" / "x").exists()
    assert not journal.exists()


# -- a stage's outputs as a set (split) ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("after", [0, 1])
def test_a_killed_split_is_all_old_or_all_new_after_the_next_run(
    trained: Path, tmp_path: Path, after: int
) -> None:
    old = {s: digest(trained / s) for s in SPLITS}
    set_param(trained, "seed: 42", "seed: 7")
    reference = tmp_path / "reference"
    shutil.copytree(trained, reference, symlinks=True)
    conveyor("run", "split", cwd=reference)
    new = {s: digest(reference / s) for s in SPLITS}
    assert new != old

    assert killed_run(trained, "split", SPLITS, after=after) == -signal.SIGKILL
    # Any stage that reads the splits first completes or undoes the killed set.
    conveyor("run", "evaluate", cwd=trained)
    now = {s: digest(trained / s) for s in SPLITS}
    assert now in (old, new), "a mix of old and new splits"
    assert leftovers(trained) == []


@pytest.mark.slow
def test_a_split_killed_before_its_commit_keeps_the_old_set(trained: Path) -> None:
    old = {s: digest(trained / s) for s in SPLITS}
    set_param(trained, "seed: 42", "seed: 7")
    # Killed at the second write in data/split/: while the new files are being written.
    assert killed_run(trained, "split", ("data/split",), 0, arm_on="write") == -signal.SIGKILL
    assert leftovers(trained)
    conveyor("run", "evaluate", cwd=trained)
    assert {s: digest(trained / s) for s in SPLITS} == old
    assert leftovers(trained) == []


# -- a direct run while dvc runs ----------------------------------------------------------


def _state(root: Path) -> dict[str, str]:
    return {**digest(root / "data" / "split"), **digest(root / "dvc.lock")}


@pytest.mark.slow
def test_a_direct_run_refuses_while_dvc_repro_runs_a_stage(trained: Path) -> None:
    slow = trained / "slow"
    slow.mkdir()
    os.mkfifo(trained / "go")
    (slow / "dvc.yaml").write_text(
        "stages:\n  wait:\n    cmd: cat ../go > out.txt\n    outs:\n    - out.txt\n"
    )
    set_param(trained, "seed: 42", "seed: 7")  # a direct split would change its outputs
    before = _state(trained)
    repro = subprocess.Popen(
        [shutil.which("dvc") or "dvc", "repro", "-s", "slow/dvc.yaml:wait"],
        cwd=trained,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        fifo = os.open(trained / "go", os.O_WRONLY)  # returns once dvc's stage is reading
        try:
            refused = conveyor("run", "split", cwd=trained, check=False)
        finally:
            os.write(fifo, b"done\n")
            os.close(fifo)
        assert repro.wait(timeout=120) == 0, repro.stdout.read() if repro.stdout else ""
    finally:
        repro.kill()
        repro.wait()
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr.startswith("error: stage 'split': dvc repro is running in this")
    assert ".dvc/tmp/rwlock" in refused.stderr
    assert "fix: wait for it" in refused.stderr
    assert _state(trained) == before
    assert (slow / "out.txt").read_text() == "done\n"


@pytest.mark.slow
def test_a_direct_run_refuses_while_dvc_holds_its_repository_lock(trained: Path) -> None:
    from dvc.lock import make_lock

    set_param(trained, "seed: 42", "seed: 7")
    before = _state(trained)
    lock = make_lock(str(trained / ".dvc" / "tmp" / "lock"))
    lock.lock()
    try:
        refused = conveyor("run", "split", cwd=trained, check=False)
    finally:
        lock.unlock()
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "is running in this repository" in refused.stderr
    assert ".dvc/tmp/lock" in refused.stderr
    assert _state(trained) == before
    conveyor("run", "split", cwd=trained)  # the lock released: the same run goes ahead
    assert _state(trained) != before


@pytest.mark.slow
def test_a_stage_that_dvc_repro_runs_still_runs(trained: Path) -> None:
    set_param(trained, "seed: 42", "seed: 7")
    dvc("repro", "-q", "split", cwd=trained)
    assert dvc("status", "split", "--json", cwd=trained).stdout.strip() in ("{}", "")
    assert leftovers(trained) == []
