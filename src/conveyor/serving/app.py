"""The ASGI app: MLflow's scoring protocol, the Open Inference Protocol v2, metrics and docs.

The scoring routes read and parse their own bodies (orjson, no pydantic body model), record
metrics inside the handler (no middleware on the hot path) and answer with pre-serialised
bytes. A small request is scored on the event loop: a thread hop costs more than the model. A
large one is parsed, checked and scored in a worker thread so health checks stay quick.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from conveyor.errors import RequestError
from conveyor.serving import mlflow, oip
from conveyor.serving.body import (
    Limits,
    media_type,
    parse_json,
    read_body,
    unsupported_type,
)
from conveyor.serving.docs import add_docs
from conveyor.serving.openapi import infer_extra, install, invocations_extra
from conveyor.serving.prediction_log import PredictionLog, Record
from conveyor.serving.telemetry import CONTENT_TYPE, Telemetry, score

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from enum import Enum

    from starlette.types import ASGIApp, Receive, Scope, Send

    from conveyor.bundle.inputs import Checked, Problem
    from conveyor.bundle.predictor import Prediction, Predictor
    from conveyor.serving.config import ServeConfig

__all__ = ["create_app"]

_log = logging.getLogger("conveyor.serving")
JSON = "application/json"
INVOCATIONS = "/invocations"
INFER = "/v2/models/{name}/infer"
_THREAD_BODY_BYTES = 64 * 1024
"""Bodies larger than this are parsed and scored off the event loop."""
_MAX_PROBLEMS_SHOWN = 10
_T = TypeVar("_T")


def create_app(predictor: Predictor, *, config: ServeConfig) -> FastAPI:
    """The server for one loaded model."""
    from conveyor import __version__

    server = _Server(predictor, config)
    app = FastAPI(
        title=f"conveyor: {predictor.name}",
        version=str(__version__),
        description=(
            f"Model '{predictor.name}' version {predictor.version} ({predictor.task}), "
            f"sha256 {predictor.sha256[:12]}. MLflow-compatible POST /invocations and the Open "
            "Inference Protocol v2 under /v2."
        ),
        lifespan=server.lifespan,
        docs_url=None,  # served from packaged files below: the default loads from a CDN
        redoc_url=None,
    )
    app.state.server = server
    app.add_exception_handler(HTTPException, server.http_error)
    route = app.add_api_route
    mlflow_tag: list[str | Enum] = ["MLflow scoring"]
    oip_tag: list[str | Enum] = ["Open Inference Protocol v2"]
    ops: list[str | Enum] = ["operations"]
    route(
        INVOCATIONS,
        server.invocations,
        methods=["POST"],
        tags=mlflow_tag,
        summary=f"Score rows with '{predictor.name}'",
        description="JSON with exactly one of dataframe_split, dataframe_records, instances, "
        "inputs (plus optional params: {predict_proba: true} for class probabilities), or CSV "
        'with a header row. Answers {"predictions": [...]}.',
        response_class=Response,
        openapi_extra=invocations_extra(predictor),
    )
    route("/ping", server.ping, methods=["GET"], tags=mlflow_tag, response_class=Response)
    route("/health", server.health, methods=["GET"], tags=mlflow_tag, response_class=Response)
    route("/version", server.version, methods=["GET"], tags=mlflow_tag, response_class=Response)
    route("/v2", server.v2_server, methods=["GET"], tags=oip_tag, response_class=Response)
    for path, handler in (
        ("/v2/health/live", server.v2_live),
        ("/v2/health/ready", server.v2_ready),
        ("/v2/models/{name}", server.v2_model),
        ("/v2/models/{name}/versions/{version}", server.v2_model),
        ("/v2/models/{name}/ready", server.v2_model_ready),
        ("/v2/models/{name}/versions/{version}/ready", server.v2_model_ready),
    ):
        route(path, handler, methods=["GET"], tags=oip_tag, response_class=Response)
    for path in (INFER, "/v2/models/{name}/versions/{version}/infer"):
        route(
            path,
            server.infer,
            methods=["POST"],
            tags=oip_tag,
            summary=f"Infer with '{predictor.name}'",
            response_class=Response,
            openapi_extra=infer_extra(predictor),
        )
    route("/metrics", server.metrics, methods=["GET"], tags=ops, response_class=Response)
    app.add_middleware(_ScoringFastLane, server=server)
    install(app, predictor)
    add_docs(app, app.title)
    return app


class _ScoringFastLane:
    """Pure ASGI: the two scoring POSTs go straight to their handlers.

    FastAPI's routing, dependency solving and exception middleware cost about 0.1 ms a request
    (as much as the schema check); the handlers catch every exception themselves, so nothing is
    lost. Every other request, and these routes' OpenAPI docs, go through FastAPI as usual.
    """

    def __init__(self, app: ASGIApp, server: _Server) -> None:
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


class _Server:
    """The handlers, sharing one predictor, its metrics and its prediction log."""

    def __init__(self, predictor: Predictor, config: ServeConfig) -> None:
        from conveyor import __version__

        self.predictor = predictor
        self.config = config
        self.limits = Limits(predictor.schema.names, predictor.name, config.max_rows)
        self.mlflow_limits = _mlflow_limits(predictor, config)
        self.telemetry = Telemetry(predictor)
        self.log: PredictionLog | None = None
        if config.log_dir is not None:
            from pathlib import Path

            self.log = PredictionLog(
                Path(config.log_dir),
                model=predictor.name,
                version=predictor.version,
                rules=predictor.schema.rules,
                classifier=predictor.classes is not None,
                rotate_rows=config.log_rotate_rows,
                rotate_seconds=config.log_rotate_seconds,
                id_column=config.id_column,
            )
        self._version = _json(
            {
                "conveyor": str(__version__),
                "model": predictor.name,
                "model_version": predictor.version,
                "sha256": predictor.sha256,
                "task": predictor.task,
                "fast_path": predictor.fast_path,
                "fast_path_reason": predictor.fast_path_reason,
            }
        )
        self._metadata = _json(oip.metadata(predictor))

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """Flush the prediction log when the server stops."""
        del app
        yield
        if self.log is not None:
            await run_in_threadpool(self.log.close)

    # --- MLflow ---------------------------------------------------------------------------

    async def invocations(self, request: Request) -> Response:
        """``POST /invocations``."""
        start = time.perf_counter()
        kind = media_type(request)
        try:
            if kind not in mlflow.CONTENT_TYPES:
                raise unsupported_type(kind, mlflow.CONTENT_TYPES)
            body = await read_body(request, self.config.max_body_bytes)

            def work() -> tuple[Prediction, Checked, bytes, mlflow.Split]:
                if kind == "text/csv":
                    parsed = mlflow.parse_csv(body, self.mlflow_limits)
                else:
                    parsed = mlflow.parse_json_payload(parse_json(body), self.mlflow_limits)
                if parsed.predict_proba and self.predictor.classes is None:
                    raise RequestError(
                        f"'params.predict_proba': model '{self.predictor.name}' is a "
                        "regression model and has no class probabilities"
                    )
                split = mlflow.split_columns(parsed.columns, self.predictor, self.config)
                prediction, checked = self._predict(split.columns, parsed.from_text, split.ignored)
                content = mlflow.render(
                    prediction, self.predictor.classes, proba=parsed.predict_proba
                )
                return prediction, checked, content, split

            prediction, checked, content, split = await _run(work, len(body))
        except RequestError as exc:
            body = mlflow.error_body(str(exc), exc.status)
            return self._refused(INVOCATIONS, start, exc, body)
        except Exception as exc:
            return self._failed(INVOCATIONS, start, exc, mlflow.error_body)
        request_id = request.headers.get("x-request-id")
        if self.log is not None and request_id is None:
            request_id = uuid.uuid4().hex
        if split.ignored:
            self.telemetry.ignored(INVOCATIONS, len(split.ignored))
        self._scored(INVOCATIONS, start, prediction, checked, request_id, split.ids)
        headers = {"x-request-id": request_id} if request_id else None
        return Response(content, media_type=JSON, headers=headers)

    async def ping(self) -> Response:
        """``GET /ping``: 200 once the model is loaded (it is, or there would be no server)."""
        return self._plain("/ping", b"\n", "text/plain")

    async def health(self) -> Response:
        """``GET /health``: as /ping, with a JSON body."""
        return self._plain("/health", b'{"status":"ok"}', JSON)

    async def version(self) -> Response:
        """``GET /version``: conveyor's version and the model's name, version and sha256."""
        return self._plain("/version", self._version, JSON)

    # --- Open Inference Protocol v2 ---------------------------------------------------------

    async def v2_server(self) -> Response:
        """``GET /v2``: server metadata."""
        from conveyor import __version__

        body = {"name": "conveyor", "version": str(__version__), "extensions": oip.EXTENSIONS}
        return self._plain("/v2", _json(body), JSON)

    async def v2_live(self) -> Response:
        """``GET /v2/health/live``."""
        return self._plain("/v2/health/live", b'{"live":true}', JSON)

    async def v2_ready(self) -> Response:
        """``GET /v2/health/ready``."""
        return self._plain("/v2/health/ready", b'{"ready":true}', JSON)

    async def v2_model(self, name: str, version: str | None = None) -> Response:
        """``GET /v2/models/{name}``: the model's inputs and outputs."""
        endpoint = "/v2/models/{name}"
        missing = self._unknown_model(endpoint, name, version)
        return missing or self._plain(endpoint, self._metadata, JSON)

    async def v2_model_ready(self, name: str, version: str | None = None) -> Response:
        """``GET /v2/models/{name}/ready``."""
        endpoint = "/v2/models/{name}/ready"
        missing = self._unknown_model(endpoint, name, version)
        body = _json({"name": self.predictor.name, "ready": True})
        return missing or self._plain(endpoint, body, JSON)

    async def infer(self, request: Request, name: str, version: str | None = None) -> Response:
        """``POST /v2/models/{name}/infer``."""
        start = time.perf_counter()
        missing = self._unknown_model(INFER, name, version)
        if missing is not None:
            return missing
        try:
            kind = media_type(request)
            header_length = request.headers.get("inference-header-content-length")
            if not oip.readable(kind, header_length):
                raise unsupported_type(kind, (JSON,))
            body = await read_body(request, self.config.max_body_bytes)

            def work() -> tuple[Prediction, Checked, oip.Infer, oip.Answer]:
                parsed = oip.parse_request(body, header_length, self.predictor, self.limits)
                prediction, checked = self._predict(parsed.columns, from_text=False)
                return prediction, checked, parsed, oip.render(prediction, parsed, self.predictor)

            prediction, checked, parsed, content = await _run(work, len(body))
        except RequestError as exc:
            return self._refused(INFER, start, exc, oip.error_body(str(exc)))
        except Exception as exc:
            return self._failed(INFER, start, exc, lambda message, _: oip.error_body(message))
        self._scored(INFER, start, prediction, checked, parsed.id)
        return Response(content.content, media_type=content.media_type, headers=content.headers)

    # --- operations -----------------------------------------------------------------------

    async def metrics(self) -> Response:
        """``GET /metrics``: Prometheus text."""
        start = time.perf_counter()
        body = self.telemetry.render()
        self.telemetry.observe("/metrics", 200, time.perf_counter() - start)
        return Response(body, media_type=CONTENT_TYPE)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """404/405 from routing, in the error shape of the protocol the path belongs to."""
        assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
        path = request.url.path
        message = f"{request.method} {path}: {exc.detail}"
        if exc.status_code == 404:
            message += "; endpoints: POST /invocations, POST /v2/models/{name}/infer, GET /docs"
        body = (
            oip.error_body(message)
            if path.startswith("/v2")
            else mlflow.error_body(message, exc.status_code)
        )
        return Response(body, status_code=exc.status_code, media_type=JSON, headers=exc.headers)

    # --- shared ---------------------------------------------------------------------------

    def _predict(
        self, columns: dict[str, Any], from_text: bool, ignored: tuple[str, ...] = ()
    ) -> tuple[Prediction, Checked]:
        if not columns or not any(len(values) for values in columns.values()):
            raise RequestError("the batch is empty: send at least one row", reason="empty")
        checked = self.predictor.schema.check(columns, from_text=from_text)
        if checked.problems:
            text = self._describe(checked.problems)
            if ignored:  # a typo'd column is ignored, and reported missing: show both
                text += f"; {mlflow.ignored_clause(ignored)}"
            raise RequestError(text, reason="invalid_input")
        return self.predictor.predict(checked), checked

    def _describe(self, problems: tuple[Problem, ...]) -> str:
        """Every problem, one clause each; many missing columns become one clause."""
        missing = [p.column for p in problems if p.message == "is missing" and p.column]
        lines = [p.render() for p in problems if len(missing) < 2 or p.message != "is missing"]
        if len(missing) >= 2:
            total = len(self.predictor.schema.names)
            shown = ", ".join(f"'{name}'" for name in missing[:_MAX_PROBLEMS_SHOWN])
            more = ", ..." if len(missing) > _MAX_PROBLEMS_SHOWN else ""
            lines.insert(
                0,
                f"{len(missing)} of the model's {total} columns are missing: {shown}{more} "
                f"(GET /v2/models/{self.predictor.name} lists them)",
            )
        text = "; ".join(lines[:_MAX_PROBLEMS_SHOWN])
        if len(lines) > _MAX_PROBLEMS_SHOWN:
            text += f"; and {len(lines) - _MAX_PROBLEMS_SHOWN} more problems"
        return text

    def _scored(
        self,
        endpoint: str,
        start: float,
        prediction: Prediction,
        checked: Checked,
        request_id: str | None,
        ids: Any = None,  # noqa: ANN401 - the id column's values, as the request sent them
    ) -> None:
        self.telemetry.observe(endpoint, 200, time.perf_counter() - start)
        self.telemetry.predicted(endpoint, prediction)
        if self.log is not None:
            scores = score(prediction) if prediction.proba is not None else None
            record = Record(
                request_id or uuid.uuid4().hex,
                time.time(),
                endpoint,
                checked.arrays,
                prediction.labels,
                scores,
                ids,
            )
            self.log.record(record)

    def _refused(self, endpoint: str, start: float, exc: RequestError, body: bytes) -> Response:
        self.telemetry.observe(endpoint, exc.status, time.perf_counter() - start, reason=exc.reason)
        return Response(body, status_code=exc.status, media_type=JSON)

    def _failed(
        self,
        endpoint: str,
        start: float,
        exc: Exception,
        shape: Callable[[str, int], bytes],
    ) -> Response:
        """A bug (in the model or in conveyor): a JSON 500, logged, and the server lives on."""
        _log.exception("%s failed", endpoint)
        self.telemetry.observe(endpoint, 500, time.perf_counter() - start, reason="internal")
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        message = (
            f"internal error while scoring ({type(exc).__name__}: {first}); "
            "the request was valid, this is a bug: the server log has the traceback"
        )
        return Response(shape(message, 500), status_code=500, media_type=JSON)

    def _unknown_model(self, endpoint: str, name: str, version: str | None) -> Response | None:
        start = time.perf_counter()
        served = self.predictor
        if name == served.name and version in (None, served.version):
            return None
        if name != served.name:
            message = f"model '{name}' is not served here; this server serves '{served.name}'"
        else:
            message = f"model '{name}' has no version '{version}'; this server has {served.version}"
        exc = RequestError(message, status=404, reason="unknown_model")
        return self._refused(endpoint, start, exc, oip.error_body(message))

    def _plain(self, endpoint: str, body: bytes, kind: str) -> Response:
        self.telemetry.observe(endpoint, 200)
        return Response(body, media_type=kind)


def _mlflow_limits(predictor: Predictor, config: ServeConfig) -> Limits:
    """/invocations' limits: room for the id column, and for columns ``ignore`` will drop."""
    from conveyor.errors import SpecError
    from conveyor.serving.body import EXTRA_COLUMNS, IGNORED_COLUMNS

    names = predictor.schema.names
    if config.id_column is not None and config.id_column in names:
        raise SpecError(
            f"'id_column' '{config.id_column}' is an input of model '{predictor.name}'; the id "
            "column is logged, never scored",
            where="server config",
            fix="name a column the model does not take (an order or case id)",
        )
    extra = IGNORED_COLUMNS if config.extra_columns == "ignore" else EXTRA_COLUMNS
    return Limits(names, predictor.name, config.max_rows, extra + (config.id_column is not None))


async def _run(work: Callable[[], _T], size: int) -> _T:
    """``work()`` here for a small body; in a worker thread for a large one."""
    if size <= _THREAD_BODY_BYTES:
        return work()
    return await run_in_threadpool(work)


def _json(value: Any) -> bytes:  # noqa: ANN401 - any JSON-able value
    import orjson

    return orjson.dumps(value)
