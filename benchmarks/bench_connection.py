"""The cost of conveyor's connection guard: its httptools protocol vs uvicorn's, per request.

Claim (issue 14, docs/serving.md "Resource limits"): the header/body deadlines, the head size
limit and the connection bound cost a few microseconds a request, far under the ~1.3 ms a
1-row scoring request takes (bench_serve.py), so the fast path keeps its speed.

Setup: in one process and one uvloop loop, each protocol class gets a fake transport and is fed
the same 10-byte POST (one read: head and body together, as a small request arrives) ``--requests``
times on one keep-alive connection; the app answers at once, so the protocol is all that is
timed. Baseline: uvicorn's own ``HttpToolsProtocol``. Rounds alternate the order; CPU time
(``time.process_time``) is used, and the minimum over rounds is the estimate least disturbed by
other load on a shared machine (the median is shown too).

    .venv/bin/python benchmarks/bench_connection.py [--rounds 40] [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from typing import Any

NAME = "bench_connection"
REQUEST = (
    b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\nAccept: */*\r\n"
    b"Content-Type: application/json\r\nContent-Length: 10\r\n\r\n0123456789"
)


async def _app(scope: Any, receive: Any, send: Any) -> None:
    del scope, receive
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]}
    )
    await send({"type": "http.response.body", "body": b"\n"})


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.closed = False
        self.writes = 0

    def write(self, data: Any) -> None:
        self.writes += 1

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _per_request_us(protocol: type[asyncio.Protocol], requests: int) -> float:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    config = Config(_app, ws="none", log_level="warning")
    config.load()
    connection: Any = protocol(config=config, server_state=ServerState(), app_state={})  # type: ignore[call-arg]
    transport = _Transport()
    connection.connection_made(transport)
    start = time.process_time()
    for _ in range(requests):
        connection.data_received(REQUEST)
        await asyncio.sleep(0)  # the app's task runs and answers
        await asyncio.sleep(0)
    elapsed = time.process_time() - start
    connection.connection_lost(None)
    if transport.writes < requests:
        raise SystemExit(f"{protocol.__name__} answered {transport.writes} of {requests}")
    return elapsed / requests * 1e6


async def _measure(rounds: int, requests: int) -> dict[str, list[float]]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from conveyor.serving._connection import ConnectionLimits, protocol_class

    sides: dict[str, type[asyncio.Protocol]] = {
        "uvicorn HttpToolsProtocol": HttpToolsProtocol,
        "conveyor guarded protocol": protocol_class(ConnectionLimits(10.0, 60.0, 1000)),
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    await _per_request_us(HttpToolsProtocol, requests)  # warm-up
    for index in range(rounds):
        order = list(sides) if index % 2 == 0 else list(sides)[::-1]
        for name in order:
            times[name].append(await _per_request_us(sides[name], requests))
    return times


def main() -> int:
    import uvloop
    from _timing import write_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    times = uvloop.run(_measure(args.rounds, args.requests))
    (base_name, base), (guard_name, guard) = times.items()
    print(f"{NAME}: {args.rounds} alternating rounds of {args.requests} requests, CPU µs a request")
    print("| protocol | min | median |\n|---|---:|---:|")
    for name, values in times.items():
        print(f"| {name} | {min(values):.2f} | {statistics.median(values):.2f} |")
    extra = min(guard) - min(base)
    print(
        f"guard: +{extra:.2f} µs a request (min), ratio {min(guard) / min(base):.3f}; "
        f"median ratio {statistics.median(guard) / statistics.median(base):.3f}"
    )
    write_result(
        NAME,
        {
            "rounds": args.rounds,
            "requests": args.requests,
            "us_per_request_min": {k: round(min(v), 3) for k, v in times.items()},
            "us_per_request_median": {k: round(statistics.median(v), 3) for k, v in times.items()},
            "extra_us_min": round(extra, 3),
            "baseline": base_name,
            "candidate": guard_name,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
