"""Server resource limits: slow or idle connections are closed, wide or long requests are cheap.

A real ``conveyor serve`` on loopback, with short timeouts so that each flood takes seconds. A
connection counts as closed by the server when its read sees EOF (or a reset); the client never
closes first. Threat: a client that opens many connections and sends slowly, or nothing, or a
body whose size is within ``max_body_bytes`` but whose shape makes the server work for seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conveyor.errors import SpecError
from conveyor.serving.config import from_mapping
from tests.conftest import VENV_BIN, conveyor
from tests.integration.test_serve import _BANNER, Server
from tests.unit.serving.conftest import IMPUTE_SCALE, cancer_frame, save

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

HEADER_TIMEOUT = 1.5
KEEP_ALIVE = 1.0
BODY_TIMEOUT = 2.0
SLACK = 3.0
"""How late a close may be on a loaded machine; without the limit a connection never closes."""
EARLY = 0.9
"""A close before ``EARLY * timeout`` means the server did not wait for the timeout it was given."""
FLOOD = 60
"""Connections per kind in a flood."""
MAX_ROWS = 50
EXTRA_COLUMNS = 10
"""Columns past the model's that still get the schema check's per-column message."""
HEAD_LIMIT = 32 * 1024
PING = b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n"


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from xgboost import XGBClassifier

    x, y = cancer_frame()
    path = tmp_path_factory.mktemp("limits") / "models" / "cancer"
    model = XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1)
    return save(path, x, y, IMPUTE_SCALE, model, "binary_classification", [0, 1])


class _Server(Server):
    """``conveyor serve`` with its stderr in a file: a flood must not block on a full pipe."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.stderr = cwd / "stderr.log"
        with self.stderr.open("w") as err:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "conveyor"), "serve", *args, "--host", "127.0.0.1", "--port", "0"],
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        try:
            self.banner = self._read_banner()
        except pytest.fail.Exception:
            pytest.fail(f"conveyor serve did not start:\n{self.stderr.read_text()}")
        match = _BANNER.match(self.banner)
        assert match, self.banner
        self.label, self.model, self.version, self.url = match.groups()
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def stop(self) -> tuple[int, str]:
        self.http.close()
        self.process.send_signal(signal.SIGTERM)
        self.process.communicate(timeout=60)
        return self.process.returncode, self.stderr.read_text()


def _start(bundle_dir: Path, where: Path, **config: Any) -> _Server:
    (where / "serve.json").write_text(json.dumps(config))
    return _Server([str(bundle_dir), "--config", str(where / "serve.json")], where)


@pytest.fixture(scope="module")
def server(bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Server]:
    running = _start(
        bundle_dir,
        tmp_path_factory.mktemp("server"),
        header_timeout=HEADER_TIMEOUT,
        keep_alive_timeout=KEEP_ALIVE,
        body_timeout=BODY_TIMEOUT,
        max_rows=MAX_ROWS,
        extra_columns="error",  # ignore's bound: tests/unit/serving/test_extra_columns.py
    )
    yield running
    code, stderr = running.stop()
    assert code == 0
    assert "Traceback" not in stderr, stderr[-3000:]


