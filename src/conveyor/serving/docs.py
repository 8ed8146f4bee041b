"""``/docs``: Swagger UI served from the package's own files, so it works offline.

FastAPI's default page loads Swagger UI from a CDN, which leaves it blank in an air-gapped
cluster. The assets come from ``swagger-ui-bundle-v2`` (Swagger UI 5, which renders OpenAPI 3.1)
and are served under ``/docs/assets/``; ReDoc, which has no packaged copy, is not served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["ASSETS", "add_docs"]

ASSETS = "/docs/assets"
_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
"""The files the page loads; nothing else under the package directory is served."""


def add_docs(app: FastAPI, title: str) -> None:
    """Add ``GET /docs`` and its assets to ``app`` (made with ``docs_url=None``)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from starlette.exceptions import HTTPException
    from starlette.responses import Response
    from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{title} - docs",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
    ).body
    cache: dict[str, bytes] = {}

    async def docs() -> Response:
        return Response(page, media_type="text/html")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _FILES:
            raise HTTPException(404, f"no asset '{name}'")
        if name not in cache:
            cache[name] = (swagger_ui_path / name).read_bytes()
        headers = {"cache-control": "public, max-age=86400"}
        return Response(cache[name], media_type=_FILES[name], headers=headers)

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
    app.add_route(f"{ASSETS}/{{name}}", asset, methods=["GET"], include_in_schema=False)
