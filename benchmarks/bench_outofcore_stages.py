"""``ingest`` and ``profile`` over the memory budget vs in memory: peak memory (issue 19).

A Parquet source of four files (``--rows`` rows in all, 12 float columns, an integer column
with one null in the last file, a text column and a 0/1 label), and the same rows as one CSV
file (floats to 4 decimals), at each size in ``--rows``. Each run is a fresh process (its
peak RSS is ``ru_maxrss``):

- ingest: the baseline is the stage's in-memory path (``ParquetSource.read`` then
  ``write_frame``); the candidate its path over the budget (``ingest_scan``: a row group at a
  time). The two files must be byte-identical.
- ingest_csv: the same for the CSV source (``CsvSource.read`` then ``write_frame``, against
  ``ingest_frames``: two passes over the file in pandas' parser chunks). Byte-identical too.
- ingest_sql: the same for a ``sql`` source, ``SELECT * FROM source`` in DuckDB over the
  four Parquet files (``SqlSource.read`` then ``write_frame``, against ``ingest_frames``: the
  query run twice, a pass for each column's nulls, then its result fetched a few DuckDB
  vectors at a time). Byte-identical too.
- profile: the source's rows as the train split, scored by a logistic regression fitted on
  5,000 of them; the baseline is ``profile_data`` in memory, the candidate ``stream=True`` (a
  column, or a chunk of rows, at a time). The two ``Profile.to_json`` texts must be equal.

Goals: at the largest size each out-of-core peak is at most half the in-memory one; each
ingest's peak grows by at most 25% from the smallest size to the largest (it holds a row group,
not the data). profile's grows with the rows by design (it holds one sorted column and the scores:
16-24 bytes a row), so its growth is recorded, not judged. Wall times are recorded, not judged;
the load average is recorded: the machine is shared. Outputs are compared by their sha256, read
a MiB at a time, so that this process stays small (see ``_files.digest``).

    nice -n 15 .venv/bin/python benchmarks/bench_outofcore_stages.py [--rows 2000000 4000000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from _files import digest
from _timing import verdict, write_result
from bench_outofcore import _mib, _python, load

NAME = "bench_outofcore_stages"
STAGES = ("ingest", "profile", "ingest_csv", "ingest_sql")

_MAKE = """
import sys, pathlib, numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
from conveyor.bundle import infer_schema, save_bundle
from conveyor.plugins import Plugins
from conveyor.runtime.estimator import build_pipeline
from conveyor.spec import FeaturesSpec
root, rows = pathlib.Path(sys.argv[1]), int(sys.argv[2])
(root / "source").mkdir()
rng = np.random.default_rng(0)
features = [f"x{i}" for i in range(12)]
for part in range(4):
    n = rows // 4
    frame = pd.DataFrame({name: rng.normal(size=n) for name in features})
    frame["visits"] = pd.array(rng.integers(0, 9, n), dtype="Int64")
    if part == 3:
        frame.loc[n - 1, "visits"] = pd.NA
    frame["city"] = rng.choice(["oslo", "lima", "pune", "kyiv"], n)
    frame["label"] = (frame["x0"] + rng.normal(size=n) > 0).astype("int64")
    frame.to_parquet(root / "source" / f"part-{part}.parquet", index=False)
    frame.round(4).to_csv(root / "source.csv", mode="a", header=part == 0, index=False)
sample = frame.head(5000)
spec = FeaturesSpec.model_validate({"transforms": []})
pipeline = build_pipeline(spec, LogisticRegression(max_iter=200), Plugins.discover())
schema = {"task": "binary_classification", "target": "label", "classes": [0, 1],
          "columns": infer_schema(sample[features])}
save_bundle(root / "model", pipeline.fit(sample[features], sample["label"]), schema,
            {"name": "model"})
"""

_RUN = """
import json, pathlib, resource, sys, time
root, stage, mode = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
start = time.perf_counter()
if stage == "ingest":
    from conveyor.components.sources import ParquetSource
    from conveyor.runtime.frames import write_frame
    from conveyor.runtime.stages._ingest_stream import ingest_scan
    source = ParquetSource.from_config({"path": "source"})
    if mode == "in_memory":
        write_frame(root, "ingest_in_memory.parquet", source.read(root))
    else:
        ingest_scan(source.scan(root), root / "ingest_out_of_core.parquet")
