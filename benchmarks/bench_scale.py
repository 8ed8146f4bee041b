"""Past one machine (issue 19): score and monitor on Dask vs local; external-memory train.

Goals (issue 19, "Done when"), each a ratio against a baseline measured in the same run:

- ``conveyor score`` on N rows x 30 columns: two single-thread Dask workers >= 1.6x the
  throughput of one single-thread local process (parallel efficiency = speedup / 2 >= 0.8),
  and Dask with 2 workers no slower than local with all threads; peak memory per worker flat
  (<= 1.2x) from N to ``--big`` rows;
- ``conveyor monitor`` of a batch of N rows: peak memory <= 1 GiB and flat from N to ``--big``
  rows, on Dask and in process (above ``COUNT_ROWS`` both count each file into the reference
  grid); the same parallel-efficiency bar (Dask, 2 workers vs local, which runs in process);
  and the same memory bars, with drift.json identical, when the model must score the log
  (no ``_score``: scored file by file, the scores counted into the grid too);
- ``model.fit.memory: external`` on a training split of ``--train-rows`` rows: peak memory
  <= 0.5x the in-memory fit's, test AUC within 0.002.

The issue asks for 10M/30M score rows and a 20M-row log; the defaults are smaller so that the
whole run takes about 15 minutes on a shared 2-core machine (flags raise them). Timings on a
machine shared with other work are pessimistic for parallel efficiency: the load average is
recorded before and after each part. Peak memory and AUC do not depend on the load.

Setup, in a temporary project copy: ``dvc repro train profile`` of the default project (its
bundle, split and reference profile), then Parquet files of 500k rows each with the model's 30
float inputs (breast-cancer rows resampled with 5% multiplicative noise, seeded). A size of
N rows is N/500k hard links to one such file, so generating data costs the same at every
size; scoring and monitoring read every link as its own file (one task each).

**Score.** ``conveyor score models/diagnostics parts/ -o out.parquet --keep-columns ''`` with
(a) ``executor: local``, ``--threads 1`` and ``OMP_NUM_THREADS=1`` (the baseline: one
thread, as Dask starts each worker, Arrow's Parquet reader included; without it Arrow decodes
with every core), (b) ``executor: local`` (all
threads), (c) ``executor: dask`` with 2 single-thread workers (a LocalCluster the command
starts and stops, start-up included), (d) ``executor: dask`` on a LocalCluster of 2
single-thread workers that is already up (``executor.params.address``, as a cluster user runs),
and into a folder of parts (``-o outp/``, no merge in the driver): (e) local, one thread, and
(f) the running cluster. The parallel-efficiency goal is judged on (f) against (e): the
workers' throughput; (a)-(d) are recorded beside it, and the parts of (e) and (f) must be
byte-identical. **Monitor.** ``conveyor monitor parts/ --no-model`` with
``executor: local`` in process with ``OMP_NUM_THREADS=1`` (the baseline: one thread, as for
score; without it Arrow decodes each file with every core) and with all threads, vs
``executor: dask`` with 2 workers, on a cluster the command starts and on one already up (the
goal is judged on the latter against the one-thread baseline); all four drift.json must be
byte-identical; then,
once each at both sizes, ``conveyor monitor parts/`` with the model (``models/diagnostics``
scores the 30 features; the reference has its predictions), local and Dask, for peak memory.
Each
command runs as a subprocess under a probe that samples the resident set of it and of each
descendant process (the Dask workers) every 50 ms with psutil: "driver" is the command's own
process, "per worker" the largest descendant.

**Scaling model.** From the same run: the per-file time (local, one thread), the fixed cost of
a sharded run (Dask on one small file, minus local on it), the extra time per task (Dask on 32
small files minus on 1, per file) and the driver's merge (copying the output's row groups into a
new file, as the merge does). ``T(w) = fixed + merge + F * per_task + F * per_file / w`` for F
files on w workers, projected to 8 and 64 workers.

**Train.** ``conveyor run train`` on a generated training split of ``--train-rows`` rows
(``model.params.n_estimators`` set to ``--trees`` for both), in memory vs
``+model.fit.memory=external``; peak memory is the process's ``ru_maxrss``; AUC on a generated
100k-row test split.

    .venv/bin/python benchmarks/bench_scale.py [--rows 2000000] [--big 4000000] [--repeats 2]
        [--train-rows 1000000] [--trees 100] [--parts score,monitor,train]

``--parts`` runs some of the three; the others are kept from the previous results file, each
part with the time it started and its arguments.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import _files
from _dask import running_cluster
from _timing import (
    RESULTS,
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

if TYPE_CHECKING:
    from pathlib import Path

NAME = "bench_scale"
FILE_ROWS = 500_000
NOISE = 0.05
GOAL_EFFICIENCY = 0.8
GOAL_FLAT = 1.2
GOAL_MONITOR_MEMORY = 2**30
GOAL_EXTERNAL_MEMORY = 0.5
GOAL_AUC = 0.002
SMALL_FILES = 32
PROJECTED = (2, 8, 64)
PARTS = ("score", "monitor", "train")

PROBE = """\
import json, os, sys, time
import psutil, yaml

