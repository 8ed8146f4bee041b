"""``conveyor serve`` vs ``mlflow models serve``: 1-row requests per second and latency.

Goal (issue 5, item 6): at concurrency 1 and 16, conveyor answers >= 3x MLflow's requests per
second, with a lower p99 latency.

Setup: one XGBClassifier (200 trees, depth 4) is fitted on scikit-learn's breast-cancer data
(30 float columns) and saved twice: as a conveyor bundle (``Pipeline([("model", clf)])``, the
bundle a ``features: none`` project trains) and as xgboost's ``model.ubj``, which the MLflow
venv turns into an MLflow model (``_mlflow_model.py``, ``mlflow.xgboost.save_model`` with a
signature). That venv (latest ``mlflow`` with xgboost, scikit-learn and pandas; MLflow's own
pins rule) is created once by this script under ``~/.cache/conveyor-bench/mlflow-venv``
(``$CONVEYOR_BENCH_CACHE`` moves it). Both servers get the same rows before measuring and must
return the same class labels.

Servers: ``conveyor serve BUNDLE`` and ``mlflow models serve -m DIR --env-manager local
--workers 1``, one uvicorn worker each, both with ``OMP_NUM_THREADS=1`` (and the OpenBLAS/MKL
equivalents), on loopback. With ``--log-dir`` support, a third server is conveyor with
prediction logging on, to show its cost.

Load: ApacheBench (``ab``, Debian package apache2-utils) posts one 1-row ``dataframe_split``
JSON body to ``/invocations``, a new connection per request (ab's default; ``--keepalive``
reuses them and writes ``bench_serve_keepalive.json``). Per concurrency: a 3-second warm-up
per server, then ``--repeats`` rounds in which the servers take turns in alternating order;
each run stops after ``--requests-c1`` / ``--requests-c16`` requests or ``--seconds``,
whichever comes first (MLflow is slow enough that a fixed count would take many minutes).
Reported: the median over rounds of requests/s, p50 and p99 latency (from ab's ``-e``
percentile file, in ms), and conveyor / MLflow ratios. The run takes 4-7 minutes once the
venv exists.

    .venv/bin/python benchmarks/bench_serve.py [--repeats 3] [--requests-c1 3000]
        [--requests-c16 10000] [--seconds 20] [--keepalive] [--no-log-server]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _timing import CommandError, bench_env, ensure_venv, run_checked, write_result
from load_test import conveyor_serve, free_port, server_process, train_bundle

NAME = "bench_serve"
GOAL_RATIO = 3.0
HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("CONVEYOR_BENCH_CACHE", Path.home() / ".cache" / "conveyor-bench"))
MLFLOW_VENV = CACHE / "mlflow-venv"
MLFLOW_PACKAGES = ("mlflow", "xgboost", "scikit-learn", "pandas")
THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
AB = "/usr/bin/ab"
PARITY_ROWS = 20


@dataclass(frozen=True)
class Server:
    """A server under test: its label and how to start it on a port."""

    label: str
    argv: list[str]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class AbRun:
    """One ``ab`` run: throughput and latency percentiles in milliseconds."""

    rps: float
    p50_ms: float
    p99_ms: float
    failed: int

    def to_dict(self) -> dict[str, float]:
        return {
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
        }


def ensure_mlflow_venv() -> Path:
    """The MLflow venv's python, creating the venv on first use (about 2 minutes)."""
    return ensure_venv(
        MLFLOW_VENV, MLFLOW_PACKAGES, "import mlflow, xgboost, sklearn, pandas, uvicorn", NAME
    )


def require_ab() -> None:
    """Fail with the install command when ApacheBench is missing."""
    if not Path(AB).is_file():
        raise CommandError(
            f"{AB} not found: install it with 'apt-get update && apt-get install -y apache2-utils'"
        )


def ab(
    url: str,
    body: Path,
    requests: int,
    concurrency: int,
    *,
    seconds: int,
    keepalive: bool,
    work: Path,
) -> AbRun:
    """Run ``ab`` for ``requests`` or ``seconds``, whichever ends first.

    Raises CommandError if any request failed or was not a 2xx.
    """
    percentiles = work / "percentiles.csv"
    argv = [
        AB,
        "-q",
        "-t",
        str(seconds),
        "-n",  # after -t, which would otherwise set it to 50000
        str(requests),
        "-c",
        str(concurrency),
        "-p",
        str(body),
        "-T",
        "application/json",
        "-e",
        str(percentiles),
        *(["-k"] if keepalive else []),
        f"{url}/invocations",
    ]
    output = run_checked(argv, work, dict(os.environ))
    rps = float(_field(output, r"Requests per second:\s+([\d.]+)"))
    non_2xx = int(_field(output, r"Non-2xx responses:\s+(\d+)", "0"))
    # "Length" failures only mean bodies of varying size; these must all be the same anyway.
    failed = sum(
        int(_field(output, rf"{kind}: (\d+)", "0")) for kind in ("Connect", "Receive", "Exceptions")
    )
    if non_2xx or failed:
        raise CommandError(f"ab against {url}: {non_2xx} non-2xx, {failed} failed\n{output}")
    table = dict(line.split(",") for line in percentiles.read_text().splitlines()[1:])
    return AbRun(rps, float(table["50"]), float(table["99"]), failed)


