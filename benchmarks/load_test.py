"""Load test: a real ``conveyor serve`` under concurrent traffic, a share of it malformed.

Goal (issue 5, item 7): 10,000 requests at concurrency 32, 20% malformed in varied ways, give
zero 5xx; every malformed request gets the exact 4xx its kind calls for, in its protocol's
error shape; every valid one gets 200 with one prediction per row; afterwards ``/health`` and
``/v2/health/ready`` answer 200, the server process is alive, and the error counters in
``/metrics`` grew by exactly the number of malformed requests.

Then (issue 14) bounded floods of slow-header, slow-body and idle connections (``_floods.py``,
``--flood`` of each kind, all open at once) against the same server, run with short timeouts:
every one is closed by the server within its timeout, no answer is a 5xx, and ``GET /ping``
keeps a p99 under 50 ms during the flood (reported against its p99 without the flood).

The server is the installed ``conveyor serve`` on a free loopback port, started with a small
``--max-body-bytes`` so that oversized bodies are cheap to send. The model is the default
project's bundle (``models/diagnostics``) when it exists, else a small xgboost bundle trained
here on scikit-learn's breast-cancer data. Request bodies are built from the bundle's
``schema.json``, so any bundle works. The client is asyncio + httpx over the real socket;
on 2 shared cores it, not the server, bounds the request rate, so the rate is reported but is
not a goal (bench_serve.py measures speed with ``ab``).

    .venv/bin/python benchmarks/load_test.py [--requests 10000] [--concurrency 32]
        [--malformed-share 0.2] [--model models/diagnostics] [--flood 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _floods import FloodReport, Timeouts, run_floods
from _load_requests import Case, Payloads, make_cases

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

NAME = "load_test"
REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_MODEL = REPO / "models" / "diagnostics"
MAX_BODY_BYTES = 64 * 1024
FLOOD_TIMEOUTS = Timeouts(header=2.0, keep_alive=2.0, body=4.0)
ERROR_METRIC = "conveyor_request_errors"
"""The server's counter of refused or failed requests, labelled by endpoint and reason."""


# --- the server process ------------------------------------------------------------------


def free_port() -> int:
    """A TCP port that was free on loopback a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server_process(
    argv: list[str],
    *,
    port: int,
    log: Path,
    env: dict[str, str] | None = None,
    ready_path: str = "/ping",
    timeout: float = 180.0,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv`` (a server on ``port``) in its own process group; stop it on exit.

    Waits until ``GET ready_path`` answers 200. The process group is ours alone, so stopping it
    also stops the workers a launcher spawns (``mlflow models serve`` runs uvicorn as a child).
    """
    import httpx

    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=cwd
        )
    try:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{port}{ready_path}"
        while True:
            if proc.poll() is not None:
                raise SystemExit(
                    f"server exited with {proc.returncode}: {' '.join(argv)}\n{tail(log)}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"server not ready after {timeout:.0f} s: {' '.join(argv)}\n{tail(log)}"
                )
            time.sleep(0.2)
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group we started, then SIGKILL it if it lingers."""
    for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait)
            return


def tail(log: Path, lines: int = 30) -> str:
    """The last lines of a server log, for error messages."""
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def conveyor_serve(model: Path, port: int, *extra: str) -> list[str]:
    """The ``conveyor serve`` command line for ``model`` on loopback ``port``."""
    return [
        str(VENV_BIN / "conveyor"),
        "serve",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra,
    ]


def train_bundle(out: Path, *, n_estimators: int = 200) -> Path:
    """Fit ``Pipeline([("model", XGBClassifier)])`` on breast-cancer data; save a bundle.

    The bundle (``out/bundle``) is what ``runtime/stages/train.py`` writes for a project with
    ``features: none``; the same booster is saved as ``out/model.ubj`` for other servers, and
    ``out/sample.json`` holds the first rows of the data as ``{"columns", "data"}``.
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import Pipeline
    from xgboost import XGBClassifier

    from conveyor.bundle import infer_schema, save_bundle

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = XGBClassifier(
        n_estimators=n_estimators, max_depth=4, learning_rate=0.05, n_jobs=1, random_state=42
    )
    pipeline = Pipeline([("model", model)]).fit(x, y)
    schema = {
        "task": "binary_classification",
        "target": "target",
        "classes": [0, 1],
        "columns": infer_schema(x),
    }
    metadata = {
        "name": "bench_xgb",
        "model": "xgboost",
        "estimator": "xgboost.sklearn.XGBClassifier",
        "trusted_modules": [],
    }
    out.mkdir(parents=True, exist_ok=True)
    save_bundle(out / "bundle", pipeline, schema, metadata)
    model.save_model(out / "model.ubj")
    sample = {"columns": list(x.columns), "data": x.iloc[::28].head(20).to_numpy().tolist()}
    (out / "sample.json").write_text(json.dumps(sample), encoding="utf-8")
    return out / "bundle"


# --- sending and judging -----------------------------------------------------------------


