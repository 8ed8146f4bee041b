"""Shared fixtures: real git + DVC projects in tmp dirs, initialised once per session and copied."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from conveyor import _blas

# As `conveyor` does before anything loads numpy: this process computes outputs in process too
# (profiles, drift, scores) that tests compare with what `conveyor`'s processes and its executor's
# workers compute, and OpenBLAS's kernels would differ between them in the last bits.
_blas.pin()

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

os.environ["DVC_NO_ANALYTICS"] = "1"
os.environ["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"  # dvc runs `conveyor`
os.environ.setdefault("GIT_AUTHOR_NAME", "conveyor-tests")
os.environ.setdefault("GIT_AUTHOR_EMAIL", "tests@conveyor.invalid")
os.environ.setdefault("GIT_COMMITTER_NAME", "conveyor-tests")
os.environ.setdefault("GIT_COMMITTER_EMAIL", "tests@conveyor.invalid")


HANG_SECONDS = 900
"""Longer than any command of the suite takes on a loaded 2-core machine (a sweep: minutes)."""


def sh(
    *args: str | Path, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a real command; on failure show its output in the assertion message.

    One that runs past :data:`HANG_SECONDS` is killed and fails the test: a hung command (a
    ``conveyor score`` once hung at exit) must not stall the whole run.
    """
    try:
        done = subprocess.run(
            [str(a) for a in args],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=HANG_SECONDS,
        )
    except subprocess.TimeoutExpired as hung:
        output = [
            o.decode(errors="replace") if isinstance(o, bytes) else o or ""
            for o in (hung.stdout, hung.stderr)
        ]
        pytest.fail(
            f"{' '.join(map(str, args))} still ran after {HANG_SECONDS} s: killed\n"
            + "\n".join(output)
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


def git_dvc_repo(root: Path, files: dict[str, str] | None = None) -> Path:
    """``root`` made a git + DVC repository holding ``files`` (path -> text), all committed."""
    root.mkdir(parents=True)
    sh("git", "init", "-q", cwd=root)
    dvc("init", "-q", cwd=root)
    for name, text in (files or {}).items():
        (root / name).write_text(text)
    commit_all(root, "a git + DVC repository")
    return root


def conveyor(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The installed ``conveyor`` console script, as users run it."""
    return sh(VENV_BIN / "conveyor", *args, cwd=cwd, check=check)


IN_PROCESS = frozenset({"compile", "explain", "dag", "schema", "config", "diff"})
"""Verbs ``conveyor_in_process`` runs: compile-level work that reads conf/ and git, imports no
project code into the test's process beyond what it removes again, and starts no server."""


def conveyor_in_process(
    *args: str, cwd: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``conveyor ARGS`` through ``conveyor.cli.main.main`` in this process, as the console script
    would run it (same parser, error rendering and exit codes), without the ~0.8 s of imports a
    new process pays. For compile-level checks (``IN_PROCESS``); anything else uses ``conveyor``.
    """
    import atexit
    import contextlib
    import gc
    import io

    from conveyor.cli.main import main

    verb = next((a for a in args if not a.startswith("-")), None)
    assert verb in IN_PROCESS, f"conveyor {verb} runs as a process: use conveyor()"
    out, err = io.StringIO(), io.StringIO()
    modules, path, before = set(sys.modules), list(sys.path), Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (exit_.code is not None)
    finally:
        os.chdir(before)
        gc.enable()  # main() turns collection off for its short-lived process
        atexit.unregister(gc.freeze)
        sys.path[:] = path
        root = str(Path(cwd).resolve())
        for name in set(sys.modules) - modules:  # a project's own modules: the next may differ
            if str(getattr(sys.modules[name], "__file__", None) or "").startswith(root):
                del sys.modules[name]
    done = subprocess.CompletedProcess(["conveyor", *args], code, out.getvalue(), err.getvalue())
    if check and code != 0:
        pytest.fail(f"conveyor {' '.join(args)} exited {code}\n{done.stdout}\n{done.stderr}")
    return done


_WARM_CLIENT = (
    "import os, sys\n"
    "from conveyor.cli.warm import delegate\n"
    "code = delegate(sys.argv[1], sys.argv[3:])\n"
    "if code is None:\n"  # no server answered, or it is stale: cold, as `conveyor run` does
    "    os.execv(sys.argv[2], ['conveyor', *sys.argv[3:]])\n"
    "sys.exit(code)\n"
)


def conveyor_warm(
    *args: str,
    cwd: Path,
    check: bool = True,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``conveyor ARGS`` as a process forked from the test process's stage server (``warm_stages``,
    which the test must have: every slow test does), as ``conveyor run`` is: the same ``main``,
    exit code, streams, directory and environment as the console script, without its 1-3 s of
    imports. For tests about what a command does, not about a fresh interpreter. A client killed
    by ``timeout`` takes its child with it. With no server (``CONVEYOR_COLD=1``) it is the console
    script itself. The slow rule applies as to ``conveyor()``.
    """
    from conveyor.cli.warm import SOCKET_ENV

    _audit("subprocess.Popen", ("conveyor", ["conveyor", *args], None, None))
    script, server = str(VENV_BIN / "conveyor"), (env or os.environ).get(SOCKET_ENV)
    command = [sys.executable, "-c", _WARM_CLIENT, server, script] if server else [script]
    done = subprocess.run(
        [*command, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if check and done.returncode != 0:
        pytest.fail(
            f"conveyor {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done


DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)
"""``python -c DEFAULT_SIGINT PROGRAM ARGS`` runs PROGRAM with SIGINT's default action, as from
a terminal: a shell that starts a job in the background (``pytest &``) has it ignored, and
Python then leaves it ignored, so a test that interrupts a command must restore it."""


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real ``dvc`` command: DVC's own ``main`` in this process for the verbs that start no
    queue daemon (``tests/dvc_in_process.py``: each process would cost a DVC start-up), else the
    console script. The slow rule, the times file and the hang limit apply to both."""
    from tests import dvc_in_process

    if not dvc_in_process.runs_in_process(args):
        return sh(VENV_BIN / "dvc", *args, cwd=cwd, check=check)
    _audit("subprocess.Popen", ("dvc", ["dvc", *args], None, None))
    code, out, err, hung = dvc_in_process.run(args, cwd, HANG_SECONDS)
    command = f"dvc {' '.join(args)}"
    if hung:
        pytest.fail(
            f"{command} still ran after {HANG_SECONDS} s: its processes killed\n{out}\n{err}"
        )
    if check and code != 0:
        pytest.fail(f"{command} exited {code}\n{out}\n{err}")
    return subprocess.CompletedProcess(["dvc", *args], code, out, err)


# The heaviest modules (real dvc repro, sweeps, simulations) start first, so the run does not end
# on one worker with a long module while the other is idle (with --no-loadscope-reorder xdist
# hands out modules in collection order). Modules that copy ``reproduced_template`` alternate
# with ones that do not, so the second worker does not start by waiting for its lock.
HEAVIEST = (  # by worker-seconds in the last whole-suite profile, largest first
    "integration/test_sweep.py",  # builds tests/sweep_project.py's project
    "integration/test_sweep_executor.py",  # builds reproduced_template meanwhile
    "integration/test_sweep_workers.py",  # the sweep project, built by then
    "integration/test_simulation.py",
    "security/test_bundle_trust.py",
    "integration/test_tracking_mlflow.py",
    "security/test_registry_tags.py",
    "integration/test_invalidation_oracle.py",
    "integration/test_registry.py",
    "security/test_bundle_followups.py",
    "integration/test_follow.py",
    "integration/test_warm.py",
    "integration/test_monitor.py",
    "integration/test_fresh_clone.py",
    "integration/test_deploy.py",
    "integration/test_examples.py",
    "integration/test_diff.py",
    "integration/test_ct.py",
    "integration/test_init_tasks.py",
    "integration/test_sources.py",
    "integration/test_pipeline.py",
    "integration/test_plugins.py",
    "integration/test_invalidation.py",
    "integration/test_lineage.py",
    "integration/test_primary_metric.py",
    "security/test_crash_safety.py",
)


def _start_order(item: pytest.Item) -> tuple[int, int]:
    try:
        path = item.path.relative_to(REPO / "tests").as_posix()
    except ValueError:  # a test outside tests/ (a path given on the command line)
        return 4, 0
    if path in HEAVIEST:
        return 0, HEAVIEST.index(path)
    return {"integration": 1, "security": 2}.get(path.split("/")[0], 3), 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Heaviest modules first, then integration, security and unit (a stable sort).

    A test that needs ``reproduced_template`` (directly or through a fixture) is ``slow``, like
    every test that starts stage work itself (``STAGE_WORK``, checked below), so
    ``-m 'not slow'`` never pays for the reproduced project.
    """
    items.sort(key=_start_order)
    for item in items:
        names = getattr(item, "fixturenames", None)
        if names is not None and "reproduced_template" in names:
            item.add_marker(pytest.mark.slow)
        if names is not None and item.get_closest_marker("slow") and "warm_stages" not in names:
            # First, so that it is up before any module- or session-scoped fixture's stage work.
            names.insert(0, "warm_stages")  # stage work forks from one warm server (below)


# The slow rule (docs/testing.md): a test that starts a process doing a stage's work, a model's
# scoring or serving, or DVC's reproduction is ``slow``. Each such process costs 2-10 s (it
# imports pandas and scikit-learn, or runs several), where compile, explain, diff or a registry
# command costs about one. A test outside ``slow`` that starts one fails at that call, so the
# daily subset stays fast as tests are added; mark it slow or call the code in process.
STAGE_WORK = {
    "conveyor": frozenset({"run", "score", "serve", "monitor", "ct", "sweep"}),
    "dvc": frozenset({"repro", "exp", "queue"}),
}
_running: list[pytest.Item] = []  # the test whose setup, call or teardown runs now
TIMES_ENV = "CONVEYOR_TEST_TIMES"
"""A path prefix: each test process writes its tests' start and duration to ``PREFIX.<worker>``."""


def _command(argv: Any) -> list[str]:
    """A Popen ``args`` as strings, with ``python -m`` dropped (``python -m dvc`` is ``dvc``)."""
    items = [argv] if isinstance(argv, str | bytes | os.PathLike) else list(argv)
    args = [os.fsdecode(a) if isinstance(a, bytes | os.PathLike) else str(a) for a in items]
    return args[2:] if len(args) > 2 and args[1] == "-m" else args


def _program_and_verb(argv: Any) -> str:
    """``'git commit'``, ``'conveyor compile'``: what a process is, for the times file."""
    args = _command(argv)
    return " ".join([Path(args[0]).name, *[a for a in args[1:] if not a.startswith("-")][:1]])


def stage_work(argv: Any) -> str | None:
    """``'<program> <verb>'`` when ``argv`` starts stage work (``STAGE_WORK``), else None."""
    args = _command(argv)
    if not args or (program := Path(args[0]).name) not in STAGE_WORK:
        return None
    rest = iter(args[1:])
    for arg in rest:
        if arg in ("--cd", "-C"):  # dvc's options that take a value
            next(rest, None)
        elif not arg.startswith("-"):
            return f"{program} {arg}" if arg in STAGE_WORK[program] else None
    return None


_started: list[str] = []  # with TIMES_ENV: the processes the running test started


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event != "subprocess.Popen" or not _running:
        return
    item, argv = _running[-1], args[1]
    if TIMES_ENV in os.environ:
        _started.append(_program_and_verb(argv))
    command = stage_work(argv)
    if command and item.get_closest_marker("slow") is None:
        pytest.fail(
            f"{item.nodeid} starts '{command}' but is not marked slow: mark it "
            "@pytest.mark.slow, or call the code in process (docs/testing.md, the slow rule)",
            pytrace=False,
        )


sys.addaudithook(_audit)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    """Tell ``_audit`` which test runs, setup and teardown included.

    With :data:`TIMES_ENV` set, each test process also appends one line per test to
    ``<that path>.<worker>``: the test, when it started, how long it took (setup, call and
    teardown) and the processes it started (``'git commit'``), to see where a whole run's time
    goes (docs/testing.md).
    """
    _running.append(item)
    _started.clear()
    started = time.time()
    try:
        return (yield)
    finally:
        _running.pop()
        if times := os.environ.get(TIMES_ENV):
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            took = round(time.time() - started, 3)
            line = json.dumps([item.nodeid, round(started, 3), took, _started])
            with open(f"{times}.{worker}", "a", encoding="utf-8") as out:
                out.write(line + "\n")


@pytest.fixture(scope="session")
def warm_stages() -> Any:
    """A stage server per test process: every ``conveyor run`` a slow test starts (directly, or
    through ``dvc repro``, ``dvc exp run`` or a sweep) forks from it instead of importing pandas,
    scikit-learn and xgboost again (``conveyor warm``, conveyor.cli.warm). Same bytes either way
    (tests/integration/test_warm.py); ``CONVEYOR_COLD=1`` runs every stage cold instead.
    """
    from conveyor.cli.warm import SOCKET_ENV, stage_server

    if os.environ.get("CONVEYOR_COLD") == "1":
        yield None
        return
    with stage_server() as environment:
        os.environ[SOCKET_ENV] = environment[SOCKET_ENV]
        try:
            yield environment[SOCKET_ENV]
        finally:
            del os.environ[SOCKET_ENV]


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
    # A smaller model keeps the end-to-end tests quick; the default project is unchanged. One
    # thread: xdist's two workers would each run two-thread fits on CI's two cores.
    xgb = root / "conf" / "model" / "xgboost.yaml"
    xgb.write_text(xgb.read_text().replace("n_estimators: 300", "n_estimators: 40"))
    for model in ("xgboost", "random_forest"):
        conf = root / "conf" / "model" / f"{model}.yaml"
        conf.write_text(conf.read_text().replace("n_jobs: 2", "n_jobs: 1"))
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


@pytest.fixture(scope="session")
def _reproduced(project_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``dvc repro`` of the template per test run; xdist workers share it under a lock."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # this run's directory, above every worker's own
    shared = base / "reproduced"
    stdout = shared / "repro.stdout"  # written last: its presence means the build is complete
    with FileLock(f"{shared}.lock"):
        if not stdout.exists():
            shutil.rmtree(shared, ignore_errors=True)  # a build that failed in another worker
            shutil.copytree(project_template, shared / "project", symlinks=True)
            out = dvc("repro", cwd=shared / "project").stdout
            stdout.write_text(out)
    return shared


@pytest.fixture(scope="session")
def reproduced_template(_reproduced: Path) -> Path:
    """The template after a full ``dvc repro`` (outputs, dvc.lock and .dvc/cache; nothing
    committed). Shared by the whole run: never change it, ``copytree`` it first."""
    return _reproduced / "project"


@pytest.fixture(scope="session")
def reproduced_stdout(_reproduced: Path) -> str:
    """What the ``dvc repro`` that built ``reproduced_template`` printed."""
    return (_reproduced / "repro.stdout").read_text()


@pytest.fixture
def reproduced_project(
    reproduced_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A private copy of the reproduced template (as after ``dvc repro``); the test runs in it."""
    root = tmp_path / "project"
    shutil.copytree(reproduced_template, root, symlinks=True)
    monkeypatch.chdir(root)
    return root


@pytest.fixture(scope="session")
def scheduler() -> Any:
    """The address of a Dask LocalCluster of two single-threaded worker processes.

    One per test process (xdist worker), started when a test first asks for it and shared by
    every module after it, so the run pays a cluster's start-up once, not once per module.
    Tests that kill workers or need other settings start a cluster of their own.
    """
    import logging

    import dask
    from distributed import LocalCluster

    from conveyor.executors.dask import PROFILER_SETTING

    # As on the cluster the dask executor starts: no worker profiler sampling every 10 ms (the
    # workers get the config current when they start; this process keeps its own).
    with dask.config.set({PROFILER_SETTING: False}):
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
    with cluster:
        yield cluster.scheduler_address


def running_with(marker: str) -> list[Any]:
    """The live (not zombie) processes whose command line holds ``marker`` (psutil.Process)."""
    import psutil

    return [
        process
        for process in psutil.process_iter(["cmdline", "status"])
        if marker in " ".join(process.info["cmdline"] or [])
        and process.info["status"] != psutil.STATUS_ZOMBIE
    ]
