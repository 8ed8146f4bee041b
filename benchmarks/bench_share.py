"""The model sent once per worker (``Session.share``) vs pickled into every task (issue 19).

A sharded ``score_files`` of ``--files`` small Parquet files (1,000 breast-cancer rows each,
hard links to one file) on one Dask LocalCluster of 2 single-thread workers, with a
300-tree, depth-4 XGBoost pipeline (the default project's model size). The candidate is
conveyor's ``DaskSession.share`` (``client.scatter(broadcast=True)``: each worker unpickles
the predictor once); the baseline, in the same session, is the inherited ``Session.share``,
which returns the value itself, so each task carries the pickled predictor and the worker
rebuilds (and re-lowers) it per task, as sharded score did before. Rounds alternate; both
outputs must be byte-identical. Small files make the per-task cost visible: with big files
the scoring itself dominates. The load average is recorded: the machine is shared.

    .venv/bin/python benchmarks/bench_share.py [--files 64] [--rounds 4]
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from _timing import REPO, verdict, write_result

NAME = "bench_share"
ROWS = 1_000


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def big_bundle(path: Path) -> Path:
    """Scale + a 300-tree XGBoost on breast cancer, saved as a conveyor bundle."""
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from xgboost import XGBClassifier

    from conveyor.bundle import infer_schema, save_bundle

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    scale = ColumnTransformer(
        [("0_standard_scaler", StandardScaler(), list(x.columns))],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    model = XGBClassifier(n_estimators=300, max_depth=4, n_jobs=1, random_state=0)
    pipeline = Pipeline([("0_standard_scaler", scale), ("model", model)]).fit(x, y)
    schema = {
        "task": "binary_classification",
        "target": "diagnosis",
        "classes": [0, 1],
        "columns": infer_schema(x),
    }
    save_bundle(path, pipeline, schema, {"name": "big"})
    return path


def main() -> int:
    """Time both ways in one session; write benchmarks/results/bench_share.json."""
    from sklearn.datasets import load_breast_cancer

    from conveyor.bundle import load_bundle
    from conveyor.bundle.predictor import Predictor
    from conveyor.bundle.scoring import score_files
    from conveyor.executors.dask import ADDRESS_VARIABLE, DaskExecutor, DaskSession
    from conveyor.plugins.executor import Session

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    os.environ.pop(ADDRESS_VARIABLE, None)  # a LocalCluster of 2 workers, not a shared one
    before = load()
    with tempfile.TemporaryDirectory(prefix="bench-share-", dir=REPO / "benchmarks") as tmp:
        work = Path(tmp)
        predictor = Predictor(load_bundle(big_bundle(work / "models" / "big")))
        (work / "in").mkdir()
        frame = load_breast_cancer(as_frame=True).frame.drop(columns="target")
        frame.sample(ROWS, replace=True, random_state=0).to_parquet(
            work / "in" / "f-0000.parquet", index=False
        )
        for index in range(1, args.files):
            os.link(work / "in" / "f-0000.parquet", work / "in" / f"f-{index:04d}.parquet")
        ways: dict[str, Any] = {"shared": DaskSession.share, "per_task": Session.share}
        times: dict[str, list[float]] = {way: [] for way in ways}
        config = {"workers": 2, "memory_limit": "1GiB"}
        executor = cast("DaskExecutor", DaskExecutor.from_config(config))
        try:
            with executor.open(where="executor") as session:
                score_files(predictor, ["in"], work / "warm.parquet", root=work, session=session)
                for _ in range(args.rounds):
                    for way, share in ways.items():
                        DaskSession.share = share  # type: ignore[method-assign]
                        start = time.perf_counter()
                        score_files(
                            predictor, ["in"], work / f"{way}.parquet", root=work, session=session
                        )
                        times[way].append(round(time.perf_counter() - start, 3))
        finally:
            DaskSession.share = ways["shared"]  # type: ignore[method-assign]
        same = (work / "shared.parquet").read_bytes() == (work / "per_task.parquet").read_bytes()
    median = {way: statistics.median(values) for way, values in times.items()}
    ratio = median["shared"] / median["per_task"]
    per_task_saved = (median["per_task"] - median["shared"]) / args.files
    print(f"shared {median['shared']:.2f} s, per task {median['per_task']:.2f} s: {ratio:.3f}x")
    met = [verdict("shared / per-task time", ratio, 1.0, "x"), same]
    result = {
        "goal": "sharing the model once per worker is no slower than sending it with each "
        "task, and the outputs are byte-identical",
        "files": args.files,
        "rows_per_file": ROWS,
        "rounds": args.rounds,
        "pickled_predictor_bytes": len(pickle.dumps(predictor)),
        "load_average_before": before,
        "load_average_after": load(),
        "times_s": times,
        "median_s": {way: round(value, 3) for way, value in median.items()},
        "ratio_shared_to_per_task": round(ratio, 3),
        "saved_per_task_s": round(per_task_saved, 4),
        "outputs_identical": same,
        "goal_met": all(met),
    }
    write_result(NAME, result)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