elif stage == "ingest_csv":
    from conveyor.components.sources import CsvSource
    from conveyor.runtime.frames import write_frame
    from conveyor.runtime.stages._ingest_stream import ingest_frames
    source = CsvSource.from_config({"path": "source.csv"})
    if mode == "in_memory":
        write_frame(root, "ingest_csv_in_memory.parquet", source.read(root))
    else:
        ingest_frames(source.scan(root), root / "ingest_csv_out_of_core.parquet")
elif stage == "ingest_sql":
    from conveyor.components.sql import SqlSource
    from conveyor.runtime.frames import write_frame
    from conveyor.runtime.stages._ingest_stream import ingest_frames
    params = {"query": "SELECT * FROM source", "tables": {"source": "source"}}
    source = SqlSource.from_config(params)
    if mode == "in_memory":
        write_frame(root, "ingest_sql_in_memory.parquet", source.read(root))
    else:
        ingest_frames(source.scan(root), root / "ingest_sql_out_of_core.parquet")
else:
    from conveyor.bundle import load_bundle
    from conveyor.monitoring import profile_data
    from conveyor.monitoring.monitor import model_predictor
    predictor = model_predictor(load_bundle(root / "model"))
    found = profile_data(root, ["train.parquet"], predictor=predictor, exclude=["label"],
                         stream=mode == "out_of_core")
    (root / f"profile_{mode}.json").write_text(found.to_json())
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("\\n" + json.dumps({"seconds": round(seconds, 2), "peak_mib": round(peak, 1)}))
"""


def measure(rows: int) -> dict[str, Any]:
    """Both paths of both stages on ``rows`` rows, each in a fresh process; outputs equal."""
    with tempfile.TemporaryDirectory(prefix="bench-outofcore-stages-") as folder:
        root = Path(folder)
        _python(_MAKE, str(root), str(rows))
        result: dict[str, Any] = {
            "rows": rows,
            "input_mib": round(sum(_mib(p) for p in (root / "source").iterdir()), 1),
            "csv_mib": round(_mib(root / "source.csv"), 1),
        }
        for stage in STAGES:
            result[stage] = {}
            for mode in ("in_memory", "out_of_core"):
                printed = _python(_RUN, str(root), stage, mode)
                result[stage][mode] = json.loads(printed.strip().splitlines()[-1])
            suffix = "json" if stage == "profile" else "parquet"
            same = digest(root / f"{stage}_in_memory.{suffix}") == digest(
                root / f"{stage}_out_of_core.{suffix}"
            )
            if stage == "ingest":
                (root / "ingest_in_memory.parquet").rename(root / "train.parquet")
            if not same:
                raise SystemExit(f"{rows} rows: the two {stage} outputs differ")
            result[stage]["identical"] = same
            print(
                f"{rows:>11,} rows {stage:>10}: in memory "
                f"{result[stage]['in_memory']['peak_mib']:8.1f} MiB "
                f"{result[stage]['in_memory']['seconds']:6.1f} s | out of core "
                f"{result[stage]['out_of_core']['peak_mib']:8.1f} MiB "
                f"{result[stage]['out_of_core']['seconds']:6.1f} s"
            )
    return result


def main() -> None:
    """Measure, judge the goals, write the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2_000_000, 4_000_000])
    args = parser.parse_args()
    before = load()
    sizes = [measure(rows) for rows in sorted(args.rows)]
    after = load()
    largest, smallest = sizes[-1], sizes[0]
    ratios, growth, goals = {}, {}, {}
    for stage in STAGES:
        peaks = largest[stage]
        ratios[stage] = round(peaks["out_of_core"]["peak_mib"] / peaks["in_memory"]["peak_mib"], 3)
        growth[stage] = round(
            largest[stage]["out_of_core"]["peak_mib"] / smallest[stage]["out_of_core"]["peak_mib"],
            3,
        )
        goals[f"{stage}_peak_vs_in_memory"] = verdict(
            f"{stage}: out-of-core peak / in-memory peak", ratios[stage], 0.5
        )
    for stage in ("ingest", "ingest_csv", "ingest_sql"):
        goals[f"{stage}_peak_growth"] = verdict(
            f"{stage}: out-of-core peak growth, smallest to largest", growth[stage], 1.25
        )
    write_result(
        NAME,
        {
            "sizes": sizes,
            "peak_ratio": ratios,
            "peak_growth": growth,
            "goals_met": goals,
            "load_average": {"before": before, "after": after},
            "note": "a shared machine (other agents' work): wall times vary; peaks do not",
        },
    )


if __name__ == "__main__":
    main()
