"""Slow and idle connection floods for ``load_test.py``, and ``/ping`` latency during them.

Four kinds of connection, ``per_kind`` of each, all open at once against one server:

- ``slow_header``: a request line, then one header line every 0.5 s, never the blank line;
- ``slow_body``: a complete head for ``POST /invocations`` with Content-Length 10000 (under
  load_test's max_body_bytes), then one
  body byte every 0.5 s;
- ``idle``: connects and sends nothing;
- ``idle_keep_alive``: one ``GET /ping``, then nothing.

A connection counts as closed by the server when its read sees EOF or a reset within its
timeout plus ``SLACK``; the client never closes first. While the flood lasts, a separate process
asks ``GET /ping`` over one keep-alive connection every 5 ms; the same process, run as long
before the flood, gives the baseline. Reported: connections closed per kind and when, every
status the flood connections saw, 5xx counted in ``/metrics``, and ``/ping`` p50/p99 with and
without the flood.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import multiprocessing
import re
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.synchronize import Event

SLACK = 5.0
"""Seconds past its timeout a close may come on a loaded machine before it counts as missed."""
TRICKLE_EVERY = 0.5
P99_GOAL_MS = 50.0
STATUS = re.compile(rb"HTTP/1\.1 (\d{3}) ")


@dataclass(frozen=True)
class Timeouts:
    """The server's limits during the flood (``conveyor serve`` flags)."""

    header: float = 2.0
    keep_alive: float = 2.0
    body: float = 4.0

    def flags(self) -> list[str]:
        return [
            "--header-timeout", str(self.header),
            "--keep-alive-timeout", str(self.keep_alive),
            "--body-timeout", str(self.body),
        ]  # fmt: skip


@dataclass
class KindResult:
    """One kind of flood connection: how many, how many the server closed in time, and when."""

    sent: int
    timeout: float
    closed: int = 0
    first_close: float | None = None
    last_close: float | None = None
    statuses: dict[int, int] = field(default_factory=dict)


@dataclass
class FloodReport:
    """What the flood did, and ``/ping`` latency (ms) without and with it."""

    per_kind: int
    timeouts: Timeouts
    kinds: dict[str, KindResult] = field(default_factory=dict)
    baseline_ms: list[float] = field(default_factory=list)
    during_ms: list[float] = field(default_factory=list)
    ping_failures: int = 0
    metrics_5xx: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def p(self, which: list[float], q: int) -> float:
        return statistics.quantiles(which, n=100)[q - 1] if len(which) >= 2 else float("nan")

    def judge(self) -> None:
        """Fill ``violations``: a connection left open, a 5xx, a failed ping, p99 over goal."""
        for kind, result in self.kinds.items():
            if result.closed != result.sent:
                self.violations.append(
                    f"{kind}: {result.sent - result.closed} of {result.sent} connections not "
                    f"closed within {result.timeout + SLACK:g} s"
                )
            if any(status >= 500 for status in result.statuses):
                self.violations.append(f"{kind}: answered {result.statuses}")
        if self.metrics_5xx:
            self.violations.append(f"/metrics counted {self.metrics_5xx} 5xx answers")
        if self.ping_failures:
            self.violations.append(f"{self.ping_failures} /ping requests failed or were not 200")
        if self.during_ms and self.p(self.during_ms, 99) >= P99_GOAL_MS:
            self.violations.append(
                f"/ping p99 during the flood {self.p(self.during_ms, 99):.1f} ms >= {P99_GOAL_MS}"
            )

    def table(self) -> str:
        lines = [
            "| connection kind | opened | closed by the server | closed after (s) | timeout (s) "
            "| answers |",
            "|---|---:|---:|---|---:|---|",
        ]
        for kind, r in self.kinds.items():
            span = f"{r.first_close:.2f}-{r.last_close:.2f}" if r.first_close is not None else "-"
            answers = ", ".join(f"{s}: {n}" for s, n in sorted(r.statuses.items())) or "none"
            lines.append(f"| {kind} | {r.sent} | {r.closed} | {span} | {r.timeout:g} | {answers} |")
        base99, during99 = self.p(self.baseline_ms, 99), self.p(self.during_ms, 99)
        lines += [
            "",
            "| /ping | requests | p50 (ms) | p99 (ms) |",
            "|---|---:|---:|---:|",
            f"| without flood (baseline) | {len(self.baseline_ms)} | "
            f"{self.p(self.baseline_ms, 50):.2f} | {base99:.2f} |",
            f"| during the flood | {len(self.during_ms)} | {self.p(self.during_ms, 50):.2f} | "
            f"{during99:.2f} |",
            "",
            f"p99 during / without: {during99 / base99:.2f}x; goal: p99 during < {P99_GOAL_MS:g} "
            f"ms ({'met' if during99 < P99_GOAL_MS else 'MISSED'}); 5xx in /metrics: "
            f"{self.metrics_5xx}; failed pings: {self.ping_failures}",
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "per_kind": self.per_kind,
            "timeouts_s": vars(self.timeouts),
            "kinds": {k: vars(r) for k, r in self.kinds.items()},
            "ping_baseline": {"n": len(self.baseline_ms), **self._summary(self.baseline_ms)},
            "ping_during_flood": {"n": len(self.during_ms), **self._summary(self.during_ms)},
            "p99_ratio_during_vs_baseline": round(
                self.p(self.during_ms, 99) / self.p(self.baseline_ms, 99), 2
            ),
            "p99_goal_ms": P99_GOAL_MS,
            "ping_failures": self.ping_failures,
            "metrics_5xx": self.metrics_5xx,
            "violations": self.violations,
            "ok": self.ok,
        }

    def _summary(self, values: list[float]) -> dict[str, float]:
        return {f"p{q}_ms": round(self.p(values, q), 3) for q in (50, 99)}