executor, tag = sys.argv[1], sys.argv[2]
params = yaml.safe_load(open("params.project.yaml"))
params["executor"] = {"local1": {"kind": "local", "params": {"workers": 1}},
                      "serial": {"kind": "local", "params": {"workers": 1}},
                      "local": {"kind": "local", "params": {"workers": None}},
                      "dask": {"kind": "dask", "params": {"workers": 2, "memory_limit": "auto"}},
                      "running": {"kind": "dask",
                                  "params": {"address": os.environ.get("BENCH_DASK_ADDRESS")}},
                      }[executor]
with open("params.yaml", "w") as f:
    yaml.safe_dump(params, f, sort_keys=False)
env = dict(os.environ)
if executor == "serial":  # one thread, as a Dask nanny starts its workers (Arrow's pool too)
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
proc = psutil.Popen(sys.argv[3:], stdout=open(os.devnull, "w"), stderr=open("probe.err", "w"),
                    env=env)
peaks = {}
def sample():
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return
    for p in procs:
        try:
            rss = p.memory_info().rss
        except psutil.Error:
            continue
        peaks[p.pid] = max(peaks.get(p.pid, 0), rss)
while proc.poll() is None:
    sample()
    time.sleep(0.05)
if proc.returncode:
    sys.stderr.write(open("probe.err").read())
    sys.exit(proc.returncode)
driver = peaks.pop(proc.pid, 0)
with open(f"peaks-{tag}.jsonl", "a") as f:
    f.write(json.dumps({"driver": driver, "others": sorted(peaks.values(), reverse=True)}) + "\\n")
"""

PEAK = """\
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
"""


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def noisy(frame: Any, rows: int, seed: int) -> Any:
    """``rows`` rows resampled from ``frame`` with multiplicative noise on its float columns."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = frame.iloc[rng.integers(0, len(frame), rows)].reset_index(drop=True)
    for name in out.columns:
        if out[name].dtype.kind == "f":
            out[name] = np.clip(out[name] * rng.normal(1, NOISE, rows), 0, None)
    return out


