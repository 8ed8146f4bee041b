"""A version swap under load: ``conveyor serve diagnostics#prod --follow`` while the stage moves.

Setup: the repo's default project (``conf/``, n_estimators 300 -> 40 and one thread, as the
tests' template) in a fresh git + DVC repo; ``dvc repro`` trains model A (v1.0.0), then again
with n_estimators 25 for model B (v1.1.0); B is promoted to prod. A real
``conveyor serve diagnostics#prod --follow --poll S`` runs in its own process, and 16 clients
(asyncio + httpx, keep-alive, one process) post 2-row Open Inference Protocol requests in a
loop, recording each request's start, end, status and the ``model_version`` that answered.

Phases: a warm-up; a steady window (the baseline p99); ``conveyor registry rollback
diagnostics --stage prod`` (B -> A); a steady window; ``conveyor registry promote diagnostics
v1.1.0 prod`` (A -> B); a last steady window. A swap's window runs from the command's start
until ``--tail`` seconds after the first answer from the new version: it holds the command,
the poll, the verification (materialise, hash, load, probe) and the swap itself.

Reported: failed requests (goal 0), steady p99 and each swap window's p99 (goal: at most 2x the
steady p99 measured just before it), and for the rollback the time from the command's return
to the first and to the last request answered by the old version.

    .venv/bin/python benchmarks/bench_swap.py [--poll 1] [--steady 10] [--tail 2] [--project DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _timing import REPO, VENV_BIN, bench_env, run_checked, verdict, write_result
from bench_serve import THREADS
from load_test import free_port, server_process

NAME = "bench_swap"
MODEL = "diagnostics"
CLIENTS = 16


@dataclass(frozen=True)
class Answer:
    """One request as a client saw it."""

    start: float
    end: float
    status: int
    version: str


def conveyor(root: Path, env: dict[str, str], *args: str) -> str:
    return run_checked([str(VENV_BIN / "conveyor"), *args], root, env)


def build_registry(root: Path, env: dict[str, str]) -> None:
    """The default project, trained twice and registered: v1.0.0 (A) and v1.1.0 (B, in prod)."""
    root.mkdir(parents=True)
    shutil.copytree(REPO / "conf", root / "conf")
    xgb = root / "conf" / "model" / "xgboost.yaml"
    xgb.write_text(xgb.read_text().replace("n_estimators: 300", "n_estimators: 40"))
    for model in ("xgboost", "random_forest"):
        conf = root / "conf" / "model" / f"{model}.yaml"
        conf.write_text(conf.read_text().replace("n_jobs: 2", "n_jobs: 1"))
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    run_checked(["git", "init", "-q", "-b", "main"], root, env)
    for argv in (["init", "-q"], ["config", "core.analytics", "false"]):
        run_checked([str(VENV_BIN / "dvc"), *argv], root, env)
    run_checked([str(VENV_BIN / "dvc"), "config", "hydra.enabled", "true"], root, env)
    for trees in (40, 25):
        xgb.write_text(xgb.read_text().replace("n_estimators: 40", f"n_estimators: {trees}"))
        conveyor(root, env, "compile")
        print(f"  dvc repro (n_estimators {trees}) ...", flush=True)
        run_checked([str(VENV_BIN / "dvc"), "repro", "-q"], root, env)
        run_checked(["git", "add", "-A"], root, env)
        run_checked([*git, "commit", "-qm", f"model with {trees} trees"], root, env)
    conveyor(root, env, "registry", "register", MODEL, "--ref", "HEAD~1")
    conveyor(root, env, "registry", "register", MODEL, "--ref", "HEAD", "--bump", "minor")
    for version in ("v1.0.0", "v1.1.0"):  # A held prod before B: a rollback has a target
        conveyor(root, env, "registry", "promote", MODEL, version, "--to", "prod", "--force")


class Load:
    """``CLIENTS`` clients posting in a loop on a thread of their own, until stopped."""

    def __init__(self, url: str, body: bytes) -> None:
        self.url, self.body = url, body
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    async def _run(self) -> None:
        import httpx

        limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
        async with httpx.AsyncClient(base_url=self.url, timeout=30, limits=limits) as http:
            await asyncio.gather(*(self._client(http) for _ in range(CLIENTS)))

    async def _client(self, http: Any) -> None:
        import httpx

        path = f"/v2/models/{MODEL}/infer"
        headers = {"content-type": "application/json"}
        while not self._stop.is_set():
            start = time.monotonic()
            try:
                got = await http.post(path, content=self.body, headers=headers)
                version = got.json().get("model_version", "?") if got.is_success else "?"
                status = got.status_code
            except httpx.HTTPError as exc:
                status, version = 0, type(exc).__name__
            self.answers.append(Answer(start, time.monotonic(), status, version))


def p99_ms(answers: list[Answer]) -> float:
    latencies = sorted(a.end - a.start for a in answers)
    if not latencies:
        return float("nan")
    return 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]


def window(answers: list[Answer], start: float, end: float) -> list[Answer]:
    return [a for a in answers if start <= a.start < end]


def summary(answers: list[Answer]) -> dict[str, Any]:
    latencies = [a.end - a.start for a in answers]
    return {
        "requests": len(answers),
        "failed": sum(a.status != 200 for a in answers),
        "p50_ms": round(1000 * statistics.median(latencies), 2) if latencies else None,
        "p99_ms": round(p99_ms(answers), 2),
        "versions": {
            v: sum(a.version == v for a in answers) for v in sorted({a.version for a in answers})
        },
    }


def swap(
    load: Load, root: Path, env: dict[str, str], argv: list[str], old: str, new: str, tail: float
) -> dict[str, Any]:
    """Run one registry command under load; time the swap it causes."""
    started = time.monotonic()
    conveyor(root, env, *argv)
    returned = time.monotonic()
    deadline = returned + 120
    while time.monotonic() < deadline:
        if any(a.version == new and a.start > started for a in load.answers[-64:]):
            break
        time.sleep(0.05)
    first_new = min(a.end for a in load.answers if a.version == new and a.start > started)
    time.sleep(tail)
    answers = list(load.answers)
    last_old = max(a.end for a in answers if a.version == old)
    late = [a for a in answers if a.version == old and a.start > first_new]
    return {
        "command": f"conveyor {' '.join(argv)}",
        "from": old,
        "to": new,
        "command_s": round(returned - started, 3),
        "return_to_first_new_s": round(first_new - returned, 3),
        "return_to_last_old_s": round(last_old - returned, 3),
        "start_to_last_old_s": round(last_old - started, 3),
        "old_started_after_first_new": len(late),
        "window": summary(window(answers, started, first_new + tail)),
        "window_end": first_new + tail,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poll", type=float, default=1.0, help="the server's --poll")
    parser.add_argument("--steady", type=float, default=10.0, help="seconds per steady window")
    parser.add_argument(
        "--tail", type=float, default=2.0, help="seconds after the first new answer"
    )
    parser.add_argument(
        "--project",
        type=Path,
        help="build the registry here and keep it; reuse it when it exists (prod ends on v1.1.0)",
    )
    args = parser.parse_args()
    env = dict(bench_env(), **THREADS)
    work = Path(tempfile.mkdtemp(prefix="conveyor-bench-swap-"))
    try:
        root = args.project.resolve() if args.project else work / "project"
        if not (root / ".git").is_dir():
            print("building a registry with two versions (two dvc repro runs) ...", flush=True)
            build_registry(root, env)
        import pandas as pd

        rows = pd.read_parquet(root / "data" / "split" / "test.parquet").drop(columns=["diagnosis"])
        x = rows.head(2)
        tensor = {"name": "input-0", "shape": [2, len(x.columns)], "datatype": "FP64"}
        body = json.dumps({"inputs": [{**tensor, "data": x.to_numpy().ravel().tolist()}]})
        port = free_port()
        argv = [
            str(VENV_BIN / "conveyor"), "serve", f"{MODEL}#prod", "--follow",
            "--poll", str(args.poll), "--host", "127.0.0.1", "--port", str(port),
        ]  # fmt: skip
        log = work / "server.log"
        load_start = round(os.getloadavg()[0], 2)  # the machine is shared: say how busy it was
        with server_process(argv, port=port, log=log, env=env, cwd=root) as _:
            load = Load(f"http://127.0.0.1:{port}", body.encode())
            load.start()
            time.sleep(3)  # warm-up
            t0 = time.monotonic()
            time.sleep(args.steady)
            steady_before = window(load.answers, t0, time.monotonic())
            rollback = swap(
                load, root, env, ["registry", "rollback", MODEL, "--stage", "prod"],
                "v1.1.0", "v1.0.0", args.tail,
            )  # fmt: skip
            t1 = time.monotonic()
            time.sleep(args.steady)
            steady_between = window(load.answers, t1, time.monotonic())
            promote = swap(
                load, root, env, ["registry", "promote", MODEL, "v1.1.0", "--to", "prod"],
                "v1.0.0", "v1.1.0", args.tail,
            )  # fmt: skip
            t2 = time.monotonic()
            time.sleep(args.steady)
            steady_after = window(load.answers, t2, time.monotonic())
            load.stop()
        server_log = log.read_text(encoding="utf-8", errors="replace")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    answers = load.answers
    failed = [a for a in answers if a.status != 200]
    steady = {
        "before_rollback": summary(steady_before),
        "between": summary(steady_between),
        "after_promote": summary(steady_after),
    }
    for result, baseline in ((rollback, steady_before), (promote, steady_between)):
        result.pop("window_end")
        result["p99_ratio_to_steady"] = round(result["window"]["p99_ms"] / p99_ms(baseline), 2)
    print(f"\n{len(answers)} requests, {len(failed)} failed")
    for label, part in steady.items():
        print(f"steady {label}: {part['requests']} requests, p99 {part['p99_ms']} ms")
    for result in (rollback, promote):
        w = result["window"]
        print(
            f"{result['command']}: {result['command_s']} s; first {result['to']} answer "
            f"{result['return_to_first_new_s']} s after it returned, last {result['from']} answer "
            f"{result['return_to_last_old_s']} s after; window {w['requests']} requests, "
            f"{w['failed']} failed, p99 {w['p99_ms']} ms ({result['p99_ratio_to_steady']}x steady)"
        )
    ok = verdict("failed requests", len(failed), 0)
    for result in (rollback, promote):
        ok &= verdict(f"{result['to']} swap p99 / steady p99", result["p99_ratio_to_steady"], 2.0)
    write_result(
        NAME,
        {
            "model": f"{MODEL} (default project, xgboost 40 vs 25 trees, one thread)",
            "server": f"conveyor serve {MODEL}#prod --follow --poll {args.poll:g}",
            "load_generator": f"{CLIENTS} asyncio httpx clients, keep-alive, 2-row /v2 infer",
            "poll_s": args.poll,
            "steady_window_s": args.steady,
            "tail_s": args.tail,
            "requests": len(answers),
            "failed": len(failed),
            "steady": steady,
            "rollback": rollback,
            "promote": promote,
            "server_log_tracebacks": server_log.count("Traceback"),
            "load_average_1m": {"start": load_start, "end": round(os.getloadavg()[0], 2)},
        },
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
