"""The cost of prediction logging: ``conveyor serve`` with and without ``--log-dir``.

The handler only puts a record on a queue; a writer thread turns records into Parquet files.
So the request path pays almost nothing, and what remains is the writer's CPU time competing
with the server on the same cores. Both show here: the mean time inside the handler (from the
server's own ``conveyor_request_duration_seconds``) and what a client sees (``ab``'s req/s,
p50 and p99).

Setup: the same 200-tree XGBClassifier bundle as ``bench_serve.py`` (``load_test.train_bundle``),
1-row ``dataframe_split`` bodies, ``OMP_NUM_THREADS=1``. Per concurrency (1 and 16): a warm-up,
then ``--repeats`` rounds in which the two servers take turns in alternating order. After the
runs, the logged rows are counted: every scored request must be in the log (nothing dropped).

    .venv/bin/python benchmarks/bench_prediction_log.py [--repeats 3] [--requests 4000]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from _timing import bench_env, write_result
from bench_serve import THREADS, AbRun, ab, require_ab
from load_test import conveyor_serve, free_port, server_process, train_bundle

NAME = "bench_prediction_log"
LABELS = ("logging off", "logging on")


def handler_seconds(url: str) -> tuple[float, int]:
    """Total seconds spent in /invocations handlers so far, and the request count."""
    import httpx

    text = httpx.get(f"{url}/metrics", timeout=10).text
    total = re.search(
        r'^conveyor_request_duration_seconds_sum\{endpoint="/invocations"\} (\S+)$',
        text,
        re.MULTILINE,
    )
    count = re.search(
        r'^conveyor_request_duration_seconds_count\{endpoint="/invocations"\} (\S+)$',
        text,
        re.MULTILINE,
    )
    return (float(total.group(1)), int(float(count.group(1)))) if total and count else (0.0, 0)


def logged_rows(log_dir: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(f).num_rows for f in log_dir.rglob("part-*.parquet"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    require_ab()
    env = dict(bench_env(), **THREADS)
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-log-") as scratch:
        work = Path(scratch)
        bundle = train_bundle(work / "model")
        sample = json.loads((work / "model" / "sample.json").read_text())
        body = work / "body.json"
        split = {"columns": sample["columns"], "data": sample["data"][:1]}
        body.write_text(json.dumps({"dataframe_split": split}))
        log_dir = work / "log"
        ports = {label: free_port() for label in LABELS}
        argv = {
            "logging off": conveyor_serve(bundle, ports["logging off"]),
            "logging on": conveyor_serve(bundle, ports["logging on"], "--log-dir", str(log_dir)),
        }
        urls = {label: f"http://127.0.0.1:{port}" for label, port in ports.items()}
        runs: dict[int, dict[str, list[AbRun]]] = {}
        handler: dict[int, dict[str, list[float]]] = {}
        with (
            server_process(
                argv["logging off"], port=ports["logging off"], log=work / "off.log", env=env
            ),
            server_process(
                argv["logging on"], port=ports["logging on"], log=work / "on.log", env=env
            ),
        ):
            for concurrency in (1, 16):
                for url in urls.values():
                    ab(url, body, 500, concurrency, seconds=3, keepalive=False, work=work)
                runs[concurrency] = {label: [] for label in LABELS}
                handler[concurrency] = {label: [] for label in LABELS}
                for round_ in range(args.repeats):
                    for label in LABELS if round_ % 2 == 0 else LABELS[::-1]:
                        before = handler_seconds(urls[label])
                        run = ab(
                            urls[label],
                            body,
                            args.requests,
                            concurrency,
                            seconds=args.seconds,
                            keepalive=False,
                            work=work,
                        )
                        after = handler_seconds(urls[label])
                        mean_us = 1e6 * (after[0] - before[0]) / max(1, after[1] - before[1])
                        runs[concurrency][label].append(run)
                        handler[concurrency][label].append(mean_us)
                        print(
                            f"  c={concurrency} round {round_ + 1}/{args.repeats} {label}: "
                            f"{run.rps:.0f} req/s, p50 {run.p50_ms:.2f} ms, "
                            f"p99 {run.p99_ms:.2f} ms, handler {mean_us:.0f} us"
                        )
            scored = handler_seconds(urls["logging on"])[1]
        rows_logged = logged_rows(log_dir)  # the servers stopped (SIGTERM): the log is flushed
    results = summarise(runs, handler)
    print(f"\nrows logged: {rows_logged} of {scored} scored requests")
    write_result(
        NAME,
        {
            "model": "XGBClassifier(n_estimators=200, max_depth=4), 30 float features",
            "load_generator": "ab, 1-row dataframe_split JSON to /invocations, no keep-alive",
            "repeats": args.repeats,
            "requests": args.requests,
            "results": results,
            "rows_logged": rows_logged,
            "requests_scored": scored,
        },
    )
    return 0 if rows_logged == scored else 1


def summarise(
    runs: dict[int, dict[str, list[AbRun]]], handler: dict[int, dict[str, list[float]]]
) -> list[dict[str, Any]]:
    """Medians per concurrency and setting, printed as a markdown table."""
    rows = []
    for concurrency, by_label in runs.items():
        for label in LABELS:
            label_runs = by_label[label]
            rows.append(
                {
                    "concurrency": concurrency,
                    "setting": label,
                    "rps": round(statistics.median(r.rps for r in label_runs), 1),
                    "p50_ms": round(statistics.median(r.p50_ms for r in label_runs), 3),
                    "p99_ms": round(statistics.median(r.p99_ms for r in label_runs), 3),
                    "handler_us": round(statistics.median(handler[concurrency][label]), 1),
                    "runs": [r.to_dict() for r in label_runs],
                }
            )
    print("\n| concurrency | prediction log | req/s | p50 ms | p99 ms | in handler (mean) |")
    print("|---:|---|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['concurrency']} | {row['setting'].removeprefix('logging ')} | "
            f"{row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | "
            f"{row['handler_us']:.0f} us |"
        )
    return rows


if __name__ == "__main__":
    sys.exit(main())
