"""``conveyor monitor`` vs Evidently 0.7.23 ``DataDriftPreset`` on 100k and 1M rows.

Goals (issue 6, item 6), at 1M reference x 1M current rows: conveyor >= 20x faster than
Evidently, <= 1/2 of its peak memory, and the same set of drifted columns.

Data, generated (seeded) in a temporary directory: reference and current Parquet files of N
rows x 20 numeric + 5 categorical (10 levels) columns, 2% nulls in one numeric and one
categorical column, and drift planted in 7 columns of the current file (``PLANTED``): four
numeric location/scale shifts of 0.3-0.5 sigma, one numeric shape change (normal -> bimodal with
the same mean and std), and two categorical frequency changes. Every other column is drawn from
the reference distribution.

**conveyor:** ``conveyor monitor current.parquet --reference-data reference.parquet -o DIR``,
which builds the reference profile from the data, compares, and writes drift.json + drift.html.
**Evidently:** ``_evidently_drift.py`` in its own venv (``evidently==0.7.23``, ``pandas<3``,
``pyarrow``; created once under ``~/.cache/conveyor-bench/evidently-venv``,
``$CONVEYOR_BENCH_CACHE`` moves it): ``pd.read_parquet`` both files, ``Report([DataDriftPreset()],
include_tests=True).run(current, reference)``, ``snapshot.dict()`` and ``save_html`` (both sides
write a JSON result and an HTML report; ``--no-html`` drops the HTML on Evidently's side).

Each run is a whole subprocess (imports and reading included); its peak RSS is the ``ru_maxrss``
that ``os.wait4`` reports for it. Per size, the two sides alternate (A B, B A, ...); Evidently
runs ``--evidently-repeats`` times at 100k and ``--evidently-big-repeats`` times at 1M (it takes
about 3 minutes there), conveyor ``--repeats`` times at both, after one unrecorded warm-up run of
each side at the smallest size. Medians are compared. The drifted sets of both are checked
against each other and against the planted columns. About 8 minutes.

    .venv/bin/python benchmarks/bench_drift.py [--repeats 3] [--evidently-repeats 3]
        [--evidently-big-repeats 1] [--sizes 100000 1000000] [--no-html]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _timing import (
    VENV_BIN,
    CommandError,
    bench_env,
    ensure_venv,
    run_checked,
    verdict,
    write_result,
)

NAME = "bench_drift"
GOAL_SPEEDUP = 20.0
GOAL_MEMORY = 0.5
HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("CONVEYOR_BENCH_CACHE", Path.home() / ".cache" / "conveyor-bench"))
EVIDENTLY_VENV = CACHE / "evidently-venv"
EVIDENTLY_PACKAGES = ("evidently==0.7.23", "pandas<3", "pyarrow")
CONVEYOR_ARGS = (
    *("monitor", "current.parquet", "--reference-data", "reference.parquet"),
    *("-o", "out_conveyor"),
)
NUMERIC = 20
CATEGORICAL = 5
LEVELS = tuple("abcdefghij")
NULL_SHARE = 0.02
PLANTED = {
    "num_00": "normal, mean +0.5 sigma",
    "num_01": "lognormal, values x1.4",
    "num_02": "uniform, shifted by 0.35 sigma",
    "num_03": "exponential, scale x1.4 (+0.4 sigma)",
    "num_04": "normal -> bimodal with the same mean and std",
    "cat_00": "category frequencies rotated by 3 levels",
    "cat_01": "rarest category grows from 3% to 30%",
}


@dataclass
class Side:
    """One side of the comparison at one size: its runs and the drifted set it reported."""

    label: str
    times: list[float] = field(default_factory=list)
    peaks: list[int] = field(default_factory=list)
    drifted: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    phases: list[dict[str, float]] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def peak(self) -> int:
        return max(self.peaks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "median_s": round(self.median, 3),
            "min_s": round(min(self.times), 3),
            "times_s": [round(t, 3) for t in self.times],
            "peak_rss_bytes": self.peak,
            "peak_rss_bytes_all": self.peaks,
            "drifted": self.drifted,
            **({"phases_s": self.phases} if self.phases else {}),
        }


def ensure_evidently_venv() -> Path:
    """The Evidently venv's python, creating the venv on first use (about a minute)."""
    return ensure_venv(
        EVIDENTLY_VENV, EVIDENTLY_PACKAGES, "import evidently.presets, pyarrow", NAME
    )