def write_parts(root: Path, base: Path, rows: int) -> Path:
    """A folder of ``rows // FILE_ROWS`` hard links to ``base``."""
    folder = root / f"parts_{rows}"
    folder.mkdir()
    for index in range(max(1, rows // FILE_ROWS)):
        os.link(base, folder / f"part-{index:04d}.parquet")
    return folder


def peaks(root: Path, tag: str) -> dict[str, Any]:
    """Peak RSS (bytes) of the probed runs tagged ``tag``: the driver's, the largest other's."""
    runs = [json.loads(line) for line in (root / f"peaks-{tag}.jsonl").read_text().splitlines()]
    return {
        "runs": len(runs),
        "driver": max(r["driver"] for r in runs),
        "worker": max((r["others"][0] for r in runs if r["others"]), default=0),
    }


def prepare(root: Path, env: dict[str, str]) -> dict[str, Any]:
    """Train the default project in ``root``; write the 500k-row feature file."""
    import pandas as pd

    run_checked(["git", "init", "-q"], root, env)
    run_checked([str(VENV_BIN / "dvc"), "init", "-q"], root, env)
    run_checked([str(VENV_BIN / "dvc"), "repro", "train", "profile"], root, env)
    shutil.copy2(root / "params.yaml", root / "params.project.yaml")
    train = pd.read_parquet(root / "data" / "split" / "train.parquet")
    features = noisy(train.drop(columns=["diagnosis"]), FILE_ROWS, 0)
    features.to_parquet(root / "base.parquet", index=False, row_group_size=FILE_ROWS)
    (root / "probe.py").write_text(PROBE)
    (root / "peak.py").write_text(PEAK)
    return {"columns": features.shape[1], "file_rows": FILE_ROWS}


def score_part(root: Path, env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    """Score: local 1 thread vs dask 2 workers vs local all threads; memory at two sizes."""
    before = load()
    parts = write_parts(root, root / "base.parquet", args.rows)
    big = write_parts(root, root / "base.parquet", args.big)
    py, conveyor = sys.executable, str(VENV_BIN / "conveyor")

    def score(executor: str, folder: Path, *extra: str, out: str = "out.parquet") -> list[str]:
        tag = f"score-{executor}-{folder.name}"
        return [py, "probe.py", executor, tag, conveyor, "score", "models/diagnostics",
                folder.name, "-o", out, "--keep-columns", "", *extra]  # fmt: skip

    rows = f"{args.rows:,} rows"
    one = ("--threads", "1")
    local1 = Command(f"score local, 1 thread ({rows})", score("serial", parts, *one))
    local = Command(f"score local, all threads ({rows})", score("local", parts))
    dask = Command(f"score dask, 2 workers x 1 thread ({rows})", score("dask", parts))
    running = Command(f"score on a running dask cluster, 2 x 1 ({rows})", score("running", parts))
    local1_parts = Command(
        f"score local, 1 thread, into parts ({rows})", score("serial", parts, *one, out="outp/")
    )
    running_parts = Command(
        f"score on a running dask cluster, 2 x 1, into parts ({rows})",
        score("running", parts, out="outr/"),
    )
    commands = [dask, local1, local, running, local1_parts, running_parts]
    with running_cluster(root, env) as address:
        env = {**env, "BENCH_DASK_ADDRESS": address}
        timings = measure(commands, cwd=root, env=env, repeats=args.repeats, warmup=0)
    same_parts = digests(root / "outp") == digests(root / "outr")
    vs_single = compare(timings[0], timings[1])
    vs_all = compare(timings[0], timings[2])
    running_vs_single = compare(timings[3], timings[1])
    running_vs_all = compare(timings[3], timings[2])
    parts_vs_single = compare(timings[5], timings[4])
    speedup = timings[1].median / timings[0].median
    efficiency = speedup / 2
    # the goal: the workers' throughput, with the cluster up and no merge in the driver
    parts_efficiency = timings[4].median / timings[5].median / 2
    running_efficiency = timings[1].median / timings[3].median / 2
    files = args.rows // FILE_ROWS
    model = scaling_model(root, env, files, timings[1].median, score)
    run_checked(score("dask", big), root, env)
    memory = {
        "dask_small": peaks(root, f"score-dask-{parts.name}"),
        "dask_big": peaks(root, f"score-dask-{big.name}"),
        "serial_small": peaks(root, f"score-serial-{parts.name}"),
        "local_small": peaks(root, f"score-local-{parts.name}"),
    }
    worker_small = memory["dask_small"]["worker"]
    worker_big = memory["dask_big"]["worker"]
    print(
        f"score: efficiency {parts_efficiency:.2f} into parts on a running cluster, "
        f"{running_efficiency:.2f} into one file on it, {efficiency:.2f} into one file on a "
        f"cluster the command starts; parts identical across executors: {same_parts}"
    )
    met = [
        verdict(
            "score 1/parallel efficiency (running cluster, parts)",
            1 / parts_efficiency,
            round(1 / GOAL_EFFICIENCY, 3),
        ),
        verdict(
            "score running dask 2 workers / local all threads (time)",
            running_vs_all["ratio_median"],
            1.0,
        ),
        verdict("score worker peak growth", worker_big / worker_small, GOAL_FLAT, "x"),
        verdict("score parts differ across executors", 0 if same_parts else 1, 0),
    ]
    return {
        "rows": args.rows,
        "big_rows": args.big,
        "files": args.rows // FILE_ROWS,
        "big_files": args.big // FILE_ROWS,
        "load_average_before": before,
        "load_average_after": load(),
        "dask_vs_local_single_thread": vs_single,
        "dask_vs_local_all_threads": vs_all,
        "running_vs_local_single_thread": running_vs_single,
        "running_vs_local_all_threads": running_vs_all,
        "running_parts_vs_local_single_thread_parts": parts_vs_single,
        "speedup_vs_single_thread": round(speedup, 3),
        "parallel_efficiency": round(efficiency, 3),
        "parallel_efficiency_running": round(running_efficiency, 3),
        "parallel_efficiency_running_parts": round(parts_efficiency, 3),
        "parts_identical_across_executors": same_parts,
        "peak_rss_bytes": memory,
        "worker_peak_small_mib": round(worker_small / 2**20, 1),
        "worker_peak_big_mib": round(worker_big / 2**20, 1),
        "worker_peak_growth": round(worker_big / worker_small, 3),
        "scaling_model": model,
        "goals_met": all(met),
    }


def digests(folder: Path) -> dict[str, str]:
    """``{file name: sha256}`` of the files in ``folder``."""
    return {p.name: _files.digest(p) for p in sorted(folder.iterdir())}


def scaling_model(
    root: Path,
    env: dict[str, str],
    files: int,
    local1: float,
    score: Any,
) -> dict[str, Any]:
    """Fixed, per-task and merge costs of a sharded score; T(w) projected."""
    import pandas as pd
    import pyarrow.parquet as pq

    # the driver's merge: copy the row groups of the scored output into a new file
    start = time.perf_counter()
    source = pq.ParquetFile(root / "out.parquet")
    with pq.ParquetWriter(root / "merged.parquet", source.schema_arrow) as writer:
        for group in range(source.num_row_groups):
            writer.write_table(source.read_row_group(group))
    merge = time.perf_counter() - start
    small = root / "small"
    small.mkdir()
    pd.read_parquet(root / "base.parquet").head(1000).to_parquet(small / "s-0000.parquet")
    many = root / "many"
    many.mkdir()
    for index in range(SMALL_FILES):
        os.link(small / "s-0000.parquet", many / f"s-{index:04d}.parquet")
    one_local = Command(
        "score local, 1 thread, 1 small file", score("serial", small, "--threads", "1")
    )
    one_dask = Command("score dask, 1 small file", score("dask", small))
    many_dask = Command(f"score dask, {SMALL_FILES} small files", score("dask", many))
    timings = measure([one_dask, one_local, many_dask], cwd=root, env=env, repeats=3, warmup=0)
    fixed = timings[0].median - timings[1].median
    per_file = (local1 - timings[1].median) / files  # start-up and imports left out
    per_task = (timings[2].median - timings[0].median) / (SMALL_FILES - 1)
    merge_per_file = merge / files

    def model(total_files: int, w: int) -> float:
        serial = fixed + total_files * (merge_per_file + per_task)
        return serial + math.ceil(total_files / w) * per_file

    projection = {}
    for total_files in (64, 1024):
        projection[str(total_files)] = {str(w): round(model(total_files, w), 1) for w in PROJECTED}
    return {
        "timings": [t.to_dict() for t in timings],
        "per_file_s": round(per_file, 3),
        "fixed_s": round(fixed, 3),
        "per_task_s": round(per_task, 4),
        "merge_s_per_file": round(merge_per_file, 4),
        "modelled_s_at_measured": round(model(files, 2), 1),
        "projected_s_by_files_and_workers": projection,
    }


def monitor_part(root: Path, env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    """Monitor: local (in process) vs dask 2 workers; peak memory at two sizes."""
    before = load()
    parts, big = root / f"parts_{args.rows}", root / f"parts_{args.big}"
    for rows in (args.rows, args.big):
        if not (root / f"parts_{rows}").exists():
            write_parts(root, root / "base.parquet", rows)
    py, conveyor = sys.executable, str(VENV_BIN / "conveyor")

    def monitor(executor: str, folder: Path) -> list[str]:
        tag = f"monitor-{executor}-{folder.name}"
        return [py, "probe.py", executor, tag, conveyor, "monitor", folder.name, "--no-model",
                "--reference", "reports/profile.json", "-o", f"drift-{executor}"]  # fmt: skip

    rows = f"{args.big:,} rows"
    local1 = Command(f"monitor local, in process ({rows})", monitor("local1", big))
    serial = Command(f"monitor local, in process, 1 thread ({rows})", monitor("serial", big))
    dask = Command(f"monitor dask, 2 workers ({rows})", monitor("dask", big))
    running = Command(f"monitor on a running dask cluster, 2 x 1 ({rows})", monitor("running", big))
    with running_cluster(root, env) as address:
        timed_env = {**env, "BENCH_DASK_ADDRESS": address}
        timings = measure(
            [dask, local1, running, serial],
            cwd=root,
            env=timed_env,
            repeats=args.repeats,
            warmup=0,
        )
    vs_single = compare(timings[0], timings[3])
    running_vs_single = compare(timings[2], timings[3])
    running_vs_all_threads = compare(timings[2], timings[1])
    runs = ("local1", "dask", "running", "serial")
    drift = {e: (root / f"drift-{e}" / "drift.json").read_bytes() for e in runs}
    same = len(set(drift.values())) == 1
    speedup = timings[3].median / timings[0].median
    running_speedup = timings[3].median / timings[2].median
    run_checked(monitor("dask", parts), root, env)
    run_checked(monitor("local1", parts), root, env)
    memory = {
        f"{executor}_{size}": peaks(root, f"monitor-{executor}-{folder.name}")
        for executor in ("dask", "local1")
        for size, folder in (("small", parts), ("big", big))
    }

    def peak(run: dict[str, Any]) -> int:
        return max(run["driver"], run["worker"])

    growth = peak(memory["dask_big"]) / peak(memory["dask_small"])
    local_growth = peak(memory["local1_big"]) / peak(memory["local1_small"])
    largest = max(peak(m) for m in memory.values())
    scored = scored_runs(root, env, parts, big)
    scored_peaks = scored["peak_rss_bytes"]
    met = [
        verdict(
            "monitor 1/parallel efficiency (running cluster)",
            2 / running_speedup,
            round(1 / GOAL_EFFICIENCY, 3),
        ),
        verdict(
            "monitor largest process peak", largest / 2**20, GOAL_MONITOR_MEMORY / 2**20, " MiB"
        ),
        verdict("monitor peak growth (dask)", growth, GOAL_FLAT, "x"),
        verdict("monitor peak growth (local, in process)", local_growth, GOAL_FLAT, "x"),
        same,
        verdict(
            "monitor, model scoring: largest process peak",
            max(peak(m) for m in scored_peaks.values()) / 2**20,
            GOAL_MONITOR_MEMORY / 2**20,
            " MiB",
        ),
        verdict(
            "monitor, model scoring: peak growth (dask)", scored["peak_growth"], GOAL_FLAT, "x"
        ),
        verdict(
            "monitor, model scoring: peak growth (local)",
            scored["peak_growth_local"],
            GOAL_FLAT,
            "x",
        ),
        scored["drift_json_identical"],
    ]
    print(
        f"monitor: efficiency {running_speedup / 2:.2f} on a running cluster, "
        f"{speedup / 2:.2f} on a cluster the command starts; drift.json identical: {same}"
    )
    return {
        "rows": args.rows,
        "big_rows": args.big,
        "load_average_before": before,
        "load_average_after": load(),
        "dask_vs_local_single_thread": vs_single,
        "speedup_vs_single_thread": round(speedup, 3),
        "parallel_efficiency": round(speedup / 2, 3),
        "running_vs_local_single_thread": running_vs_single,
        "parallel_efficiency_running": round(running_speedup / 2, 3),
        "running_vs_local_all_threads": running_vs_all_threads,
        "drift_json_identical": same,
        "peak_rss_bytes": memory,
        "largest_peak_mib": round(largest / 2**20, 1),
        "peak_small_mib": round(peak(memory["dask_small"]) / 2**20, 1),
        "peak_big_mib": round(peak(memory["dask_big"]) / 2**20, 1),
        "peak_growth": round(growth, 3),
        "peak_local_small_mib": round(peak(memory["local1_small"]) / 2**20, 1),
        "peak_local_big_mib": round(peak(memory["local1_big"]) / 2**20, 1),
        "peak_growth_local": round(local_growth, 3),
        "scored": scored,
        "goals_met": all(met),
    }


def scored_runs(root: Path, env: dict[str, str], parts: Path, big: Path) -> dict[str, Any]:
    """``conveyor monitor`` with the model scoring the log (no ``_score``): peaks, seconds."""
    py, conveyor = sys.executable, str(VENV_BIN / "conveyor")
    runs: dict[str, Any] = {}
    for executor in ("local1", "dask"):
        for size, folder in (("small", parts), ("big", big)):
            tag = f"scored-{executor}-{folder.name}"
            out = f"drift-{tag}"
            argv = [py, "probe.py", executor, tag, conveyor, "monitor", folder.name,
                    "--reference", "reports/profile.json", "-o", out]  # fmt: skip
            start = time.perf_counter()
            run_checked(argv, root, env)
            runs[f"{executor}_{size}"] = {
                **peaks(root, tag),
                "seconds": round(time.perf_counter() - start, 1),
            }
            document = json.loads((root / out / "drift.json").read_text())
            assert document["prediction_drift"] is not None, "the model did not score"

    def peak(run: dict[str, Any]) -> int:
        return max(run["driver"], run["worker"])

    same = all(
        (root / f"drift-scored-local1-{f.name}" / "drift.json").read_bytes()
        == (root / f"drift-scored-dask-{f.name}" / "drift.json").read_bytes()
        for f in (parts, big)
    )
    growth = peak(runs["dask_big"]) / peak(runs["dask_small"])
    local_growth = peak(runs["local1_big"]) / peak(runs["local1_small"])
    print(
        f"monitor, model scoring: peaks local {peak(runs['local1_small']) / 2**20:.0f} -> "
        f"{peak(runs['local1_big']) / 2**20:.0f} MiB, dask {peak(runs['dask_small']) / 2**20:.0f}"
        f" -> {peak(runs['dask_big']) / 2**20:.0f} MiB; drift.json identical: {same}"
    )
    return {
        "peak_rss_bytes": runs,
        "peak_local_small_mib": round(peak(runs["local1_small"]) / 2**20, 1),
        "peak_local_big_mib": round(peak(runs["local1_big"]) / 2**20, 1),
        "peak_growth_local": round(local_growth, 3),
        "peak_small_mib": round(peak(runs["dask_small"]) / 2**20, 1),
        "peak_big_mib": round(peak(runs["dask_big"]) / 2**20, 1),
        "peak_growth": round(growth, 3),
        "drift_json_identical": same,
    }


def train_part(root: Path, env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    """In-memory vs external-memory xgboost fit: peak memory and AUC."""
    import pandas as pd
    import yaml
    from sklearn.metrics import roc_auc_score

    from conveyor.bundle import load_bundle
    from conveyor.bundle.trust import declared_types

    before = load()
    split = root / "data" / "split"
    train = pd.read_parquet(split / "train.parquet")
    test = pd.read_parquet(split / "test.parquet")
    big_train = noisy(train, args.train_rows, 1)
    big_train.to_parquet(split / "train.parquet", index=False)
    noisy(test, 100_000, 2).to_parquet(split / "test.parquet", index=False)
    data_bytes = int(big_train.memory_usage(deep=True).sum())
    conveyor = str(VENV_BIN / "conveyor")
    trees = f"model.params.n_estimators={args.trees}"
    out: dict[str, Any] = {"train_rows": args.train_rows, "trees": args.trees,
                           "data_bytes": data_bytes, "load_average_before": before}  # fmt: skip
    for mode, extra in (("in_memory", []), ("external", ["+model.fit.memory=external"])):
        run_checked([conveyor, "compile", trees, *extra], root, env)
        start = time.perf_counter()
        peak_kib = run_checked([sys.executable, "peak.py", conveyor, "run", "train"], root, env)
        seconds = time.perf_counter() - start
        params = yaml.safe_load((root / "params.yaml").read_text())
        bundle = load_bundle(root / "models" / "diagnostics", trusted=declared_types(params, root))
        frame = pd.read_parquet(split / "test.parquet")
        y = frame.pop("diagnosis")
        scores = bundle.pipeline.predict_proba(frame)[:, 1]
        auc = float(roc_auc_score(y == bundle.classes[1], scores))
        peak = int(peak_kib.strip().splitlines()[-1]) * 1024
        out[mode] = {"peak_rss_bytes": peak, "peak_mib": round(peak / 2**20, 1),
                     "seconds": round(seconds, 1), "auc": round(auc, 5)}  # fmt: skip
        print(f"train {mode}: peak {peak / 2**20:.0f} MiB, {seconds:.0f} s, AUC {auc:.5f}")
    ratio = out["external"]["peak_rss_bytes"] / out["in_memory"]["peak_rss_bytes"]
    gap = abs(out["external"]["auc"] - out["in_memory"]["auc"])
    met = [
        verdict("external / in-memory peak memory", ratio, GOAL_EXTERNAL_MEMORY, "x"),
        verdict("AUC gap", gap, GOAL_AUC),
    ]
    out |= {"memory_ratio": round(ratio, 3), "auc_gap": round(gap, 5), "goals_met": all(met),
            "load_average_after": load()}  # fmt: skip
    return out


def main() -> int:
    global FILE_ROWS  # a smaller file for a quick smoke run
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--big", type=int, default=4_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--train-rows", type=int, default=1_000_000)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--parts", default="score,monitor,train")
    parser.add_argument("--file-rows", type=int, default=FILE_ROWS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    FILE_ROWS = args.file_rows
    env = bench_env()
    env.pop("DASK_SCHEDULER_ADDRESS", None)  # a LocalCluster of 2 workers, not a shared one
    result: dict[str, Any] = {
        "goal": "score: parallel efficiency >= 0.8, dask 2 workers <= local all threads, "
        "worker peak flat; monitor: peak <= 1 GiB, flat, efficiency >= 0.8; "
        "external train: peak <= 0.5x in-memory, AUC within 0.002",
        "load_average_start": load(),
        "cpus": os.cpu_count(),
    }
    chosen = args.parts.split(",")
    previous = RESULTS / f"{NAME}.json"
    if set(PARTS) - set(chosen) and previous.exists():  # keep the parts not run this time
        kept = json.loads(previous.read_text(encoding="utf-8"))
        result |= {part: kept[part] for part in PARTS if part not in chosen and part in kept}
    with project_copy("scale", ".dvcignore") as root:
        result["setup"] = prepare(root, env)
        for part, run in (("score", score_part), ("monitor", monitor_part), ("train", train_part)):
            if part in chosen:
                print(f"== {part} (load average {load()})")
                started = datetime.now().astimezone().isoformat(timespec="seconds")
                result[part] = {"started": started, "argv": sys.argv[1:], **run(root, env, args)}
                write_result(NAME, result)
    result["goal_met"] = all(result[p]["goals_met"] for p in PARTS if p in result)
    write_result(NAME, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
