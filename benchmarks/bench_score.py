"""``conveyor score`` on 1M and 5M rows vs a bare in-process predict on the whole file.

Goals (issue 5): throughput >= 0.9x the baseline's on 1M rows (a time ratio <= 1/0.9), and
peak memory at 5M rows nearly equal to that at 1M (ratio <= 1.2): memory stays flat.

Setup, in a temporary directory: the default project's xgboost bundle (``models/diagnostics``
if it loads, else trained with ``dvc repro train`` in a project copy), and Parquet files of 1M
and 5M rows with its 30 float inputs: rows of scikit-learn's breast-cancer data resampled with
5% multiplicative noise, written in row groups of 1M rows (pyarrow's default).

**Measured:** ``conveyor score models/diagnostics rows_1m.parquet -o out.parquet
--keep-columns ''`` (so both sides write the predictions only), as a whole subprocess.
**Baseline:** one Python process that loads the same bundle, ``pd.read_parquet``s the whole
file, calls ``bundle.pipeline.predict_proba`` and writes labels and probabilities with pyarrow.
Both predict with the model's 2 threads. Peak memory is the subprocess's ``ru_maxrss``, for
``conveyor score`` with its defaults (every input column kept) at 1M and 5M rows, and for the
baseline at 1M rows.

    .venv/bin/python benchmarks/bench_score.py [--repeats 3] [--rows 1000000] [--big 5000000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from _timing import (
    REPO,
    VENV_BIN,
    Command,
    bench_env,
    compare,
    measure,
    project_copy,
    run_checked,
    verdict,
    write_result,
)

NAME = "bench_score"
GOAL_THROUGHPUT = 0.9
GOAL_MEMORY_GROWTH = 1.2
ROW_GROUP = 1_000_000
NOISE = 0.05

BASELINE = """\
import resource, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from conveyor.bundle import load_bundle

bundle = load_bundle(Path(sys.argv[1]))
frame = pd.read_parquet(sys.argv[2])
proba = bundle.pipeline.predict_proba(frame)
labels = np.asarray(bundle.classes)[proba.argmax(axis=1)]
columns = {f"proba_{c}": proba[:, i] for i, c in enumerate(bundle.classes)}
pq.write_table(pa.table({"prediction": labels, **columns}), sys.argv[3])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""

PEAK = """\
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
"""


def obtain_bundle(dest: Path, env: dict[str, str]) -> str:
    """Copy the project's trained bundle to ``dest``, training it first if needed."""
    from conveyor.bundle import load_bundle
    from conveyor.errors import BundleError

    source = REPO / "models" / "diagnostics"
    try:
        load_bundle(source)
    except BundleError:
        with project_copy("score", ".dvcignore") as project:
            print(f"{NAME}: no usable {source}; training one in {project}")
            run_checked(["git", "init", "-q"], project, env)
            run_checked([str(VENV_BIN / "dvc"), "init", "-q"], project, env)
            run_checked([str(VENV_BIN / "dvc"), "repro", "train"], project, env)
            shutil.copytree(project / "models" / "diagnostics", dest)
        return "trained with dvc repro train"
    shutil.copytree(source, dest)
    return str(source.relative_to(REPO))