@dataclass
class LoadReport:
    """What happened: status counts per kind, violations, and the after-checks."""

    requests: int
    malformed: int
    concurrency: int
    seconds: float = 0.0
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    server_errors: int = 0
    health: dict[str, int] = field(default_factory=dict)
    error_metric_growth: int | None = None
    error_reasons: dict[str, int] = field(default_factory=dict)
    alive: bool = True
    flood: FloodReport | None = None

    @property
    def ok(self) -> bool:
        return not self.violations and (self.flood is None or self.flood.ok)

    def violate(self, message: str) -> None:
        if len(self.violations) < 50:
            self.violations.append(message)

    def table(self) -> str:
        """A markdown table: one line per kind of request."""
        lines = ["| request kind | sent | expected | answered | ok |", "|---|---:|---:|---|---|"]
        for kind in sorted(self.statuses, key=lambda k: (self.expected[k] == 200, k)):
            counts = self.statuses[kind]
            got = ", ".join(f"{code}: {n}" for code, n in sorted(counts.items()))
            good = set(counts) == {self.expected[kind]}
            lines.append(
                f"| {kind} | {sum(counts.values())} | {self.expected[kind]} | {got} | "
                f"{'yes' if good else 'NO'} |"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "malformed": self.malformed,
            "concurrency": self.concurrency,
            "seconds": round(self.seconds, 2),
            "requests_per_second": round(self.requests / self.seconds, 1) if self.seconds else None,
            "server_errors_5xx": self.server_errors,
            "statuses": {k: {str(c): n for c, n in v.items()} for k, v in self.statuses.items()},
            "expected": self.expected,
            "health_after": self.health,
            "error_metric_growth": self.error_metric_growth,
            "error_reasons": self.error_reasons,
            "server_alive_after": self.alive,
            "violations": self.violations,
            "flood": self.flood.to_dict() if self.flood else None,
            "ok": self.ok,
        }


def judge(case: Case, status: int, body: bytes, report: LoadReport) -> None:
    """Record one answer; add a violation if it is not what the case calls for."""
    report.statuses.setdefault(case.kind, Counter())[status] += 1
    report.expected[case.kind] = case.expect
    if status >= 500:
        report.server_errors += 1
    if status != case.expect:
        report.violate(f"{case.kind}: expected {case.expect}, got {status}: {body[:300]!r}")
        return
    try:
        answer = json.loads(body)
    except ValueError:
        report.violate(f"{case.kind}: {status} with a body that is not JSON: {body[:300]!r}")
        return
    if status == 200:
        count = _predictions(answer, case.protocol)
        if count != case.rows:
            report.violate(f"{case.kind}: {case.rows} rows in, {count} predictions out")
    elif not _error_shaped(answer, case.protocol):
        report.violate(f"{case.kind}: {status} body is not a {case.protocol} error: {body[:300]!r}")


def _predictions(answer: Any, protocol: str) -> int | None:
    if protocol == "mlflow":
        predictions = answer.get("predictions") if isinstance(answer, dict) else None
        return len(predictions) if isinstance(predictions, list) else None
    for output in answer.get("outputs", []) if isinstance(answer, dict) else []:
        if output.get("name") == "predict" and output.get("shape", [None])[0] == len(
            output.get("data", [])
        ):
            return len(output["data"])
    return None


def _error_shaped(answer: Any, protocol: str) -> bool:
    """MLflow: ``{"error_code", "message"}``; OIP: ``{"error"}``; each a non-empty string."""
    keys = ("error_code", "message") if protocol == "mlflow" else ("error",)
    return isinstance(answer, dict) and all(
        isinstance(answer.get(k), str) and answer[k] for k in keys
    )