def write_data(root: Path, rows: int, seed: int = 0) -> tuple[Path, Path]:
    """Write ``reference.parquet`` and ``current.parquet`` (see the module docstring)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    base = 0.8 ** np.arange(len(LEVELS))
    base /= base.sum()
    grown = base * 0.7 / (1 - base[-1])
    grown[-1] = 0.3

    def numeric(i: int, drifted: bool) -> Any:
        # Five families in turn; each of the first five columns carries one planted drift.
        family = i % 5
        if family == 0:  # normal(50, 10)
            if drifted:
                return rng.normal(55, 10, rows)
            return rng.normal(50 + i, 10, rows)
        if family == 1:  # lognormal
            return rng.lognormal(0, 0.5, rows) * (1.4 if drifted else 1.0)
        if family == 2:  # uniform(0, 10), sigma 2.89
            return rng.uniform(0, 10, rows) + (1.0 if drifted else 0.0)
        if family == 3:  # exponential, sigma 2
            return rng.exponential(2.8 if drifted else 2.0, rows)
        if drifted:  # same mean and std (10) as normal(50, 10), but two modes
            side = rng.choice([-1.0, 1.0], rows)
            return 50 + 9 * side + rng.normal(0, 4.36, rows)
        return rng.normal(50, 10, rows)

    def categorical(probabilities: Any) -> Any:
        levels = rng.choice(len(LEVELS), rows, p=probabilities)
        return pa.DictionaryArray.from_arrays(levels.astype("int32"), list(LEVELS)).cast(
            pa.string()
        )

    paths = (root / "reference.parquet", root / "current.parquet")
    for path, is_current in zip(paths, (False, True), strict=True):
        columns: dict[str, Any] = {}
        for i in range(NUMERIC):
            name = f"num_{i:02d}"
            values = numeric(i, is_current and name in PLANTED)
            if i == 10:
                values[rng.random(rows) < NULL_SHARE] = np.nan
            columns[name] = pa.array(values, from_pandas=True)
        for i in range(CATEGORICAL):
            name = f"cat_{i:02d}"
            drifted = is_current and name in PLANTED
            probabilities = {0: np.roll(base, 3), 1: grown}.get(i, base) if drifted else base
            values = categorical(probabilities)
            if i == 4:
                mask = pa.array(rng.random(rows) < NULL_SHARE)
                values = pc.if_else(mask, pa.scalar(None, pa.string()), values)
            columns[name] = values
        pq.write_table(pa.table(columns), path)
    return paths


def run_measured(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int]:
    """Wall time (s) and peak RSS (bytes, from ``os.wait4``) of one run; CommandError on failure."""
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=output, stderr=output)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            output.seek(0)
            text = output.read().decode(errors="replace")
            raise CommandError(
                f"command failed with exit code {process.returncode}: {' '.join(argv)}\n{text}"
            )
    return seconds, usage.ru_maxrss * 1024  # KiB on Linux


def conveyor_result(out: Path) -> tuple[list[str], dict[str, float]]:
    """The drifted column names and every column's statistic in conveyor's drift.json."""
    report = json.loads((out / "drift.json").read_text(encoding="utf-8"))
    columns = {column["column"]: column for column in report["columns"]}
    drifted = sorted(name for name, column in columns.items() if column["drifted"])
    return drifted, {name: column["statistic"] for name, column in columns.items()}


def evidently_result(out: Path) -> tuple[list[str], dict[str, float], dict[str, float]]:
    """The drifted columns, scores and phase timings in ``_evidently_drift.py``'s output."""
    document = json.loads((out / "evidently.json").read_text(encoding="utf-8"))
    scores = {name: score for name, (_, score, _) in document["scores"].items()}
    return list(document["drifted"]), scores, dict(document["phases_s"])


def compare_size(
    root: Path,
    rows: int,
    *,
    repeats: int,
    evidently_repeats: int,
    evidently_python: Path,
    html: bool,
    warmup: bool,
    env: dict[str, str],
) -> tuple[Side, Side]:
    """Write the data for ``rows`` and run both sides in alternating order."""
    print(f"{NAME}: writing {rows:,} + {rows:,} rows")
    write_data(root, rows)
    ours = Side("conveyor monitor")
    theirs = Side("Evidently DataDriftPreset")
    conveyor = [str(VENV_BIN / "conveyor"), *CONVEYOR_ARGS]
    evidently = [
        str(evidently_python),
        str(HERE / "_evidently_drift.py"),
        *("reference.parquet", "current.parquet", "out_evidently"),
        *([] if html else ["--no-html"]),
    ]

    def run_ours() -> None:
        seconds, peak = run_measured(conveyor, root, env)
        ours.times.append(seconds)
        ours.peaks.append(peak)
        ours.drifted, ours.scores = conveyor_result(root / "out_conveyor")
        print(f"  conveyor  {seconds:7.2f} s  {peak / 2**20:7,.0f} MiB")

    def run_theirs() -> None:
        seconds, peak = run_measured(evidently, root, env)
        theirs.times.append(seconds)
        theirs.peaks.append(peak)
        theirs.drifted, theirs.scores, phases = evidently_result(root / "out_evidently")
        theirs.phases.append(phases)
        print(f"  Evidently {seconds:7.2f} s  {peak / 2**20:7,.0f} MiB  {phases}")

    if warmup:  # loads both sides' libraries into the page cache; not recorded
        print(f"{NAME}: warm-up run of each side")
        run_measured(conveyor, root, env)
        run_measured(evidently, root, env)
    print(f"{NAME}: {rows:,} rows: conveyor x{repeats}, Evidently x{evidently_repeats}")
    for round_ in range(max(repeats, evidently_repeats)):
        order = [run_ours, run_theirs] if round_ % 2 == 0 else [run_theirs, run_ours]
        for run in order:
            if (run is run_ours and round_ < repeats) or (
                run is run_theirs and round_ < evidently_repeats
            ):
                run()
    return ours, theirs


