"""The predictor's numpy fast path vs the bundle's scikit-learn Pipeline, in one process.

Backs the claim in docs/architecture.md that scoring one row through the fitted Pipeline costs
milliseconds of per-step overhead. Same bundle (``models/diagnostics``: impute + scale +
xgboost 300 trees), same rows: 1-row requests (check + predict, as the server does) and one
65,536-row chunk (as ``conveyor score`` does). Rounds alternate; medians are reported.

    .venv/bin/python benchmarks/bench_predictor.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _timing import write_result

NAME = "bench_predictor"
REPO = Path(__file__).resolve().parents[1]


def per_call(fn: object, calls: int) -> float:
    """Mean seconds per call of ``fn`` over ``calls`` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()  # type: ignore[operator]
    return (time.perf_counter() - start) / calls


def main() -> None:
    """Measure both paths and write benchmarks/results/bench_predictor.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    from conveyor.bundle import load_bundle
    from conveyor.bundle.predictor import Predictor

    bundle = load_bundle(REPO / "models" / "diagnostics")
    predictor = Predictor(bundle)
    assert predictor.fast_path, predictor.fast_path_reason
    frame = load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    row = {c: [float(frame[c].iloc[0])] for c in frame.columns}
    chunk = frame.sample(65_536, replace=True, random_state=0).reset_index(drop=True)
    columns = {c: chunk[c].to_numpy() for c in chunk.columns}
    got = predictor.predict_rows(columns).proba
    assert np.array_equal(got, bundle.pipeline.predict_proba(chunk))

    cases = {
        "1 row": (
            lambda: predictor.predict_rows(row),
            lambda: bundle.pipeline.predict_proba(pd.DataFrame(row)),
            300,
        ),
        "65,536 rows": (
            lambda: predictor.predict_rows(columns),
            lambda: bundle.pipeline.predict_proba(chunk),
            3,
        ),
    }
    results = {}
    for label, (fast, pipeline, calls) in cases.items():
        fast_s, pipe_s = [], []
        for i in range(args.rounds):
            order = [(fast, fast_s), (pipeline, pipe_s)]
            for fn, sink in order if i % 2 == 0 else order[::-1]:
                sink.append(per_call(fn, calls))
        fast_med, pipe_med = statistics.median(fast_s), statistics.median(pipe_s)
        results[label] = {
            "fast_path_ms": round(fast_med * 1e3, 4),
            "pipeline_ms": round(pipe_med * 1e3, 4),
            "speedup": round(pipe_med / fast_med, 2),
        }
        print(
            f"{label}: fast path {fast_med * 1e3:.3f} ms, Pipeline {pipe_med * 1e3:.3f} ms "
            f"-> {pipe_med / fast_med:.1f}x"
        )
    write_result(NAME, {"model": "models/diagnostics", "rounds": args.rounds, **results})


if __name__ == "__main__":
    main()