def _field(text: str, pattern: str, default: str | None = None) -> str:
    match = re.search(pattern, text)
    if match is None:
        if default is None:
            raise CommandError(f"no match for {pattern!r} in ab's output:\n{text}")
        return default
    return match.group(1)


def predictions(server: Server, sample: dict[str, Any]) -> list[Any]:
    """The class labels a server returns for the sample rows."""
    import httpx

    body = {"dataframe_split": {"columns": sample["columns"], "data": sample["data"]}}
    response = httpx.post(f"{server.url}/invocations", json=body, timeout=30)
    if response.status_code != 200:
        raise CommandError(f"{server.label}: {response.status_code} {response.text[:500]}")
    return list(response.json()["predictions"])


def measure_servers(
    servers: list[Server], body: Path, args: argparse.Namespace, work: Path
) -> dict[int, dict[str, list[AbRun]]]:
    """``{concurrency: {label: [one AbRun per round]}}``, rounds in alternating order."""
    runs: dict[int, dict[str, list[AbRun]]] = {}
    for concurrency, requests in ((1, args.requests_c1), (16, args.requests_c16)):
        for server in servers:  # warm-up: connections, allocators, the first predictions
            ab(server.url, body, 500, concurrency, seconds=3, keepalive=args.keepalive, work=work)
        runs[concurrency] = {s.label: [] for s in servers}
        for round_ in range(args.repeats):
            for server in servers if round_ % 2 == 0 else servers[::-1]:
                run = ab(
                    server.url,
                    body,
                    requests,
                    concurrency,
                    seconds=args.seconds,
                    keepalive=args.keepalive,
                    work=work,
                )
                runs[concurrency][server.label].append(run)
                print(
                    f"  c={concurrency} round {round_ + 1}/{args.repeats} {server.label}: "
                    f"{run.rps:.0f} req/s, p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms"
                )
    return runs


def summarise(
    runs: dict[int, dict[str, list[AbRun]]], conveyor: str, mlflow: str
) -> tuple[list[dict[str, Any]], bool]:
    """Medians per server and concurrency with ratios to MLflow; print the table and verdicts.

    Besides the ratio of median req/s, the median of the per-round ratios is shown: the runs of
    one round are adjacent in time, so it is the least disturbed by other load on the machine.
    """
    rows: list[dict[str, Any]] = []
    for concurrency, by_label in runs.items():
        base = by_label[mlflow]
        for label in sorted(by_label, key=lambda label: (label != mlflow, label)):
            label_runs = by_label[label]
            rps = statistics.median(r.rps for r in label_runs)
            paired = [r.rps / b.rps for r, b in zip(label_runs, base, strict=True)]
            rows.append(
                {
                    "server": label,
                    "concurrency": concurrency,
                    "rps": round(rps, 1),
                    "p50_ms": round(statistics.median(r.p50_ms for r in label_runs), 3),
                    "p99_ms": round(statistics.median(r.p99_ms for r in label_runs), 3),
                    "rps_ratio_to_mlflow": round(rps / statistics.median(b.rps for b in base), 2),
                    "rps_ratio_per_round_median": round(statistics.median(paired), 2),
                    "runs": [r.to_dict() for r in label_runs],
                }
            )
    print("\n| server | concurrency | req/s | p50 ms | p99 ms | req/s vs MLflow (per round) |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['server']} | {row['concurrency']} | {row['rps']:.0f} | {row['p50_ms']:.2f} "
            f"| {row['p99_ms']:.2f} | {row['rps_ratio_to_mlflow']:.2f}x "
            f"({row['rps_ratio_per_round_median']:.2f}x) |"
        )
    met = True
    by_key = {(row["server"], row["concurrency"]): row for row in rows}
    for concurrency in runs:
        ours, theirs = by_key[conveyor, concurrency], by_key[mlflow, concurrency]
        ok = ours["rps_ratio_to_mlflow"] >= GOAL_RATIO and ours["p99_ms"] < theirs["p99_ms"]
        met = met and ok
        print(
            f"{'GOAL MET' if ok else 'GOAL MISSED'} at concurrency {concurrency}: "
            f"{ours['rps_ratio_to_mlflow']:.2f}x MLflow's req/s (goal >= {GOAL_RATIO}x), "
            f"p99 {ours['p99_ms']:.2f} ms vs {theirs['p99_ms']:.2f} ms"
        )
    return rows, met


