"""Mutation testing of the critical modules with mutmut: the kill rate per module. Goal >= 90%.

Each module is mutated alone and run against its own fast tests (``MODULES``), in a scratch
copy of the repository (``src/``, ``tests/``, ``conf/`` and a ``pyproject.toml`` with a
``[tool.mutmut]`` section for that module), so nothing in the work tree changes. mutmut runs
only the tests that reach the mutated function. A survivor is either killed by a new test or
listed, with why it cannot be killed, in ``benchmarks/mutation_equivalent.md``; the kill rate
counts those as killed ("adjusted") next to the raw one. Results merge into
``benchmarks/results/mutation.json`` module by module, so a subset can be re-run:

    nice -n 10 timeout 1500 .venv/bin/python benchmarks/mutation.py [MODULE ...] [--budget 600]

Modules are named as in ``MODULES`` (``registry/gate.py``); with none, all are run, smallest
first. ``--budget`` caps one module's run in seconds (a module cut short is recorded as such).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _timing import REPO, VENV_BIN, bench_env, write_result

SRC = REPO / "src" / "conveyor"
EQUIVALENT = REPO / "benchmarks" / "mutation_equivalent.md"
RESULT = "mutation"
GOAL = 0.9

# module (under src/conveyor) -> its fast tests; None: it has none that run in seconds.
MODULES: dict[str, list[str] | None] = {
    "registry/gate.py": [
        "tests/unit/registry/test_gate.py",
        "tests/unit/registry/test_gate_report.py",
        "tests/unit/runtime/test_gate.py",
    ],
    "experiments/leaderboard.py": ["tests/unit/experiments/test_leaderboard.py"],
    # the rule that settles a trial from one read of DVC's state; queue.wait reads DVC
    "experiments/_outcome.py": ["tests/unit/experiments/test_outcome.py"],
    # kombu's filesystem channel on a real broker folder, in process
    "experiments/_broker.py": ["tests/unit/experiments/test_broker.py"],
    # the loop on a scripted clock; then real repositories and libgit2 fetches through DVC's
    # own collect_git, in process (the end-to-end sweep there runs in worker processes, which
    # import the unmutated source)
    "experiments/_collect.py": [
        "tests/unit/experiments/test_collect_loop.py",
        "tests/integration/test_sweep_collect.py",
    ],
    "monitoring/drift.py": [
        "tests/unit/monitoring/test_drift.py",
        "tests/unit/monitoring/test_drift_defaults.py",
        "tests/unit/monitoring/test_drift_report.py",
    ],
    "components/drift.py": [
        "tests/unit/monitoring/test_drift.py",
        "tests/unit/monitoring/test_drift_defaults.py",
        "tests/unit/monitoring/test_drift_tests.py",
    ],
    # test_integrity.py trains a model per test (seconds per mutant); test_manifest_shape.py
    # checks the same refusals in process on hand-made bundles.
    "bundle/manifest.py": [
        "tests/unit/bundle/test_manifest.py",
        "tests/unit/bundle/test_manifest_shape.py",
    ],
    # tests/unit/bundle also fits breast-cancer models per test (test_canonical, _scoring);
    # test_loading.py checks every refusal in process on eight-row pipelines.
    "bundle/bundle.py": [
        "tests/unit/bundle/test_loading.py",
        "tests/unit/bundle/test_integrity.py",
    ],
    # the serving and scoring tests reach it through a trained bundle; test_inputs.py checks
    # every coercion and message on hand-written columns
    "bundle/inputs.py": ["tests/unit/bundle/test_inputs.py"],
    # inputs.py's column rules and value coercion, split out of it (same tests)
    "bundle/_columns.py": ["tests/unit/bundle/test_inputs.py"],
    "runtime/stages/split.py": [
        "tests/unit/runtime/test_split.py",
        "tests/unit/runtime/test_split_exact.py",
    ],
    "runtime/params.py": [
        "tests/unit/runtime/test_params_view.py",
        "tests/unit/runtime/test_params_file.py",
    ],
    # test_properties.py composes hundreds of generated projects (minutes per mutant)
    "compiler/build.py": ["tests/unit/compiler/test_build.py"],
    # the integration tests promote trained projects (minutes per mutant); test_operations.py
    # writes through real git and gto on hand-made commits and tags, in seconds
    "registry/operations.py": ["tests/unit/registry/test_operations.py"],
}
ALSO_COPY = ["conf", "params.yaml", "dvc.yaml", "README.md", "docs", "examples"]
SURVIVING = ("survived", "no tests", "suspicious", "skipped")


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def equivalents() -> dict[str, str]:
    """``{mutant name: why}`` from the list kept with this script (``- `name`: why`` lines)."""
    if not EQUIVALENT.exists():
        return {}
    found = re.findall(r"^- `([^`]+)`: (.+)$", EQUIVALENT.read_text(encoding="utf-8"), re.M)
    return dict(found)


def _workspace(module: str, tests: list[str]) -> Path:
    """A scratch copy of the repository whose pyproject.toml tells mutmut what to do."""
    work = Path(tempfile.mkdtemp(prefix="conveyor-mutation-"))
    junk = shutil.ignore_patterns("__pycache__", "*.egg-info", ".hypothesis", "mutants")
    shutil.copytree(REPO / "src", work / "src", ignore=junk)
    shutil.copytree(REPO / "tests", work / "tests", ignore=junk)
    for name in ALSO_COPY:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=junk, symlinks=True)
        elif source.is_file():
            shutil.copy2(source, work / name)
    config = {
        "source_paths": ["src"],
        "only_mutate": [f"src/conveyor/{module}"],
        "pytest_add_cli_args": ["-n", "0", "-p", "no:cacheprovider", "-q", "-x"],
        "pytest_add_cli_args_test_selection": tests,
        "also_copy": [name for name in ALSO_COPY if (REPO / name).exists()],
        "use_git_change_detection": False,
    }
    lines = ["", "[tool.mutmut]"] + [
        f"{key} = {json.dumps(value)}" for key, value in config.items()
    ]
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    (work / "pyproject.toml").write_text(text + "\n".join(lines) + "\n", encoding="utf-8")
    return work


def _mutmut(work: Path, *args: str, timeout: float | None = None) -> str:
    """Run mutmut in ``work``; on ``timeout`` its whole process group is killed, then re-raised.

    mutmut forks a worker per mutant from a process that has already run the tests, so
    OpenMP is pinned to one thread: a forked child that enters xgboost's (libgomp's) thread
    pool after its parent did hangs forever, and mutmut would then count a survivor as a
    timeout, i.e. as killed.
    """
    env = {**bench_env(), "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
    # Tests run `dvc` as a process: their in-process DVC points its log handlers at the
    # standard streams of the moment, and mutmut closes the ones it captured with.
    env["CONVEYOR_DVC_PROCESS"] = "1"
    with subprocess.Popen(
        [str(VENV_BIN / "mutmut"), *args],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its workers too: nothing outlives a cut-short run
    ) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return output


def run_module(module: str, tests: list[str] | None, budget: float) -> dict[str, Any]:
    """Mutate ``module`` against ``tests``; the counts, the kill rates and the survivors."""
    entry: dict[str, Any] = {"lines": _lines(SRC / module), "tests": tests}
    if tests is None:
        return {**entry, "status": "not run: no fast tests (see MODULES)"}
    work = _workspace(module, tests)
    started = time.monotonic()
    try:
        output = ""
        try:
            output = _mutmut(work, "run", "--max-children", "1", timeout=budget)
            entry["status"] = "complete"
        except subprocess.TimeoutExpired:
            entry["status"] = f"cut short after {budget:g} s: counts cover the mutants run"
        entry["seconds"] = round(time.monotonic() - started, 1)
        _mutmut(work, "export-cicd-stats", timeout=300)
        stats_file = work / "mutants" / "mutmut-cicd-stats.json"
        if not stats_file.exists():
            tail = _mutmut(work, "results", timeout=300)[-2000:]
            return {**entry, "status": f"failed: mutmut wrote no stats\n{tail}"}
        stats = json.loads(stats_file.read_text(encoding="utf-8"))
        results = _mutmut(work, "results", "--all", "true", timeout=300)
        status_of = dict(re.findall(r"^\s+(\S+): (.+)$", results, re.M))
        unexplained = sorted(
            name
            for name, status in status_of.items()
            if status in SURVIVING and name not in equivalents()
        )
        # what each unexplained survivor changed, to write its test or its line in the list
        diffs = {name: _mutmut(work, "show", name, timeout=60).strip() for name in unexplained}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if stats["total"] and not any(stats[k] for k in ("killed", "survived", "no_tests", "timeout")):
        return {**entry, "status": "failed: no mutant was checked", "output": output[-1500:]}
    survivors = sorted(name for name, status in status_of.items() if status in SURVIVING)
    known = equivalents()
    killed = stats["killed"] + stats["timeout"]
    # over the mutants checked: a run cut short leaves some unchecked, counted apart
    tested = killed + stats["survived"] + stats["no_tests"] + stats["suspicious"]
    explained = [name for name in survivors if name in known]
    return {
        **entry,
        "total": stats["total"],
        "killed": stats["killed"],
        "timeout": stats["timeout"],
        "survived": stats["survived"],
        "no_tests": stats["no_tests"],
        "suspicious": stats["suspicious"],
        "skipped": stats["skipped"],
        "not_checked": sum(status == "not checked" for status in status_of.values()),
        "kill_rate": round(killed / tested, 4) if tested else None,
        "kill_rate_adjusted": round((killed + len(explained)) / tested, 4) if tested else None,
        "equivalent": explained,
        "unexplained_survivors": [name for name in survivors if name not in known],
        "unexplained_diffs": diffs,
    }


def main() -> int:
    """Run the chosen modules, smallest first, and merge their results into the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="modules as in MODULES (default: all)")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds per module")
    args = parser.parse_args()
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {unknown}; choose from {sorted(MODULES)}")
    chosen = sorted(args.modules or MODULES, key=lambda m: _lines(SRC / m))
    path = REPO / "benchmarks" / "results" / f"{RESULT}.json"
    modules: dict[str, Any] = {}
    if path.exists():
        modules = json.loads(path.read_text(encoding="utf-8")).get("modules", {})
    for module in chosen:
        print(f"{module} ...", flush=True)
        modules[module] = run_module(module, MODULES[module], args.budget)
        summary = {k: modules[module].get(k) for k in ("status", "kill_rate", "total")}
        print(f"  {summary}", flush=True)
        write_result(RESULT, {"goal": GOAL, "tool": _version(), "modules": modules})
    rates = {m: r.get("kill_rate_adjusted") for m, r in modules.items()}
    short = {m: rate for m, rate in rates.items() if rate is not None and rate < GOAL}
    print(f"below {GOAL:.0%}: {short or 'none'}")
    return 1 if short else 0


def _version() -> str:
    from importlib.metadata import version

    return f"mutmut {version('mutmut')}, python {sys.version.split()[0]}"


if __name__ == "__main__":
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    sys.exit(main())
