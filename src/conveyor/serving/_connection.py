"""One HTTP connection: uvicorn's httptools protocol with the deadlines and bounds it lacks.

uvicorn closes a connection only after ``timeout_keep_alive`` idle seconds following a response,
and any byte received cancels that timer. A client that connects and sends nothing, or sends its
request head or body a byte at a time (slowloris, slow POST), therefore holds a connection for
ever; uvicorn's issue #157 proposes request-start and request-complete timeouts, not yet built.
This subclass adds them, as nginx and Apache's mod_reqtimeout have them:

- header deadline: ``header_timeout`` seconds from accepting the connection, or from the first
  byte after a response, until the head is complete; then 408 (if part of a head came) and close;
- body deadline: ``body_timeout`` seconds from the end of the head to the end of the body; then
  408 (if no response has started) and close. A total, not a per-read timer, so a trickle of one
  byte a second cannot stretch it;
- head size: a request target plus header names and values over ``HEAD_LIMIT`` bytes gets 431
  (nginx's default allows 4 buffers of 8 KiB; uvicorn's httptools protocol has no limit);
- connection count: a connection accepted while ``max_connections`` are open is closed at once
  (nginx's ``worker_connections``, gunicorn's ``worker_connections``), so a flood holds at most
  that many file descriptors, each for at most its deadline.

A request that arrives in one read arms no timer (a deadline is armed only when a read leaves a
head or body unfinished); nothing is logged per connection.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from uvicorn._types import ASGIReceiveCallable, ASGISendCallable, Scope

HEAD_LIMIT = 32 * 1024
"""Bytes of request target plus header names and values (nginx: 4 x 8 KiB)."""
_UNFINISHED_HEAD_LIMIT = 2 * HEAD_LIMIT
"""Raw bytes of a head that has not ended yet (separators included, so above HEAD_LIMIT)."""
_WARN_EVERY = 60.0
_log = logging.getLogger("conveyor.serving")


@dataclass(frozen=True)
class ConnectionLimits:
    """The per-connection deadlines, in seconds, and the bound on open connections."""

    header_timeout: float
    body_timeout: float
    max_connections: int


def protocol_class(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """The ``http`` protocol class to give uvicorn: httptools, enforcing ``limits``."""
    return type("GuardedHttpToolsProtocol", (_GuardedProtocol,), {"limits": limits})


class _GuardedProtocol(HttpToolsProtocol):
    limits: ClassVar[ConnectionLimits]
    _last_warning: ClassVar[float] = float("-inf")

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - uvicorn's own
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_head = True
        self._head_bytes = 0
        """Bytes read while reading this head (fewer if it began in the read ending a body)."""
        self._head_bound = 0
        """At least the head's bytes: the cheap test before the exact size of a complete head."""
        self._read = 0

    # --- uvicorn's protocol interface ------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._warn_full()
            transport.close()
            return
        self._arm(self.limits.header_timeout, self._head_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._read = len(data)
        if self._reading_head:
            self._head_bytes += self._read
            self._head_bound += self._read
        super().data_received(data)
        # Deadlines are armed after parsing, in the same loop turn: a request that arrives in
        # one read (nearly all of them) needs no timer at all.
        if self._reading_head:
            if not self._head_bytes or self.transport.is_closing():
                return
            if self._head_bytes > _UNFINISHED_HEAD_LIMIT:
                self._close_with(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, _too_large_text())
            elif self._deadline is None:  # part of a head came after a response
                self._arm(self.limits.header_timeout, self._head_late)
        elif self._deadline is None and not self.transport.is_closing():  # part of a body
            self._arm(self.limits.body_timeout, self._body_late)

    # --- httptools callbacks ---------------------------------------------------------------

    def on_headers_complete(self) -> None:
        self._reading_head = False
        if self._deadline is not None:
            self._disarm()
        if self._head_bound > HEAD_LIMIT and _head_size(self.url, self.headers) > HEAD_LIMIT:
            # answered through uvicorn's own request cycle, which then closes the connection
            app, self.app = self.app, _head_too_large
            try:
                super().on_headers_complete()
            finally:
                self.app = app
        else:
            super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self._deadline is not None:
            self._disarm()
        self._reading_head = True
        self._head_bytes = 0
        self._head_bound = self._read  # the next head may begin in this same read

    # --- deadlines -------------------------------------------------------------------------

    def _arm(self, seconds: float, late: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_late(self) -> None:
        self._deadline = None
        if self._head_bytes:
            seconds = self.limits.header_timeout
            message = f"the request head did not arrive within header_timeout ({seconds:g} s)"
            self._close_with(HTTPStatus.REQUEST_TIMEOUT, message)
        else:  # nothing sent yet: close quietly, as after keep-alive
            self.transport.close()

    def _body_late(self) -> None:
        self._deadline = None
        if self.cycle is not None and not self.cycle.response_started:
            seconds = self.limits.body_timeout
            message = f"the request body did not arrive within body_timeout ({seconds:g} s)"
            self._close_with(HTTPStatus.REQUEST_TIMEOUT, message)
        else:  # answered without reading the body: the rest of it holds nothing
            self.transport.close()

    def _close_with(self, status: HTTPStatus, message: str) -> None:
        """Answer in plain text (unless a response is under way) and close.

        The request's app, if one runs, sees a disconnect and what it sends is dropped.
        """
        cycle = self.cycle
        if cycle is None or not cycle.response_started or cycle.response_complete:
            text = message.encode()
            self.transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                % (status.value, status.phrase.encode(), len(text), text)
            )
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True
        self.transport.close()

    def _warn_full(self) -> None:
        now = time.monotonic()
        if now - _GuardedProtocol._last_warning >= _WARN_EVERY:
            _GuardedProtocol._last_warning = now
            _log.warning(
                "max_connections (%d) reached: closing new connections until some end "
                "(this warning repeats at most once a minute)",
                self.limits.max_connections,
            )


def _head_size(url: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    """What ``HEAD_LIMIT`` bounds: the request target plus header names and values."""
    return len(url) + sum(map(len, itertools.chain.from_iterable(headers)))


def _too_large_text() -> str:
    return f"the request head (target and headers) exceeds {HEAD_LIMIT} bytes; send shorter headers"


async def _head_too_large(
    scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
) -> None:
    del scope, receive
    body = _too_large_text().encode()
    await send(
        {
            "type": "http.response.start",
            "status": HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE.value,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