def statistic_difference(ours: Side, theirs: Side) -> float:
    """The largest |conveyor statistic - Evidently score| over the columns both report."""
    return max(abs(ours.scores[c] - theirs.scores[c]) for c in ours.scores.keys() & theirs.scores)


def profile_conveyor(root: Path, rows: int, env: dict[str, str]) -> None:
    """Run ``conveyor monitor`` once under cProfile and print where its time goes."""
    import pstats

    print(f"{NAME}: conveyor monitor under cProfile at {rows:,} rows")
    write_data(root, rows)
    argv = [sys.executable, "-m", "cProfile", "-o", "prof.out", str(VENV_BIN / "conveyor")]
    run_checked([*argv, *CONVEYOR_ARGS], root, env)
    stats = pstats.Stats(str(root / "prof.out"))
    stats.sort_stats("cumulative").print_stats(r"conveyor/(monitoring|cli)/|importlib", 25)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--evidently-repeats", type=int, default=3)
    parser.add_argument("--evidently-big-repeats", type=int, default=1)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--no-html", action="store_true", help="Evidently skips save_html")
    parser.add_argument(
        "--profile", action="store_true", help="only profile conveyor at the largest size"
    )
    args = parser.parse_args()
    env = bench_env()
    if args.profile:
        with tempfile.TemporaryDirectory(prefix="conveyor-bench-drift-") as root:
            profile_conveyor(Path(root), max(args.sizes), env)
        return 0
    python = ensure_evidently_venv()
    big = max(args.sizes)
    results: dict[int, tuple[Side, Side]] = {}
    root = Path(tempfile.mkdtemp(prefix="conveyor-bench-drift-"))
    try:
        for rows in sorted(args.sizes):
            results[rows] = compare_size(
                root,
                rows,
                repeats=args.repeats,
                evidently_repeats=args.evidently_big_repeats
                if rows == big
                else args.evidently_repeats,
                evidently_python=python,
                html=not args.no_html,
                warmup=rows == min(args.sizes),
                env=env,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)

    planted = sorted(PLANTED)
    print()
    print("| rows | conveyor monitor | Evidently DataDriftPreset | speed-up | memory ratio |")
    print("|---|---|---|---|---|")
    for rows, (ours, theirs) in results.items():
        print(
            f"| {rows:,} | {ours.median:.2f} s, {ours.peak / 2**20:,.0f} MiB "
            f"| {theirs.median:.1f} s, {theirs.peak / 2**20:,.0f} MiB "
            f"| {theirs.median / ours.median:.1f}x | {ours.peak / theirs.peak:.2f} |"
        )
    print()
    same = all(o.drifted == t.drifted for o, t in results.values())
    for rows, (ours, theirs) in results.items():
        print(f"{rows:,} rows: conveyor drifted {ours.drifted}")
        print(f"{rows:,} rows: Evidently drifted {theirs.drifted}  (planted {planted})")
        print(
            f"{rows:,} rows: max |conveyor statistic - Evidently score| "
            f"{statistic_difference(ours, theirs):.4f}"
        )
    ours, theirs = results[big]
    speed_met = verdict(
        f"time ratio conveyor / Evidently at {big:,} rows",
        ours.median / theirs.median,
        round(1 / GOAL_SPEEDUP, 3),
    )
    memory_met = verdict(f"peak RSS ratio at {big:,} rows", ours.peak / theirs.peak, GOAL_MEMORY)
    print(f"{'GOAL MET' if same else 'GOAL MISSED'}: same drifted columns at every size")
    write_result(
        NAME if not args.no_html else f"{NAME}_nohtml",
        {
            "goal": f">= {GOAL_SPEEDUP:g}x faster, <= {GOAL_MEMORY} x peak RSS and the same "
            f"drifted columns as Evidently 0.7.23 at {big} rows",
            "goal_met": speed_met and memory_met and same,
            "evidently_html": not args.no_html,
            "planted": PLANTED,
            "same_drifted_columns": same,
            "sizes": {
                str(rows): {
                    "conveyor": o.to_dict(),
                    "evidently": t.to_dict(),
                    "speedup": round(t.median / o.median, 2),
                    "memory_ratio": round(o.peak / t.peak, 3),
                    "matches_planted": o.drifted == planted,
                    "max_statistic_difference": round(statistic_difference(o, t), 5),
                }
                for rows, (o, t) in results.items()
            },
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
