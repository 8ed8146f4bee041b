"""Reading a request body within the size limit, and parsing JSON with a located error.

Both protocols share this, and both turn :class:`~conveyor.errors.RequestError` into their own
error shape. :class:`Limits` bounds the work one request can cause: its columns and rows are
counted before the per-value work starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from conveyor.errors import RequestError

if TYPE_CHECKING:
    from starlette.requests import Request

    from conveyor.bundle.inputs import Problem
    from conveyor.bundle.predictor import Predictor

MAX_DEPTH = 1024
"""orjson's nesting limit; a deeper JSON body is a 400 (the stdlib parser would recurse)."""
EXTRA_COLUMNS = 10
"""Columns past the model's that still reach the schema check, which names each one with a
did-you-mean; a request with more is refused by its count alone."""
IGNORED_COLUMNS = 1000
"""Columns past the model's that a server with ``extra_columns: ignore`` drops (a set lookup
each); a request with more is refused by its count alone."""


@dataclass(frozen=True)
class Limits:
    """What one scoring request may hold: about the model's columns and ``max_rows`` rows.

    The server refuses every column the model does not take, naming it with a did-you-mean
    suggestion that costs a string comparison per model column. A request naming more than
    ``EXTRA_COLUMNS`` columns beyond the model's is refused by its count instead, before
    anything is done per column (a 200,000-column CSV cost seconds of CPU that way).
    """

    names: tuple[str, ...]
    """The model's inputs, in schema order."""
    model: str
    max_rows: int
    extra: int = EXTRA_COLUMNS
    """Columns a request may hold beyond the model's (and its id column)."""

    def columns(self, count: int, where: str) -> None:
        """Refuse ``where`` (``"the CSV header"``) if it names too many columns."""
        if count > len(self.names) + self.extra:
            raise self.too_many_columns(f"{where} has {count} columns")

    def too_many_columns(self, what: str) -> RequestError:
        """The 400 for ``what`` (``"'inputs' has 31 columns"``), naming the model's count."""
        return RequestError(
            f"{what}; model '{self.model}' takes {len(self.names)} "
            f"(GET /v2/models/{self.model} lists them)",
            reason="too_many_columns",
        )

    def rows(self, count: int) -> None:
        """Refuse a request of ``count`` rows if that is more than ``max_rows``."""
        if count > self.max_rows:
            raise self.too_many_rows()

    def too_many_rows(self) -> RequestError:
        """The 413 for a request of more than ``max_rows`` rows."""
        return RequestError(
            f"the request has more than {self.max_rows} rows; send at most {self.max_rows} per "
            "request, or raise max_rows in the server config",
            status=413,
            reason="too_many_rows",
        )


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
    A body cut short (the client went away, or the server closed the connection at its
    ``body_timeout``) is a 408, not a server error.
    """
    from starlette.requests import ClientDisconnect

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
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise _too_large(f"more than {limit} bytes", limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise RequestError(
            f"the connection closed after {total} bytes of the request body; send the whole "
            "body within the server's body_timeout",
            status=408,
            reason="incomplete_body",
        ) from None
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
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):
            where = (
                str(exc).partition(": ")[2].partition(" (char")[0].replace(" column", ", column")
            )
            raise _too_deep(f"more than {MAX_DEPTH} levels, at {where}") from None
    try:
        return json.loads(body)
    except RecursionError:  # NaN/Infinity (orjson refused them) a thousand levels down
        raise _too_deep("deeper than the fallback parser's limit") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise RequestError(f"malformed JSON at {where}: {exc.msg}", reason="malformed") from None
    except ValueError as exc:  # not UTF-8/16/32
        raise RequestError(f"malformed JSON: {exc}", reason="malformed") from None


def _too_deep(detail: str) -> RequestError:
    return RequestError(
        f"the JSON body nests arrays and objects too deeply ({detail}); send rows as "
        "lists of values or {column: value} objects, which nest at most 3 levels",
        reason="malformed",
    )


def did_you_mean(name: str, known: tuple[str, ...] | list[str]) -> str:
    """`` (did you mean 'x'?)`` or ``""``."""
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


MAX_PROBLEMS_SHOWN = 10


def describe_problems(predictor: Predictor, problems: tuple[Problem, ...]) -> str:
    """Every problem, one clause each; many missing columns become one clause."""
    missing = [p.column for p in problems if p.message == "is missing" and p.column]
    lines = [p.render() for p in problems if len(missing) < 2 or p.message != "is missing"]
    if len(missing) >= 2:
        total = len(predictor.schema.names)
        shown = ", ".join(f"'{name}'" for name in missing[:MAX_PROBLEMS_SHOWN])
        more = ", ..." if len(missing) > MAX_PROBLEMS_SHOWN else ""
        lines.insert(
            0,
            f"{len(missing)} of the model's {total} columns are missing: {shown}{more} "
            f"(GET /v2/models/{predictor.name} lists them)",
        )
    text = "; ".join(lines[:MAX_PROBLEMS_SHOWN])
    if len(lines) > MAX_PROBLEMS_SHOWN:
        text += f"; and {len(lines) - MAX_PROBLEMS_SHOWN} more problems"
    return text