# --- /ping in another process ------------------------------------------------------------


def _ping_loop(port: int, stop: Event, out: Connection) -> None:
    """GET /ping every 5 ms over one keep-alive connection until ``stop``; send the latencies."""
    latencies: list[float] = []
    failures = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not stop.is_set():
        start = time.perf_counter()
        try:
            conn.request("GET", "/ping")
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            failures += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        latencies.append((time.perf_counter() - start) * 1000)
        failures += not ok
        time.sleep(0.005)
    conn.close()
    out.send((latencies, failures))


class Pinger:
    """``with Pinger(port) as pinger:`` ... ``pinger.result`` = (latencies in ms, failures)."""

    def __init__(self, port: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        self._receive, send = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=_ping_loop, args=(port, self._stop, send))
        self.result: tuple[list[float], int] = ([], 0)

    def __enter__(self) -> Pinger:
        self._process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.result = self._receive.recv()
        self._process.join(10)


# --- the flood ---------------------------------------------------------------------------


async def _hold(
    port: int, opening: bytes, trickle: bytes, cap: float
) -> tuple[float | None, bytes]:
    loop = asyncio.get_running_loop()
    start = loop.time()  # before connecting: the server's clock starts at accept, later
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send() -> None:
        with contextlib.suppress(OSError):
            writer.write(opening)
            await writer.drain()
            while trickle and not writer.is_closing():
                await asyncio.sleep(TRICKLE_EVERY)
                writer.write(trickle)
                await writer.drain()

    sender = asyncio.create_task(send())
    answer = b""
    closed: float | None = None
    try:
        async with asyncio.timeout(cap):
            while chunk := await reader.read(65536):
                answer += chunk
        closed = loop.time() - start
    except ConnectionError:
        closed = loop.time() - start
    except TimeoutError:
        pass
    finally:
        sender.cancel()
        writer.close()
    return closed, answer


def _kinds(timeouts: Timeouts) -> dict[str, tuple[bytes, bytes, float]]:
    """``{kind: (opening bytes, trickled bytes, the timeout that should close it)}``."""
    ping = b"GET /ping HTTP/1.1\r\nHost: load\r\n\r\n"
    body_head = (
        b"POST /invocations HTTP/1.1\r\nHost: load\r\nContent-Type: text/csv\r\n"
        b"Content-Length: 10000\r\n\r\na"
    )
    return {
        "slow_header": (b"GET /ping HTTP/1.1\r\nHost: load\r\n", b"X-Slow: 1\r\n", timeouts.header),
        "slow_body": (body_head, b"0", timeouts.body),
        "idle": (b"", b"", timeouts.header),
        "idle_keep_alive": (ping, b"", timeouts.keep_alive),
    }


async def _flood(port: int, per_kind: int, timeouts: Timeouts, report: FloodReport) -> None:
    kinds = _kinds(timeouts)
    jobs = [
        (kind, _hold(port, opening, trickle, timeout + SLACK))
        for kind, (opening, trickle, timeout) in kinds.items()
        for _ in range(per_kind)
    ]
    results = await asyncio.gather(*(job for _, job in jobs))
    for (kind, _), (closed, answer) in zip(jobs, results, strict=True):
        result = report.kinds.setdefault(kind, KindResult(per_kind, kinds[kind][2]))
        for status in STATUS.findall(answer):
            result.statuses[int(status)] = result.statuses.get(int(status), 0) + 1
        if closed is not None:
            result.closed += 1
            result.first_close = min(closed, result.first_close or closed)
            result.last_close = max(closed, result.last_close or closed)


def _count_5xx(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("conveyor_requests_total{") and 'code="5' in line
    )


def run_floods(port: int, *, per_kind: int, timeouts: Timeouts) -> FloodReport:
    """Measure /ping alone, then during the floods; judge the result."""
    report = FloodReport(per_kind, timeouts)
    errors_before = _count_5xx(port)
    seconds = max(timeouts.header, timeouts.body, timeouts.keep_alive) + 1.0
    with Pinger(port) as baseline:
        time.sleep(seconds)
    with Pinger(port) as during:
        asyncio.run(_flood(port, per_kind, timeouts, report))
    report.baseline_ms, failures = baseline.result
    report.during_ms, more = during.result
    report.ping_failures = failures + more
    report.metrics_5xx = _count_5xx(port) - errors_before
    report.judge()
    return report
