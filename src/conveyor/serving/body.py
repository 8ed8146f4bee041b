"""Reading a request body within the size limit, and parsing JSON with a located error.

Both protocols share this, and both turn :class:`RequestError` into their own error shape.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import orjson

from conveyor.errors import ConveyorError

if TYPE_CHECKING:
    from starlette.requests import Request

Reason = str
"""A short label for the metrics: ``too_large``, ``content_type``, ``malformed``, ..."""


class RequestError(ConveyorError):
    """A request the server refuses with a 4xx status; ``reason`` labels it in the metrics."""

    def __init__(self, what: str, *, status: int = 400, reason: Reason = "bad_payload") -> None:
        super().__init__(what)
        self.status = status
        self.reason = reason


def media_type(request: Request) -> str:
    """The request's content type without parameters, lower-cased (``""`` when absent)."""
    header = request.headers.get("content-type", "")
    return header.partition(";")[0].strip().lower()


def unsupported_type(given: str, supported: tuple[str, ...]) -> RequestError:
    """The 415 for a content type the endpoint does not read."""
    shown = f"'{given}'" if given else "no Content-Type"
    return RequestError(
        f"unsupported content type {shown}; send {' or '.join(supported)}",
        status=415,
        reason="content_type",
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed ``limit`` bytes.

    Content-Length is checked first (nothing is read); a chunked body is counted as it streams.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise RequestError(f"Content-Length '{declared}' is not a number") from None
        if size > limit:
            raise _too_large(f"{size} bytes", limit)
    chunks = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _too_large(f"more than {limit} bytes", limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: str, limit: int) -> RequestError:
    return RequestError(
        f"the request body ({size}) exceeds the limit of {limit} bytes; send fewer rows per "
        "request, or raise max_body_bytes in the server config",
        status=413,
        reason="too_large",
    )


def parse_json(body: bytes) -> Any:  # noqa: ANN401 - any JSON document
    """Parse ``body``; NaN and Infinity literals are accepted so the schema check can name them.

    orjson is strict JSON and refuses them, so a body it rejects is parsed again by the standard
    library, whose error (with line and column) is the one reported.
    """
    if not body.strip():
        raise RequestError("the request body is empty; send a JSON object", reason="malformed")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise RequestError(f"malformed JSON at {where}: {exc.msg}", reason="malformed") from None
    except ValueError as exc:  # not UTF-8/16/32
        raise RequestError(f"malformed JSON: {exc}", reason="malformed") from None


def did_you_mean(name: str, known: tuple[str, ...] | list[str]) -> str:
    """`` (did you mean 'x'?)`` or ``""``."""
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
