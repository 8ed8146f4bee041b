"""Shared benchmark helpers: interleaved subprocess timing, project copies, tables, results.

Every benchmark compares a command with a baseline measured in the same run. The two are run
in interleaved rounds whose order alternates (A B, B A, A B, ...), so slow drift on a noisy
machine lands on both sides. Each side reports its median and its minimum, and the median of
the per-round ratios is shown beside the ratio of medians.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
VENV_BIN = Path(sys.executable).parent
"""The venv's bin/ (not resolved: a venv's python is a symlink to the base interpreter)."""

_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)$")


class CommandError(SystemExit):
    """A command under test failed. Uncaught, it exits with its message and no traceback."""


@dataclass(frozen=True)
class Command:
    """A labelled command line."""

    label: str
    argv: list[str]


@dataclass(frozen=True)
class Timing:
    """Wall times of one command, in seconds."""

    command: Command
    times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def min(self) -> float:
        return min(self.times)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.command.label,
            "argv": self.command.argv,
            "median_s": round(self.median, 4),
            "min_s": round(self.min, 4),
            "times_s": [round(t, 4) for t in self.times],
        }


def bench_env() -> dict[str, str]:
    """The environment for every subprocess: no DVC analytics, the venv's bin/ first on PATH.

    Bytecode caching is on, as on a user's machine: with ``PYTHONDONTWRITEBYTECODE`` set (some
    sandboxes do), an editable conveyor recompiles its source on every start while the
    libraries pip installed keep their .pyc files, which is a cost no user pays.
    """
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_checked(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> str:
    """Run ``argv``; raise CommandError with its output if it fails. Returns stdout + stderr."""
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CommandError(
            f"command failed with exit code {done.returncode}: {' '.join(argv)}\n"
            f"{done.stdout}{done.stderr}"
        )
    return done.stdout + done.stderr


def ensure_venv(venv: Path, packages: Sequence[str], probe: str, label: str) -> Path:
    """The python of a separate venv for a competitor, created once with ``packages``.

    ``probe`` is Python code that must run in it (its imports); a venv that fails it is rebuilt.
    """
    python = venv / "bin" / "python"
    check = [str(python), "-c", probe]
    if python.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return python
    print(f"{label}: creating {venv} with {', '.join(packages)} (once)")
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    run_checked([sys.executable, "-m", "venv", str(venv)], venv.parent, env)
    run_checked([str(python), "-m", "pip", "install", "-q", *packages], venv.parent, env)
    return python


def time_once(command: Command, cwd: Path, env: dict[str, str]) -> float:
    """Wall time of one run of ``command`` as a subprocess (interpreter start included)."""
    start = time.perf_counter()
    run_checked(command.argv, cwd, env)
    return time.perf_counter() - start


def measure(
    commands: Sequence[Command],
    *,
    cwd: Path,
    env: dict[str, str],
    repeats: int,
    warmup: int = 1,
) -> list[Timing]:
    """Time every command ``repeats`` times in interleaved rounds of alternating order."""
    for _ in range(warmup):
        for command in commands:
            time_once(command, cwd, env)
    times: dict[str, list[float]] = {c.label: [] for c in commands}
    for round_ in range(repeats):
        order = commands if round_ % 2 == 0 else commands[::-1]
        for command in order:
            times[command.label].append(time_once(command, cwd, env))
        if sys.stdout.isatty():
            print(f"  round {round_ + 1}/{repeats}", end="\r", flush=True)
    return [Timing(c, times[c.label]) for c in commands]


def import_times(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> dict[str, int]:
    """``{module: self import time in microseconds}`` from ``python -X importtime <argv>``."""
    output = run_checked([sys.executable, "-X", "importtime", *argv], cwd, env)
    found: dict[str, int] = {}
    for line in output.splitlines():
        if match := _IMPORTTIME.match(line):
            found[match.group(2)] = int(match.group(1))
    return found


@contextlib.contextmanager
def project_copy(name: str, *extra: str) -> Iterator[Path]:
    """A temporary copy of the project's conf/, dvc.yaml, params.yaml (plus ``extra`` files)."""
    root = Path(tempfile.mkdtemp(prefix=f"conveyor-bench-{name}-"))
    try:
        shutil.copytree(REPO / "conf", root / "conf")
        for file in ("dvc.yaml", "params.yaml", *extra):
            shutil.copy2(REPO / file, root / file)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def compare(candidate: Timing, baseline: Timing) -> dict[str, Any]:
    """Print median, min and ratios to the baseline; return them for the result file.

    Besides the ratio of medians and of minimums, the median of the per-round ratios is shown:
    the two runs of a round are adjacent in time, so it is the least disturbed by load spikes.
    """
    width = max(len(candidate.command.label), len(baseline.command.label))
    print(f"{'command':<{width}}  {'median':>8}  {'min':>8}  {'x median':>8}  {'x min':>6}")
    for timing in (candidate, baseline):
        print(
            f"{timing.command.label:<{width}}  {timing.median:>7.3f}s  {timing.min:>7.3f}s"
            f"  {timing.median / baseline.median:>8.2f}  {timing.min / baseline.min:>6.2f}"
        )
    paired = [c / b for c, b in zip(candidate.times, baseline.times, strict=True)]
    print(
        f"per-round ratio: median {statistics.median(paired):.2f} "
        f"(range {min(paired):.2f}-{max(paired):.2f})"
    )
    return {
        "candidate": candidate.to_dict(),
        "baseline": baseline.to_dict(),
        "ratio_median": round(candidate.median / baseline.median, 3),
        "ratio_min": round(candidate.min / baseline.min, 3),
        "ratio_per_round_median": round(statistics.median(paired), 3),
        "extra_median_s": round(candidate.median - baseline.median, 4),
    }


def verdict(what: str, value: float, goal: float, unit: str = "") -> bool:
    """Print whether ``value <= goal`` and by how much it misses; return whether it is met."""
    met = value <= goal
    if met:
        print(f"GOAL MET: {what} {value:.3f}{unit} <= {goal}{unit}")
    else:
        over = value - goal
        print(
            f"GOAL MISSED: {what} {value:.3f}{unit} > {goal}{unit} "
            f"(over by {over:.3f}{unit}, {100 * over / goal:.0f}% of the goal)"
        )
    return met


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` with the date and machine added."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        **result,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(REPO)}")
    return path
