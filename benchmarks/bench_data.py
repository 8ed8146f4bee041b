"""ingest + validate + split + feature fit on 1M rows x 30 columns vs a hand-written script.

Goals (issue 3): wall time <= 1.2x a hand-written pandas/pyarrow script doing the same work,
and peak memory <= 3x the in-memory size of the data.

Setup, in a temporary project: a generated Parquet file of ``--rows`` rows (20 float columns
with 1% nulls, 10 string columns of 12 levels, a binary target), a conveyor project reading it
with ``kind: parquet``, a schema of 83 checks (dtype, null fraction, range per float column;
dtype and allowed values per string column; the target's values; a row-count bound), a random
split, and features impute + scale (floats) and impute + ordinal (strings) before a
``sklearn.dummy.DummyClassifier``, so the fit is the features' fit. ``conveyor compile`` runs
once, outside the timing.

**Measured:** ``conveyor run`` of ingest, validate, split and train in sequence, each a
process as ``dvc repro`` runs them (interpreter start-up and imports included; DVC's own
bookkeeping excluded). **Baseline:** one Python process that reads the Parquet file, writes a
copy, runs the same checks with pandas, splits with ``train_test_split``, writes both splits,
fits the same scikit-learn Pipeline on the training rows and saves it with skops. Peak memory
is the largest resident set of any process (``ru_maxrss``), divided by the frame's
``memory_usage(deep=True)``; interpreter and library memory is included on both sides.

    .venv/bin/python benchmarks/bench_data.py [--rows 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import yaml
from _timing import (
    VENV_BIN,
    Command,
    bench_env,
    compare,
    measure,
    run_checked,
    verdict,
    write_result,
)

NAME = "bench_data"
GOAL_RATIO = 1.2
GOAL_MEMORY = 3.0
NUMERIC, CATEGORICAL, LEVELS = 20, 10, 12

STAGES = """\
import resource, subprocess, sys
for stage in ("ingest-events", "validate", "split", "train"):
    subprocess.run([sys.argv[1], "run", stage], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
"""

BASELINE = """\
import resource, sys
from pathlib import Path

import pandas as pd
import skops.io as sio
import yaml
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder, StandardScaler

schema = yaml.safe_load(Path("conf/data/events.yaml").read_text())["schema"]
out = Path("baseline")
out.mkdir(exist_ok=True)
frame = pd.read_parquet("input.parquet")
frame.to_parquet(out / "raw.parquet", index=False)

failures = []
for name, rules in schema["columns"].items():
    column = frame[name]
    if rules["dtype"] == "float" and column.dtype.kind != "f":
        failures.append((name, "dtype"))
    if rules["dtype"] == "str" and column.dtype != "str":
        failures.append((name, "dtype"))
    nulls = column.isna()
    if not rules.get("nullable", True) and nulls.any():
        failures.append((name, "nullable"))
    if nulls.mean() > rules.get("max_null_fraction", 1.0):
        failures.append((name, "max_null_fraction"))
    if "min" in rules and (column < rules["min"]).any():
        failures.append((name, "min"))
    if "max" in rules and (column > rules["max"]).any():
        failures.append((name, "max"))
    if "allowed" in rules and not column.dropna().isin(rules["allowed"]).all():
        failures.append((name, "allowed"))
if len(frame) < schema["rows"]["min"]:
    failures.append((None, "rows"))
assert not failures, failures

train, test = train_test_split(frame, test_size=0.2, random_state=42)
train.reset_index(drop=True).to_parquet(out / "train.parquet", index=False)
test.reset_index(drop=True).to_parquet(out / "test.parquet", index=False)

train = pd.read_parquet(out / "train.parquet")
x, y = train.drop(columns=["target"]), train["target"]


def step(name, transformer, dtypes):
    columns = make_column_selector(dtype_include=dtypes)
    return name, ColumnTransformer(
        [(name, transformer, columns)], remainder="passthrough", verbose_feature_names_out=False
    ).set_output(transform="pandas")


pipeline = Pipeline(
    [
        step("0_impute", SimpleImputer(strategy="median"), "number"),
        step("1_standard_scaler", StandardScaler(), "number"),
        step("2_impute", SimpleImputer(strategy="most_frequent"), ["object", "str"]),
        step("3_ordinal", OrdinalEncoder(), ["object", "str"]),
        ("model", DummyClassifier()),
    ]
).fit(x, y)
sio.dump(pipeline, out / "pipeline.skops")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def write_project(root: Path, rows: int) -> int:
    """The input file and conf/; returns the frame's in-memory size in bytes."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    columns: dict[str, object] = {}
    for i in range(NUMERIC):
        values = rng.normal(loc=i, scale=1 + i / 10, size=rows)
        values[rng.random(rows) < 0.01] = np.nan
        columns[f"num_{i:02d}"] = values
    levels = np.array([f"level_{j:02d}" for j in range(LEVELS)], dtype=object)
    for i in range(CATEGORICAL):
        columns[f"cat_{i:02d}"] = pd.array(levels[rng.integers(0, LEVELS, rows)], dtype="str")
    columns["target"] = rng.integers(0, 2, rows)
    frame = pd.DataFrame(columns)
    frame.to_parquet(root / "input.parquet", index=False)
    size = int(pd.read_parquet(root / "input.parquet").memory_usage(deep=True).sum())

    schema: dict[str, object] = {
        "columns": {
            **{
                f"num_{i:02d}": {
                    "dtype": "float",
                    "max_null_fraction": 0.05,
                    "min": float(np.nanmin(columns[f"num_{i:02d}"])) - 1,  # type: ignore[call-overload]
                    "max": float(np.nanmax(columns[f"num_{i:02d}"])) + 1,  # type: ignore[call-overload]
                }
                for i in range(NUMERIC)
            },
            **{
                f"cat_{i:02d}": {"dtype": "str", "allowed": list(levels)}
                for i in range(CATEGORICAL)
            },
            "target": {"dtype": "int", "nullable": False, "allowed": [0, 1]},
        },
        "rows": {"min": rows // 2},
    }
    conf = root / "conf"
    for group in ("data", "features", "model", "evaluate"):
        (conf / group).mkdir(parents=True)
    (conf / "config.yaml").write_text(
        "defaults:\n  - _self_\n  - data: events\n  - features: bench\n  - model: dummy\n"
        "  - evaluate: classification\nproject:\n  name: bench\n  task: binary_classification\n"
        "seed: 42\n"
    )
    data = {
        "sources": {"events": {"kind": "parquet", "params": {"path": "input.parquet"}}},
        "schema": schema,
        "target": "target",
        "split": {"strategy": "random", "test_size": 0.2},
    }
    (conf / "data" / "events.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    features = {
        "transforms": [
            {"kind": "impute", "columns": "numeric", "params": {"strategy": "median"}},
            {"kind": "standard_scaler", "columns": "numeric"},
            {"kind": "impute", "columns": "categorical", "params": {"strategy": "most_frequent"}},
            {"kind": "ordinal", "columns": "categorical"},
        ]
    }
    (conf / "features" / "bench.yaml").write_text(yaml.safe_dump(features, sort_keys=False))
    (conf / "model" / "dummy.yaml").write_text("_target_: sklearn.dummy.DummyClassifier\n")
    (conf / "evaluate" / "classification.yaml").write_text("metrics: [roc_auc]\nprimary: roc_auc\n")
    return size


def peak_rss(argv: list[str], cwd: Path, env: dict[str, str]) -> int:
    """Peak resident set (bytes) that the command reports on its last stderr line."""
    output = run_checked(argv, cwd, env)
    return int(output.strip().splitlines()[-1]) * 1024  # ru_maxrss is in KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = bench_env()
    root = Path(tempfile.mkdtemp(prefix="conveyor-bench-data-"))
    try:
        print(
            f"{NAME}: generating {args.rows} rows x {NUMERIC + CATEGORICAL + 1} columns in {root}"
        )
        size = write_project(root, args.rows)
        run_checked([str(VENV_BIN / "conveyor"), "compile"], root, env)
        (root / "stages.py").write_text(STAGES)
        (root / "baseline.py").write_text(BASELINE)
        commands = [
            Command(
                "conveyor ingest+validate+split+train",
                [sys.executable, "stages.py", str(VENV_BIN / "conveyor")],
            ),
            Command("hand-written pandas/pyarrow script", [sys.executable, "baseline.py"]),
        ]
        print(f"{NAME}: {args.repeats} interleaved rounds")
        timings = measure(commands, cwd=root, env=env, repeats=args.repeats)
        peaks = [peak_rss(c.argv, root, env) for c in commands]
        report = json.loads((root / "reports" / "validation.json").read_text())
    finally:
        shutil.rmtree(root, ignore_errors=True)

    summary = compare(*timings)
    ratios = [peak / size for peak in peaks]
    print(f"data in memory: {size / 2**20:.0f} MiB; validation checks run: {report.get('checked')}")
    for command, peak, ratio in zip(commands, peaks, ratios, strict=True):
        print(f"peak RSS {command.label}: {peak / 2**20:.0f} MiB = {ratio:.2f}x the data")
    time_met = verdict("time ratio of medians", summary["ratio_median"], GOAL_RATIO)
    memory_met = verdict("conveyor peak memory / data size", ratios[0], GOAL_MEMORY, "x")
    write_result(
        NAME,
        {
            "goal": f"time ratio <= {GOAL_RATIO}; peak memory <= {GOAL_MEMORY}x the data",
            "goal_met": time_met and memory_met,
            "rows": args.rows,
            "columns": NUMERIC + CATEGORICAL + 1,
            "data_bytes": size,
            "repeats": args.repeats,
            **summary,
            "peak_rss_bytes": {c.label: p for c, p in zip(commands, peaks, strict=True)},
            "peak_memory_ratio": round(ratios[0], 3),
            "baseline_peak_memory_ratio": round(ratios[1], 3),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
