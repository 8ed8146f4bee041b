"""A scoring task on a Dask worker with glibc's thresholds raised vs bare (issue 19).

Dask's nanny starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which makes every block
of 128 KiB or more a fresh mmap; conveyor's executor runs each task inside
``conveyor._malloc.freed_memory_kept``. On a LocalCluster of one worker (one thread, so nothing
else competes for the core), ``--files`` Parquet files of 500k rows x 30 columns
(``bench_scale``'s: the default project's training rows resampled with 5% noise, hard links to
one file) are scored with the default project's model (``dvc repro train``: median imputer,
standard scaler, 300 XGBoost trees), each into its part by ``score_shard`` (the task of a
sharded ``conveyor score``): through the session (``DaskSession.submit``, the candidate) and
as bare Dask tasks (``client.submit``, the baseline). Each way runs on a freshly restarted
worker process after one warm-up file, in rounds whose order alternates. Time and minor page
faults are read inside the task; the parts must be byte-identical.

    .venv/bin/python benchmarks/bench_malloc.py [--files 6] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import TYPE_CHECKING, Any, cast

from _timing import bench_env, project_copy, verdict, write_result
from bench_scale import FILE_ROWS, load, prepare, write_parts

if TYPE_CHECKING:
    from conveyor.bundle._chunks import Tally
    from conveyor.bundle._shards import Shard
    from conveyor.bundle.predictor import Predictor
    from conveyor.executors.dask import DaskSession

NAME = "bench_malloc"


def timed_shard(shard: Shard, predictor: Predictor) -> tuple[float, int, Tally]:
    """``score_shard``'s wall time and minor page faults, read on the worker."""
    import resource

    from conveyor.bundle._shards import score_shard

    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    tally = score_shard(shard, predictor)
    seconds = time.perf_counter() - start
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults, tally


def submit(session: DaskSession, way: str, shard: Shard, model: Any) -> tuple[float, int, Tally]:
    """``timed_shard`` through the session (``kept``) or as a bare Dask task (``bare``)."""
    if way == "kept":
        return session.submit(timed_shard, shard, model).result()
    return cast(
        "tuple[float, int, Tally]",
        session.client.submit(timed_shard, shard, model, pure=False).result(),
    )


def main() -> int:
    """Time both ways on one worker; write benchmarks/results/bench_malloc.json."""
    from conveyor.bundle import load_bundle
    from conveyor.bundle._batch_sources import open_source
    from conveyor.bundle._chunks import Layout
    from conveyor.bundle._shards import Plan, Shard
    from conveyor.bundle.predictor import Predictor
    from conveyor.executors.dask import ADDRESS_VARIABLE, DaskExecutor

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.pop(ADDRESS_VARIABLE, None)  # a LocalCluster, not a shared one
    before = load()
    ways = ("kept", "bare")
    seconds: dict[str, list[float]] = {way: [] for way in ways}
    faults: dict[str, list[int]] = {way: [] for way in ways}
    with project_copy("malloc", ".dvcignore") as work:
        print(f"{NAME}: training the default project in {work}")
        prepare(work, bench_env())
        predictor = Predictor(load_bundle(work / "models" / "diagnostics"), threads=1)
        parts = write_parts(work, work / "base.parquet", args.files * FILE_ROWS)
        inputs = sorted(parts.iterdir())
        layout = Layout.build(predictor, open_source(inputs[0], inputs[0].name), [])
        plan = Plan(list(predictor.schema.names), 65_536, layout, "fail")
        for way in ways:
            (work / way).mkdir()
        executor = cast("DaskExecutor", DaskExecutor.from_config({"workers": 1}))
        with executor.open(where="executor") as session:
            for round_ in range(args.rounds):
                for way in ways if round_ % 2 == 0 else ways[::-1]:
                    # a fresh worker process for each way: a worker that ran one kept task
                    # runs its later bare ones with fewer faults than a new one does
                    session.client.restart()
                    model = session.share(predictor)
                    warm = Shard(plan, inputs[0], "warm", work / "warm.parquet")
                    submit(session, way, warm, model)  # its imports and first allocations
                    for index, path in enumerate(inputs):
                        shard = Shard(plan, path, path.name, work / way / f"{index}.parquet")
                        took, faulted, _ = submit(session, way, shard, model)
                        seconds[way].append(round(took, 4))
                        faults[way].append(faulted)
        same = all(
            (work / "kept" / f"{i}.parquet").read_bytes()
            == (work / "bare" / f"{i}.parquet").read_bytes()
            for i in range(args.files)
        )
    median = {way: statistics.median(seconds[way]) for way in ways}
    median_faults = {way: statistics.median(faults[way]) for way in ways}
    ratio = median["kept"] / median["bare"]
    print(
        f"a file: kept {median['kept']:.3f} s, {median_faults['kept']:,.0f} faults; "
        f"bare {median['bare']:.3f} s, {median_faults['bare']:,.0f} faults: {ratio:.3f}x"
    )
    met = [verdict("kept / bare time a file", ratio, 1.0, "x"), same]
    result = {
        "goal": "a task with the thresholds raised is no slower than a bare one on the same "
        "worker, and writes the same bytes",
        "files": args.files,
        "rows_per_file": FILE_ROWS,
        "rounds": args.rounds,
        "load_average_before": before,
        "load_average_after": load(),
        "seconds": seconds,
        "page_faults": faults,
        "median_s": {way: round(value, 3) for way, value in median.items()},
        "median_page_faults": median_faults,
        "ratio_kept_to_bare": round(ratio, 3),
        "faults_ratio_bare_to_kept": round(median_faults["bare"] / median_faults["kept"], 1),
        "parts_identical": same,
        "goal_met": all(met),
    }
    write_result(NAME, result)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