def _port(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


# --- floods ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """One flood connection: when the server closed it (None: still open) and what it said."""

    closed_after: float | None
    answer: bytes

    def statuses(self) -> list[int]:
        return [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", self.answer)]


async def _hold(port: int, opening: bytes, trickle: bytes, cap: float) -> Held:
    """Send ``opening``, then ``trickle`` every 0.2 s, and read until the server closes."""
    loop = asyncio.get_running_loop()
    start = loop.time()  # before connecting: the server's clock starts at accept, later
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send() -> None:
        with contextlib.suppress(OSError):
            writer.write(opening)
            await writer.drain()
            while trickle and not writer.is_closing():
                await asyncio.sleep(0.2)
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
    return Held(closed, answer)


async def _ping_until(url: str, stop: asyncio.Event) -> list[int]:
    statuses = []
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        while not stop.is_set():
            statuses.append((await client.get("/ping")).status_code)
            await asyncio.sleep(0.05)
    return statuses


def _flood(
    server: Server, kinds: list[tuple[bytes, bytes]], cap: float
) -> tuple[list[Held], list[int]]:
    """``FLOOD`` connections of each kind at once, while /ping is asked every 50 ms."""

    async def run() -> tuple[list[Held], list[int]]:
        stop = asyncio.Event()
        pings = asyncio.create_task(_ping_until(server.url, stop))
        port = _port(server)
        held = await asyncio.gather(
            *(
                _hold(port, opening, trickle, cap)
                for opening, trickle in kinds
                for _ in range(FLOOD)
            )
        )
        stop.set()
        return list(held), await pings

    return asyncio.run(run())


def _closed_within(held: list[Held], timeout: float) -> None:
    times = [h.closed_after for h in held]
    still_open = sum(t is None for t in times)
    assert still_open == 0, (
        f"{still_open} of {len(held)} connections still open after {timeout + SLACK} s"
    )
    closed = [t for t in times if t is not None]
    assert min(closed) >= EARLY * timeout, f"closed after {min(closed):.2f} s, before {timeout} s"


def _no_5xx(server: Server, held: list[Held], pings: list[int]) -> None:
    statuses = [s for h in held for s in h.statuses()]
    assert not [s for s in statuses if s >= 500]
    assert len(pings) >= 10, pings
    assert set(pings) == {200}
    metrics = server.http.get("/metrics").text
    assert 'code="5' not in metrics


def _head(method: str, path: str, *headers: str) -> bytes:
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: t", *headers, ""]).encode()


@pytest.mark.slow
def test_a_slow_header_flood_is_closed_at_the_header_timeout(server: Server) -> None:
    fresh = (_head("GET", "/ping"), b"X-Slow: 1\r\n")
    # uvicorn's keep-alive timer alone is cancelled by every byte: trickle the second request
    after_a_request = (PING + _head("GET", "/ping"), b"X-Slow: 1\r\n")
    held, pings = _flood(server, [fresh, after_a_request], HEADER_TIMEOUT + SLACK)

    _closed_within(held, HEADER_TIMEOUT)
    assert {tuple(h.statuses()) for h in held[:FLOOD]} == {(408,)}
    assert {tuple(h.statuses()) for h in held[FLOOD:]} == {(200, 408)}
    _no_5xx(server, held, pings)


@pytest.mark.slow
def test_a_slow_body_flood_is_closed_at_the_body_timeout(server: Server) -> None:
    length = "Content-Length: 100000"
    csv = (_head("POST", "/invocations", "Content-Type: text/csv", length, "") + b"a", b"0")
    infer = (_head("POST", f"/v2/models/{server.model}/infer", length, "") + b"[", b" ")
    # /ping answers without reading the body; the rest of it must not hold the connection
    ping = (_head("GET", "/ping", length, ""), b"0")
    held, pings = _flood(server, [csv, infer, ping], BODY_TIMEOUT + SLACK)

    _closed_within(held, BODY_TIMEOUT)
    assert {tuple(h.statuses()) for h in held[: 2 * FLOOD]} == {(408,)}
    assert {tuple(h.statuses()) for h in held[2 * FLOOD :]} == {(200,)}
    _no_5xx(server, held, pings)


@pytest.mark.slow
def test_an_idle_flood_is_closed(server: Server) -> None:
    silent = (b"", b"")
    kept_alive = (PING, b"")
    held, pings = _flood(server, [silent, kept_alive], HEADER_TIMEOUT + SLACK)

    _closed_within(held[:FLOOD], HEADER_TIMEOUT)  # a connection that never sends a request
    _closed_within(held[FLOOD:], KEEP_ALIVE)
    assert {h.answer for h in held[:FLOOD]} == {b""}
    assert {tuple(h.statuses()) for h in held[FLOOD:]} == {(200,)}
    _no_5xx(server, held, pings)


def _raw(port: int, request: bytes) -> bytes:
    """Send ``request`` and read until the server closes (keep-alive: after a second)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        with contextlib.suppress(TimeoutError, ConnectionError):
            while chunk := sock.recv(65536):
                answer += chunk
    return answer


@pytest.mark.slow
def test_a_request_head_over_32_kib_gets_431(server: Server) -> None:
    # what counts: the target, then each header's name and value ("/ping", "host" "t", ...)
    fixed = len("/ping") + len("host") + len("t") + len("x-pad")
    at_limit = _head("GET", "/ping", "X-Pad: " + "a" * (HEAD_LIMIT - fixed), "")
    over = _head("GET", "/ping", "X-Pad: " + "a" * (HEAD_LIMIT - fixed + 1), "")
    assert _raw(_port(server), at_limit).startswith(b"HTTP/1.1 200")
    answer = _raw(_port(server), over)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert b"32768 bytes" in answer


@pytest.mark.slow
def test_connections_past_max_connections_are_closed_at_once(
    bundle_dir: Path, tmp_path: Path
) -> None:
    running = _start(bundle_dir, tmp_path, max_connections=4, header_timeout=30)
    port = _port(running)
    held: list[socket.socket] = []

    def hold() -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(PING)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")  # accepted and counted
        held.append(sock)

    def ping() -> int | None:
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(f"{running.url}/ping", timeout=5).status_code
        return None

    def soon(expected: int | None) -> int | None:
        for _ in range(30):
            if (got := ping()) == expected:
                return got
            time.sleep(0.1)
        return got

    try:
        for _ in range(3):
            hold()
        assert soon(200) == 200  # 3 held + this one = 4, the limit
        hold()
        assert ping() is None  # a fifth is closed without an answer
        held.pop().close()
        assert soon(200) == 200  # and the server takes connections again
    finally:
        for sock in held:
            sock.close()
        running.stop()


# --- the work one request can cause -------------------------------------------------------------


def _columns(server: Server) -> list[str]:
    return [i["name"] for i in server.http.get(f"/v2/models/{server.model}").json()["inputs"]]


def _row(columns: list[str]) -> list[float]:
    return [1.0] * len(columns)


@pytest.mark.slow
def test_a_200000_column_csv_is_refused_before_it_is_parsed(server: Server) -> None:
    n = 200_000
    body = ",".join(f"c{i}" for i in range(n)) + "\n" + ",".join("1" for _ in range(n)) + "\n"
    answer = server.http.post("/invocations", content=body, headers={"content-type": "text/csv"})
    assert answer.status_code == 400
    message = answer.json()["message"]
    assert message.startswith(f"the CSV header has {n} columns; model 'cancer' takes 30"), message
    # the schema check never saw it: that would name unknown columns
    assert "is not an input" not in message
    assert 'reason="too_many_columns"' in server.http.get("/metrics").text


def _request(kind: str, names: list[str]) -> tuple[str, dict[str, Any]]:
    """One row with the columns ``names``, sent as ``kind``."""
    if kind == "csv":
        body = ",".join(names) + "\n" + ",".join("1" for _ in names) + "\n"
        return "/invocations", {"content": body, "headers": {"content-type": "text/csv"}}
    if kind == "oip":
        tensors = [{"name": n, "shape": [1], "datatype": "FP64", "data": [1.0]} for n in names]
        return "/v2/models/cancer/infer", {"json": {"inputs": tensors}}
    docs = {
        "split": {"dataframe_split": {"columns": names, "data": [_row(names)]}},
        "records": {"dataframe_records": [dict.fromkeys(names, 1.0)]},
        "inputs": {"inputs": {name: [1.0] for name in names}},
    }
    return "/invocations", {"json": docs[kind]}


@pytest.mark.parametrize("kind", ["csv", "split", "records", "inputs", "oip"])
@pytest.mark.slow
def test_past_ten_extra_columns_a_request_is_refused_by_count(server: Server, kind: str) -> None:
    columns = _columns(server)
    extra = [f"extra{i}" for i in range(EXTRA_COLUMNS + 1)]
    path, request = _request(kind, [*columns, *extra])
    answer = server.http.post(path, **request)
    assert answer.status_code == 400
    message = answer.json()["message" if path == "/invocations" else "error"]
    assert f"has {len(columns) + EXTRA_COLUMNS + 1} columns; model 'cancer' takes 30" in message
    assert "is not an input" not in message

    # ten extra: the schema check names each, with a suggestion
    path, request = _request(kind, [*columns, *extra[:EXTRA_COLUMNS]])
    answer = server.http.post(path, **request)
    message = answer.json()["message" if path == "/invocations" else "error"]
    assert message.count("is not an input of this model") == EXTRA_COLUMNS, message
    assert "columns; model" not in message


@pytest.mark.slow
def test_records_naming_many_columns_between_them_are_refused_by_count(server: Server) -> None:
    # each record is narrow, but together they name many columns: pandas' union of keys
    records = [{f"c{i}": 1.0} for i in range(30 + EXTRA_COLUMNS + 1)]
    answer = server.http.post("/invocations", json={"dataframe_records": records})
    assert answer.status_code == 400
    assert answer.json()["message"].startswith(
        "'dataframe_records' (all rows) has 41 columns; model 'cancer' takes 30"
    )


def _rows(kind: str, columns: list[str], n: int) -> tuple[str, dict[str, Any]]:
    rows = [_row(columns) for _ in range(n)]
    if kind == "csv":
        body = (
            ",".join(columns) + "\n" + "".join(",".join("1" for _ in columns) + "\n" for _ in rows)
        )
        return "/invocations", {"content": body, "headers": {"content-type": "text/csv"}}
    if kind == "split":
        return "/invocations", {"json": {"dataframe_split": {"columns": columns, "data": rows}}}
    if kind == "records":
        return "/invocations", {
            "json": {"dataframe_records": [dict.fromkeys(columns, 1.0) for _ in rows]}
        }
    if kind == "instances":
        return "/invocations", {"json": {"instances": rows}}
    if kind == "inputs":
        return "/invocations", {"json": {"inputs": {c: [1.0] * n for c in columns}}}
    if kind == "oip_columns":
        tensors = [
            {"name": c, "shape": [n], "datatype": "FP64", "data": [1.0] * n} for c in columns
        ]
        return "/v2/models/cancer/infer", {"json": {"inputs": tensors}}
    flat = [1.0] * (n * len(columns))
    tensor = {"name": "x", "shape": [n, len(columns)], "datatype": "FP64", "data": flat}
    return "/v2/models/cancer/infer", {"json": {"inputs": [tensor]}}


@pytest.mark.parametrize(
    "kind", ["csv", "split", "records", "instances", "inputs", "oip_columns", "oip_tensor"]
)
@pytest.mark.slow
def test_more_rows_than_max_rows_get_413(server: Server, kind: str) -> None:
    columns = _columns(server)
    path, request = _rows(kind, columns, MAX_ROWS)
    assert server.http.post(path, **request).status_code == 200
    path, request = _rows(kind, columns, MAX_ROWS + 1)
    answer = server.http.post(path, **request)
    assert answer.status_code == 413
    message = answer.json()["message" if path == "/invocations" else "error"]
    assert f"more than {MAX_ROWS} rows" in message
    assert "max_rows" in message


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"header_timeout": 0}, "'header_timeout' must be positive, got 0"),
        ({"body_timeout": -1.5}, "'body_timeout' must be positive, got -1.5"),
        ({"keep_alive_timeout": "5s"}, "'keep_alive_timeout' must be int or float, got '5s'"),
        ({"max_connections": 0}, "'max_connections' must be positive, got 0"),
        ({"max_rows": 2.5}, "'max_rows' must be int, got 2.5"),
    ],
)
def test_limits_in_serve_json_are_checked(config: dict[str, Any], expected: str) -> None:
    with pytest.raises(SpecError, match=r"serve\.json") as info:
        from_mapping(config, where="serve.json")
    assert info.value.what == expected


@pytest.mark.slow
def test_the_limits_flags_reach_the_config(bundle_dir: Path, tmp_path: Path) -> None:
    done = conveyor(
        "serve", str(bundle_dir), "--header-timeout", "0", "--body-timeout", "-1",
        "--keep-alive-timeout", "0", "--max-connections", "0", "--max-rows", "0",
        cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: command line: ")
    for key, value in [
        ("max_rows", "0"),
        ("header_timeout", "0.0"),
        ("keep_alive_timeout", "0.0"),
        ("body_timeout", "-1.0"),
        ("max_connections", "0"),
    ]:
        assert f"'{key}' must be positive, got {value}" in done.stderr
