"""``combine`` out of core (DuckDB under a memory budget) vs in memory: peak memory (issue 19).

A left join of a ``--rows``-row, 14-column table of floats and ints onto a 900-row table, at
each size in ``--rows``. Each run is a fresh process (its peak RSS is ``ru_maxrss``): the
baseline reads both files into pandas and merges them (``combine_frames`` + ``write_frame``,
the stage's in-memory path); the candidate is ``combine_files`` with a 256 MiB budget (DuckDB's
``memory_limit``), the stage's path over the budget. The outputs must be byte-identical: they
are compared by their sha256, read a MiB at a time (``_files.digest``), because a driver that
read them whole would raise every later child's ``ru_maxrss`` to its own peak.
Goals: the out-of-core peak at the largest size is at most half the in-memory one, and grows
by at most 25% from the smallest size to the largest (flat: it follows the budget, not the
data). Wall times are recorded, not judged. The load average is recorded: the machine is shared.
With ``--sql`` the combine is the query :data:`SQL` instead (``combine.sql``: in memory through
``query_frames``, out of core through ``_combine_sql.query_files``), written to
``results/bench_outofcore_sql.json``, with the same goals.

    .venv/bin/python benchmarks/bench_outofcore.py [--rows 4000000 8000000] [--sql]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _files import digest
from _timing import REPO, verdict, write_result

NAME = "bench_outofcore"
BUDGET = 256 * 2**20
SQL = (
    "SELECT v.*, w.beds, w.name FROM visits AS v LEFT JOIN wards AS w USING (ward) "
    "WHERE v.x0 > -1 ORDER BY ALL"
)
"""With ``--sql``: the same left join as ``combine.sql`` (``_combine_sql``), with a filter."""

_MAKE = """
import sys, pathlib, numpy as np, pandas as pd
from conveyor.runtime.frames import write_frame
root, rows = pathlib.Path(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
columns = {f"x{i}": rng.normal(size=rows) for i in range(12)}
columns["ward"] = rng.integers(0, 1000, rows)  # 10% of the keys have no ward: nulls
columns["label"] = rng.integers(0, 2, rows)
write_frame(root, "visits.parquet", pd.DataFrame(columns))
wards = {"ward": np.arange(900), "beds": np.arange(900) * 2, "name": [f"w{i}" for i in range(900)]}
write_frame(root, "wards.parquet", pd.DataFrame(wards))
"""

_RUN = """
import json, pathlib, resource, sys, time
from conveyor.runtime import frames
from conveyor.spec import CombineSpec
root, mode, budget, sql = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
if sql:
    combine = CombineSpec(sql=sql)
else:
    combine = CombineSpec(base="visits", join=[{"source": "wards", "keys": "ward", "how": "left"}])
paths = {"visits": root / "visits.parquet", "wards": root / "wards.parquet"}
start = time.perf_counter()
if mode == "in_memory":
    from conveyor.runtime.stages.combine import combine_frames
    read = {name: frames.read_frame(root, p.name, "combine") for name, p in paths.items()}
    frames.write_frame(root, "in_memory.parquet", combine_frames(read, combine))
elif sql:
    from conveyor.runtime.stages._combine_sql import query_files
    query_files(paths, sql, root / "out_of_core.parquet", budget=budget)
else:
    from conveyor.runtime.stages._combine_duckdb import combine_files
    combine_files(paths, combine, root / "out_of_core.parquet", budget=budget)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("\\n" + json.dumps({"seconds": round(seconds, 2), "peak_mib": round(peak, 1)}))
"""


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def _python(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{done.stderr}")
    return done.stdout


def measure(rows: int, sql: str = "") -> dict[str, Any]:
    """Both paths on ``rows`` rows, each in a fresh process; their outputs must be equal."""
    with tempfile.TemporaryDirectory(prefix="bench-outofcore-") as folder:
        root = Path(folder)
        _python(_MAKE, str(root), str(rows))
        result: dict[str, Any] = {"rows": rows, "input_mib": _mib(root / "visits.parquet")}
        for mode in ("in_memory", "out_of_core"):
            printed = _python(_RUN, str(root), mode, str(BUDGET), sql)
            result[mode] = json.loads(printed.strip().splitlines()[-1])
        same = digest(root / "in_memory.parquet") == digest(root / "out_of_core.parquet")
        if not same:
            raise SystemExit(f"{rows} rows: the two outputs differ")
        result["byte_identical"] = same
    print(
        f"{rows:>11,} rows: in memory {result['in_memory']['peak_mib']:8.1f} MiB "
        f"{result['in_memory']['seconds']:6.1f} s | out of core "
        f"{result['out_of_core']['peak_mib']:8.1f} MiB {result['out_of_core']['seconds']:6.1f} s"
    )
    return result


def _mib(path: Path) -> float:
    return round(path.stat().st_size / 2**20, 1)


def main() -> None:
    """Measure, judge the goals, write the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[4_000_000, 8_000_000])
    parser.add_argument(
        "--sql", action="store_true", help=f"combine.sql instead of the join: {SQL}"
    )
    args = parser.parse_args()
    before = load()
    sizes = [measure(rows, SQL if args.sql else "") for rows in sorted(args.rows)]
    after = load()
    largest, smallest = sizes[-1], sizes[0]
    peak_ratio = largest["out_of_core"]["peak_mib"] / largest["in_memory"]["peak_mib"]
    growth = largest["out_of_core"]["peak_mib"] / smallest["out_of_core"]["peak_mib"]
    goals = {
        "peak_vs_in_memory": verdict("out-of-core peak / in-memory peak", peak_ratio, 0.5),
        "peak_growth": verdict("out-of-core peak growth, smallest to largest", growth, 1.25),
    }
    write_result(
        f"{NAME}_sql" if args.sql else NAME,
        {
            "query": SQL if args.sql else None,
            "budget_mib": BUDGET / 2**20,
            "sizes": sizes,
            "peak_ratio": round(peak_ratio, 3),
            "peak_growth": round(growth, 3),
            "goals_met": goals,
            "load_average": {"before": before, "after": after},
            "note": "a shared machine (other agents' work): wall times vary; peaks do not",
        },
    )


if __name__ == "__main__":
    main()