def serve_supports(option: str) -> bool:
    """Whether ``conveyor serve --help`` lists ``option``."""
    argv = [*conveyor_serve(Path(), 0)[:2], "--help"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return option in done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests-c1", type=int, default=3000)
    parser.add_argument("--requests-c16", type=int, default=10_000)
    parser.add_argument(
        "--seconds", type=int, default=20, help="time limit of one ab run (slow servers)"
    )
    parser.add_argument(
        "--keepalive",
        action="store_true",
        help="ab -k: reuse connections (result in bench_serve_keepalive.json)",
    )
    parser.add_argument(
        "--no-log-server", action="store_true", help="skip conveyor with prediction logging on"
    )
    args = parser.parse_args()
    require_ab()
    mlflow_python = ensure_mlflow_venv()
    env = {**bench_env(), **THREADS}

    work = Path(tempfile.mkdtemp(prefix="conveyor-bench-serve-"))
    try:
        print(f"{NAME}: training the xgboost model in {work}")
        bundle = train_bundle(work / "model", n_estimators=200)
        sample = json.loads((work / "model" / "sample.json").read_text())
        made = run_checked(
            [
                str(mlflow_python),
                str(HERE / "_mlflow_model.py"),
                str(work / "model" / "model.ubj"),
                str(work / "model" / "sample.json"),
                str(work / "mlflow-model"),
            ],
            work,
            env,
        )
        mlflow_version = json.loads(made.strip().splitlines()[-1])["mlflow"]
        body = work / "body.json"
        body.write_text(
            json.dumps(
                {"dataframe_split": {"columns": sample["columns"], "data": sample["data"][:1]}}
            )
        )

        conveyor = Server("conveyor", conveyor_serve(bundle, port := free_port()), port)
        mlflow = Server(
            f"mlflow {mlflow_version}",
            [
                str(MLFLOW_VENV / "bin" / "mlflow"),
                "models",
                "serve",
                "-m",
                str(work / "mlflow-model"),
                "--env-manager",
                "local",
                "--workers",
                "1",
                "--host",
                "127.0.0.1",
                "-p",
                str(port := free_port()),
            ],
            port,
        )
        servers = [conveyor, mlflow]
        if not args.no_log_server and serve_supports("--log-dir"):
            logged = conveyor_serve(bundle, port := free_port(), "--log-dir", str(work / "log"))
            servers.append(Server("conveyor + prediction log", logged, port))

        mlflow_env = {**env, "PATH": f"{MLFLOW_VENV / 'bin'}{os.pathsep}{env['PATH']}"}
        with contextlib.ExitStack() as stack:
            for server in servers:
                print(f"{NAME}: starting {server.label} on port {server.port}")
                log = work / f"server-{server.port}.log"
                server_env = mlflow_env if server is mlflow else env
                stack.enter_context(
                    server_process(server.argv, port=server.port, log=log, env=server_env)
                )
            expected = predictions(mlflow, sample)
            for server in servers:
                got = predictions(server, sample)
                if got != expected:
                    raise CommandError(f"{server.label} predicts {got}, MLflow {expected}")
            connections = "keep-alive" if args.keepalive else "a new connection per request"
            print(
                f"{NAME}: all servers agree on {len(expected)} rows; measuring "
                f"({args.repeats} rounds, {connections})"
            )
            runs = measure_servers(servers, body, args, work)
        rows, met = summarise(runs, conveyor.label, mlflow.label)
        write_result(
            f"{NAME}_keepalive" if args.keepalive else NAME,
            {
                "goal": f"conveyor >= {GOAL_RATIO}x MLflow req/s with a lower p99, at c=1 and c=16",
                "goal_met": met,
                "model": "XGBClassifier(n_estimators=200, max_depth=4), 30 float features",
                "mlflow_version": mlflow_version,
                "load_generator": "ab (apache2-utils), 1-row dataframe_split JSON to /invocations",
                "keepalive": args.keepalive,
                "threads": THREADS,
                "repeats": args.repeats,
                "requests": {"1": args.requests_c1, "16": args.requests_c16},
                "seconds_per_run_max": args.seconds,
                "results": rows,
            },
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
