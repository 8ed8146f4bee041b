"""The scoring routes' paths, and the pure-ASGI lane that takes their POSTs past FastAPI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from starlette.requests import Request

if TYPE_CHECKING:
    from starlette.responses import Response
    from starlette.types import ASGIApp, Receive, Scope, Send

INVOCATIONS = "/invocations"
INFER = "/v2/models/{name}/infer"


class ScoringHandlers(Protocol):
    """The two scoring handlers (the app's server), as the lane calls them."""

    async def invocations(self, request: Request) -> Response: ...

    async def infer(self, request: Request, name: str, version: str | None = None) -> Response: ...


class ScoringFastLane:
    """Pure ASGI: the two scoring POSTs go straight to their handlers.

    FastAPI's routing, dependency solving and exception middleware cost about 0.1 ms a request
    (as much as the schema check); the handlers catch every exception themselves, so nothing is
    lost. Every other request, and these routes' OpenAPI docs, go through FastAPI as usual.
    """

    def __init__(self, app: ASGIApp, server: ScoringHandlers) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path == INVOCATIONS:
                response = await self.server.invocations(Request(scope, receive))
                await response(scope, receive, send)
                return
            if path.startswith("/v2/models/") and path.endswith("/infer"):
                parts = path.split("/")  # "", v2, models, name, [versions, version,] infer
                if len(parts) == 5 or (len(parts) == 7 and parts[4] == "versions"):
                    version = parts[5] if len(parts) == 7 else None
                    request = Request(scope, receive)
                    response = await self.server.infer(request, parts[3], version)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