def write_rows(path: Path, rows: int, names: list[str]) -> None:
    """Resampled breast-cancer rows with multiplicative noise, in row groups of 1M rows."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.datasets import load_breast_cancer

    base = load_breast_cancer().data
    rng = np.random.default_rng(0)
    schema = pa.schema([pa.field(n, pa.float64()) for n in names])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, ROW_GROUP):
            n = min(ROW_GROUP, rows - start)
            values = base[rng.integers(0, len(base), n)] * rng.normal(1, NOISE, (n, len(names)))
            values = np.clip(values, 0, None)
            writer.write_table(pa.table(dict(zip(names, values.T, strict=True)), schema=schema))


def peak_rss(argv: list[str], cwd: Path, env: dict[str, str]) -> int:
    """Peak resident set (bytes) that the command reports on its last stderr line."""
    output = run_checked(argv, cwd, env)
    return int(output.strip().splitlines()[-1]) * 1024  # ru_maxrss is in KiB on Linux


def max_difference(root: Path) -> float:
    import numpy as np
    import pyarrow.parquet as pq

    ours = pq.read_table(root / "out.parquet", columns=["proba_1"]).column(0).to_numpy()
    theirs = pq.read_table(root / "baseline.parquet", columns=["proba_1"]).column(0).to_numpy()
    return float(np.abs(ours - theirs).max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=5_000_000)
    args = parser.parse_args()
    env = bench_env()
    root = Path(tempfile.mkdtemp(prefix="conveyor-bench-score-"))
    conveyor = str(VENV_BIN / "conveyor")
    try:
        model = obtain_bundle(root / "models" / "diagnostics", env)
        import json

        schema = json.loads((root / "models" / "diagnostics" / "schema.json").read_text())
        names = [c["name"] for c in schema["columns"]]
        print(f"{NAME}: model from {model}; writing {args.rows} and {args.big} rows in {root}")
        write_rows(root / "small.parquet", args.rows, names)
        write_rows(root / "big.parquet", args.big, names)
        (root / "baseline.py").write_text(BASELINE)
        (root / "peak.py").write_text(PEAK)
        bundle = "models/diagnostics"
        score = [conveyor, "score", bundle]
        commands = [
            Command(
                f"conveyor score ({args.rows:,} rows)",
                [*score, "small.parquet", "-o", "out.parquet", "--keep-columns", ""],
            ),
            Command(
                "read_parquet + predict_proba + write",
                [sys.executable, "baseline.py", bundle, "small.parquet", "baseline.parquet"],
            ),
        ]
        print(f"{NAME}: {args.repeats} interleaved rounds on {args.rows:,} rows")
        timings = measure(commands, cwd=root, env=env, repeats=args.repeats)
        difference = max_difference(root)
        print(f"{NAME}: peak memory of conveyor score at {args.rows:,} and {args.big:,} rows")
        peak = [sys.executable, "peak.py"]
        small_peak = peak_rss([*peak, *score, "small.parquet", "-o", "all.parquet"], root, env)
        big_peak = peak_rss([*peak, *score, "big.parquet", "-o", "all.parquet"], root, env)
        baseline_peak = peak_rss(commands[1].argv, root, env)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    summary = compare(*timings)
    throughput = 1 / summary["ratio_median"]
    growth = big_peak / small_peak
    rows_per_s = args.rows / timings[0].median
    print(f"max |proba difference| conveyor vs baseline: {difference:.2e}")
    print()
    print("| measure | conveyor score | baseline |")
    print("|---|---|---|")
    print(
        f"| wall time, {args.rows:,} rows (median) | {timings[0].median:.2f} s "
        f"({rows_per_s:,.0f} rows/s) | {timings[1].median:.2f} s |"
    )
    print(f"| throughput vs baseline | {throughput:.2f}x | 1.00x |")
    print(
        f"| peak RSS, {args.rows:,} rows | {small_peak / 2**20:,.0f} MiB "
        f"| {baseline_peak / 2**20:,.0f} MiB |"
    )
    print(f"| peak RSS, {args.big:,} rows | {big_peak / 2**20:,.0f} MiB | (not run) |")
    print()
    time_met = verdict(
        "time ratio (conveyor / baseline)", summary["ratio_median"], round(1 / GOAL_THROUGHPUT, 3)
    )
    memory_met = verdict(
        f"peak RSS {args.big:,} / {args.rows:,} rows", growth, GOAL_MEMORY_GROWTH, "x"
    )
    write_result(
        NAME,
        {
            "goal": f"throughput >= {GOAL_THROUGHPUT}x the baseline; peak RSS at "
            f"{args.big} rows <= {GOAL_MEMORY_GROWTH}x that at {args.rows}",
            "goal_met": time_met and memory_met,
            "model": model,
            "rows": args.rows,
            "big_rows": args.big,
            "repeats": args.repeats,
            **summary,
            "throughput_ratio": round(throughput, 3),
            "rows_per_second": round(rows_per_s),
            "max_probability_difference": difference,
            "peak_rss_bytes": {
                f"conveyor score {args.rows}": small_peak,
                f"conveyor score {args.big}": big_peak,
                f"baseline {args.rows}": baseline_peak,
            },
            "peak_rss_growth": round(growth, 3),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