async def send_all(base_url: str, cases: list[Case], concurrency: int, report: LoadReport) -> None:
    """Send every case with ``concurrency`` requests in flight, judging each answer."""
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    pending = iter(cases)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60.0) as client:

        async def worker() -> None:
            for case in pending:
                try:
                    response = await client.post(
                        case.path, content=case.content, headers={"content-type": case.content_type}
                    )
                except httpx.HTTPError as exc:
                    report.statuses.setdefault(case.kind, Counter())[0] += 1
                    report.expected[case.kind] = case.expect
                    report.violate(f"{case.kind}: no answer ({type(exc).__name__}: {exc})")
                    continue
                judge(case, response.status_code, response.content, report)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def error_counts(metrics_text: str) -> Counter[str]:
    """``{reason: count}`` of the server's error counter in a Prometheus text exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(metrics_text):
        if family.name == ERROR_METRIC:
            for sample in family.samples:
                if sample.name == f"{ERROR_METRIC}_total":
                    counts[sample.labels.get("reason", "")] += int(sample.value)
    return counts


def run_load_test(
    base_url: str,
    schema: dict[str, Any],
    model_name: str,
    *,
    requests: int = 10_000,
    concurrency: int = 32,
    malformed_share: float = 0.2,
    max_body_bytes: int = MAX_BODY_BYTES,
    seed: int = 0,
    alive: Callable[[], bool] = lambda: True,
) -> LoadReport:
    """Send the mixed load to a running server and check it; never raises on a bad answer."""
    import httpx

    payloads = Payloads(schema, model_name, random.Random(seed))
    cases = make_cases(
        payloads, requests=requests, malformed_share=malformed_share, max_body_bytes=max_body_bytes
    )
    malformed = sum(case.expect != 200 for case in cases)
    report = LoadReport(requests, malformed, concurrency)
    before = error_counts(httpx.get(f"{base_url}/metrics", timeout=10).text)
    start = time.perf_counter()
    asyncio.run(send_all(base_url, cases, concurrency, report))
    report.seconds = time.perf_counter() - start
    for path in ("/health", "/v2/health/ready", "/ping"):
        try:
            report.health[path] = httpx.get(f"{base_url}{path}", timeout=10).status_code
        except httpx.HTTPError:
            report.health[path] = 0
        if report.health[path] != 200:
            report.violate(f"after the load {path} answered {report.health[path]}")
    after = error_counts(httpx.get(f"{base_url}/metrics", timeout=10).text)
    report.error_reasons = dict(sorted((after - before).items()))
    report.error_metric_growth = sum(report.error_reasons.values())
    if report.error_metric_growth != malformed:
        report.violate(
            f"/metrics {ERROR_METRIC} grew by {report.error_metric_growth}, "
            f"not by the {malformed} malformed requests"
        )
    report.alive = alive()
    if not report.alive:
        report.violate("the server process died")
    if report.server_errors:
        report.violate(f"{report.server_errors} answers were 5xx")
    return report


def load_test_bundle(
    bundle: Path,
    *,
    requests: int,
    concurrency: int,
    malformed_share: float,
    max_body_bytes: int = MAX_BODY_BYTES,
    log: Path,
    flood: int = 0,
) -> LoadReport:
    """Start ``conveyor serve`` on ``bundle``, run the load test (and ``flood``) on it, stop it."""
    schema = json.loads((bundle / "schema.json").read_text(encoding="utf-8"))
    name = json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))["name"]
    port = free_port()
    argv = conveyor_serve(
        bundle,
        port,
        "--max-body-bytes",
        str(max_body_bytes),
        # strict columns, so an extra column is one more malformed kind (the default ignores it)
        "--extra-columns",
        "error",
        *FLOOD_TIMEOUTS.flags(),
    )
    with server_process(argv, port=port, log=log) as proc:
        report = run_load_test(
            f"http://127.0.0.1:{port}",
            schema,
            name,
            requests=requests,
            concurrency=concurrency,
            malformed_share=malformed_share,
            max_body_bytes=max_body_bytes,
            alive=lambda: proc.poll() is None,
        )
        if flood:
            report.flood = run_floods(port, per_kind=flood, timeouts=FLOOD_TIMEOUTS)
        return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--malformed-share", type=float, default=0.2)
    parser.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES)
    parser.add_argument(
        "--flood", type=int, default=200, help="connections of each flood kind (0: no flood)"
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="a bundle directory (default: models/diagnostics, else train one)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="conveyor-load-") as tmp:
        bundle = (args.model or DEFAULT_MODEL).resolve()
        if args.model and not (bundle / "schema.json").is_file():
            sys.exit(f"{bundle} is not a model bundle (no schema.json)")
        if not (bundle / "schema.json").is_file():
            print(f"{NAME}: no {bundle.relative_to(REPO)}; training a small xgboost bundle")
            bundle = train_bundle(Path(tmp) / "model")
        print(
            f"{NAME}: {args.requests} requests at concurrency {args.concurrency}, "
            f"{args.malformed_share:.0%} malformed, against conveyor serve {bundle}"
        )
        report = load_test_bundle(
            bundle,
            requests=args.requests,
            concurrency=args.concurrency,
            malformed_share=args.malformed_share,
            max_body_bytes=args.max_body_bytes,
            log=Path(tmp) / "server.log",
            flood=args.flood,
        )
        if not report.ok:
            print(tail(Path(tmp) / "server.log"))
    print(report.table())
    print(
        f"\n{report.requests} requests ({report.malformed} malformed) in {report.seconds:.1f} s "
        f"= {report.requests / report.seconds:.0f} req/s (client-bound); "
        f"5xx: {report.server_errors}; after: {report.health}; "
        f"alive: {report.alive}\n{ERROR_METRIC} grew by {report.error_metric_growth}: "
        + ", ".join(f"{reason} {n}" for reason, n in report.error_reasons.items())
    )
    if report.flood is not None:
        print(
            f"\nfloods: {args.flood} connections of each kind at once, timeouts "
            f"{vars(FLOOD_TIMEOUTS)} s\n{report.flood.table()}"
        )
    for violation in report.violations + (report.flood.violations if report.flood else []):
        print(f"VIOLATION: {violation}")
    print("LOAD TEST PASSED" if report.ok else "LOAD TEST FAILED")
    from _timing import write_result

    model = bundle.relative_to(REPO) if bundle.is_relative_to(REPO) else "trained by load_test.py"
    write_result(NAME, {"model": str(model), **report.to_dict()})
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
