"""The ASGI app: MLflow's scoring protocol, the Open Inference Protocol v2, metrics and docs.

The scoring routes read and parse their own bodies (orjson, no pydantic body model), record
metrics inside the handler (no middleware on the hot path) and answer with pre-serialised
bytes. A small request is scored on the event loop: a thread hop costs more than the model. A
large one is parsed, checked and scored in a worker thread so health checks stay quick.

What the handlers read of the model (predictor, limits, /version, metadata) is one ``_Model``,
taken once per request: a server that follows a registry stage (:mod:`conveyor.serving.follow`)
swaps it with one reference assignment, and a request in flight finishes on the model it began
with.

With a canary or a shadow (:mod:`conveyor.serving.traffic`), a ``Traffic`` picks the version
that answers each request, and the shadow scores answered requests in a thread of its own.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
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
    describe_problems,
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

    from conveyor.bundle.inputs import Checked
    from conveyor.bundle.predictor import Prediction, Predictor
    from conveyor.serving.config import ServeConfig
    from conveyor.serving.follow import Follower
    from conveyor.serving.traffic import Traffic

__all__ = ["create_app"]

_log = logging.getLogger("conveyor.serving")
JSON = "application/json"
INVOCATIONS = "/invocations"
INFER = "/v2/models/{name}/infer"
_THREAD_BODY_BYTES = 64 * 1024
"""Bodies larger than this are parsed and scored off the event loop."""
_T = TypeVar("_T")


def create_app(
    predictor: Predictor,
    *,
    config: ServeConfig,
    follower: Follower | None = None,
    traffic: Traffic | None = None,
) -> FastAPI:
    """The server for one loaded model; with ``follower``, the model a registry stage holds.

    With ``traffic``, a second version answers as a canary or scores as a shadow.
    """
    from conveyor import __version__

    server = _Server(predictor, config, follower, traffic)
    app = FastAPI(
        title=f"conveyor: {predictor.name}",
        version=str(__version__),
        description=_description(predictor),
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
    if follower is not None and follower.token is not None:  # no token: no endpoint (404)
        route(
            "/admin/reload",
            server.admin_reload,
            methods=["POST"],
            tags=ops,
            summary=f"Check {follower.reference} now; swap in a new version once verified",
            response_class=Response,
        )
    app.add_middleware(_ScoringFastLane, server=server)
    server.app = app
    install(app, lambda: server.model.predictor)
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


@dataclass(frozen=True)
class _Model:
    """What the handlers read of the served model: swapped as one reference, read once a request."""

    predictor: Predictor
    limits: Limits
    mlflow_limits: Limits
    version: dict[str, Any]
    version_body: bytes
    metadata: bytes

    @classmethod
    def of(cls, predictor: Predictor, config: ServeConfig) -> _Model:
        from conveyor import __version__

        version = {
            "conveyor": str(__version__),
            "model": predictor.name,
            "model_version": predictor.version,
            "sha256": predictor.sha256,
            "task": predictor.task,
            "fast_path": predictor.fast_path,
            "fast_path_reason": predictor.fast_path_reason,
        }
        return cls(
            predictor,
            Limits(predictor.schema.names, predictor.name, config.max_rows),
            mlflow.limits(predictor, config),
            version,
            _json(version),
            _json(oip.metadata(predictor)),
        )


class _Server:
    """The handlers, sharing one model (swapped whole), its metrics and its prediction log."""

    def __init__(
        self,
        predictor: Predictor,
        config: ServeConfig,
        follower: Follower | None = None,
        traffic: Traffic | None = None,
    ) -> None:
        self.config = config
        self.model = _Model.of(predictor, config)
        self.follower = follower
        self.traffic = traffic
        self.app: FastAPI | None = None
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
                shadow=traffic is not None and traffic.shadowing,
            )
        if follower is not None:
            follower.bind(self)

    @property
    def predictor(self) -> Predictor:
        """The model served now."""
        return self.model.predictor

    def swap(self, predictor: Predictor) -> None:
        """Serve ``predictor`` from the next request on: one reference assignment.

        Called on the event loop thread, so no handler runs in between; a request scoring in a
        worker thread keeps the ``_Model`` it took and finishes on the old predictor.
        """
        model = _Model.of(predictor, self.config)
        self.telemetry.served(predictor)
        self.model = model
        if self.app is not None:  # the docs name the version: built again on the next read
            self.app.description = _description(predictor)
            self.app.openapi_schema = None

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """Start following the registry stage (if asked); flush the prediction log at the end."""
        del app
        import asyncio

        if self.traffic is not None:
            self.traffic.start(asyncio.get_running_loop(), self.telemetry, self.log)
        async with contextlib.AsyncExitStack() as stack:
            if self.follower is not None:
                await stack.enter_async_context(self.follower.running())
            yield
        if self.traffic is not None:
            await run_in_threadpool(self.traffic.stop)
            await asyncio.sleep(0)  # the shadow's last answers, scheduled on this loop
        if self.log is not None:
            await run_in_threadpool(self.log.close)

    # --- MLflow ---------------------------------------------------------------------------

    async def invocations(self, request: Request) -> Response:
        """``POST /invocations``."""
        start = time.perf_counter()
        model = self.model
        predictor = model.predictor
        chosen: list[tuple[Predictor, str]] = []  # the version routed to, once it is known
        kind = media_type(request)
        try:
            if kind not in mlflow.CONTENT_TYPES:
                raise unsupported_type(kind, mlflow.CONTENT_TYPES)
            body = await read_body(request, self.config.max_body_bytes)

            def work() -> tuple[Prediction, Checked, bytes, mlflow.Split]:
                if kind == "text/csv":
                    parsed = mlflow.parse_csv(body, model.mlflow_limits)
                else:
                    parsed = mlflow.parse_json_payload(parse_json(body), model.mlflow_limits)
                if parsed.predict_proba and predictor.classes is None:
                    raise RequestError(
                        f"'params.predict_proba': model '{predictor.name}' is a "
                        "regression model and has no class probabilities"
                    )
                split = mlflow.split_columns(parsed.columns, predictor, self.config)
                answering = predictor
                if self.traffic is not None:
                    chosen.append(self.traffic.route(predictor, split.ids))
                    answering = chosen[0][0]
                prediction, checked = self._predict(
                    answering, split.columns, parsed.from_text, split.ignored
                )
                content = mlflow.render(prediction, predictor.classes, proba=parsed.predict_proba)
                return prediction, checked, content, split

            prediction, checked, content, split = await _run(work, len(body))
        except RequestError as exc:
            body = mlflow.error_body(str(exc), exc.status)
            return self._refused(INVOCATIONS, start, exc, body, chosen)
        except Exception as exc:
            return self._failed(INVOCATIONS, start, exc, mlflow.error_body, chosen)
        request_id = request.headers.get("x-request-id")
        if self.log is not None and request_id is None:
            request_id = uuid.uuid4().hex
        if split.ignored:
            self.telemetry.ignored(INVOCATIONS, len(split.ignored))
        headers = {"x-request-id": request_id} if request_id else {}
        if chosen:
            predictor, role = chosen[0]
            headers["x-model-version"] = predictor.version
            self.telemetry.by_version(
                predictor.version, role, 200, time.perf_counter() - start, prediction=prediction
            )
        self._scored(INVOCATIONS, start, predictor, prediction, checked, request_id, split.ids)
        return Response(content, media_type=JSON, headers=headers or None)

    async def ping(self) -> Response:
        """``GET /ping``: 200 once the model is loaded (it is, or there would be no server)."""
        return self._plain("/ping", b"\n", "text/plain")

    async def health(self) -> Response:
        """``GET /health``: as /ping, with a JSON body."""
        return self._plain("/health", b'{"status":"ok"}', JSON)

    async def version(self) -> Response:
        """``GET /version``: conveyor's version and the model's name, version and sha256.

        A following server adds what it follows and how its last check and reload went.
        """
        model = self.model
        if self.follower is None and self.traffic is None:
            return self._plain("/version", model.version_body, JSON)
        shown = dict(model.version)
        if self.follower is not None:
            shown |= self.follower.status()
        if self.traffic is not None:
            shown[self.traffic.candidate.mode] = self.traffic.candidate.status()
        return self._plain("/version", _json(shown), JSON)

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
        model = self.model
        missing = self._unknown_model(model.predictor, endpoint, name, version)
        return missing or self._plain(endpoint, model.metadata, JSON)

    async def v2_model_ready(self, name: str, version: str | None = None) -> Response:
        """``GET /v2/models/{name}/ready``."""
        endpoint = "/v2/models/{name}/ready"
        predictor = self.model.predictor
        missing = self._unknown_model(predictor, endpoint, name, version)
        body = _json({"name": predictor.name, "ready": True})
        return missing or self._plain(endpoint, body, JSON)

    async def infer(self, request: Request, name: str, version: str | None = None) -> Response:
        """``POST /v2/models/{name}/infer``."""
        start = time.perf_counter()
        model = self.model
        predictor = model.predictor
        chosen: list[tuple[Predictor, str]] = []
        if self.traffic is not None:
            candidate = self.traffic.candidate
            if version is None:
                chosen.append(self.traffic.route(predictor))
            elif version == candidate.predictor.version and name == predictor.name:
                chosen.append((candidate.predictor, candidate.mode))  # asked for by version
            else:
                chosen.append((predictor, "primary"))
            predictor = chosen[0][0]
        missing = self._unknown_model(predictor, INFER, name, version)
        if missing is not None:
            return missing
        try:
            kind = media_type(request)
            header_length = request.headers.get("inference-header-content-length")
            if not oip.readable(kind, header_length):
                raise unsupported_type(kind, (JSON,))
            body = await read_body(request, self.config.max_body_bytes)

            def work() -> tuple[Prediction, Checked, oip.Infer, oip.Answer]:
                parsed = oip.parse_request(body, header_length, predictor, model.limits)
                prediction, checked = self._predict(predictor, parsed.columns, from_text=False)
                return prediction, checked, parsed, oip.render(prediction, parsed, predictor)

            prediction, checked, parsed, content = await _run(work, len(body))
        except RequestError as exc:
            return self._refused(INFER, start, exc, oip.error_body(str(exc)), chosen)
        except Exception as exc:
            shape = lambda message, _: oip.error_body(message)  # noqa: E731
            return self._failed(INFER, start, exc, shape, chosen)
        if chosen:
            role = chosen[0][1]
            seconds = time.perf_counter() - start
            self.telemetry.by_version(predictor.version, role, 200, seconds, prediction=prediction)
        self._scored(INFER, start, predictor, prediction, checked, parsed.id)
        return Response(content.content, media_type=content.media_type, headers=content.headers)

    # --- operations -----------------------------------------------------------------------

    async def admin_reload(self, request: Request) -> Response:
        """``POST /admin/reload``: check the followed stage now (a bearer token is required)."""
        assert self.follower is not None  # noqa: S101 - the route exists only when following
        status, body = await self.follower.reload(request.headers.get("authorization"))
        self.telemetry.observe("/admin/reload", status)
        return Response(_json(body), status_code=status, media_type=JSON)

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
        self,
        predictor: Predictor,
        columns: dict[str, Any],
        from_text: bool,
        ignored: tuple[str, ...] = (),
    ) -> tuple[Prediction, Checked]:
        if not columns or not any(len(values) for values in columns.values()):
            raise RequestError("the batch is empty: send at least one row", reason="empty")
        checked = predictor.schema.check(columns, from_text=from_text)
        if checked.problems:
            text = describe_problems(predictor, checked.problems)
            if ignored:  # a typo'd column is ignored, and reported missing: show both
                text += f"; {mlflow.ignored_clause(ignored)}"
            raise RequestError(text, reason="invalid_input")
        return predictor.predict(checked), checked

    def _scored(
        self,
        endpoint: str,
        start: float,
        predictor: Predictor,
        prediction: Prediction,
        checked: Checked,
        request_id: str | None,
        ids: Any = None,  # noqa: ANN401 - the id column's values, as the request sent them
    ) -> None:
        self.telemetry.observe(endpoint, 200, time.perf_counter() - start)
        self.telemetry.predicted(endpoint, prediction)
        record = None
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
                predictor.version,
            )
        traffic = self.traffic
        if traffic is not None and traffic.shadowing and predictor is self.model.predictor:
            record = traffic.offer(checked, prediction, record)  # None: logged once shadowed
        if record is not None and self.log is not None:
            self.log.record(record)

    def _refused(
        self,
        endpoint: str,
        start: float,
        exc: RequestError,
        body: bytes,
        chosen: list[tuple[Predictor, str]] | None = None,
    ) -> Response:
        seconds = time.perf_counter() - start
        self.telemetry.observe(endpoint, exc.status, seconds, reason=exc.reason)
        if chosen:
            predictor, role = chosen[0]
            self.telemetry.by_version(
                predictor.version, role, exc.status, seconds, reason=exc.reason
            )
        return Response(body, status_code=exc.status, media_type=JSON)

    def _failed(
        self,
        endpoint: str,
        start: float,
        exc: Exception,
        shape: Callable[[str, int], bytes],
        chosen: list[tuple[Predictor, str]] | None = None,
    ) -> Response:
        """A bug (in the model or in conveyor): a JSON 500, logged, and the server lives on."""
        _log.exception("%s failed", endpoint)
        seconds = time.perf_counter() - start
        self.telemetry.observe(endpoint, 500, seconds, reason="internal")
        if chosen:
            predictor, role = chosen[0]
            self.telemetry.by_version(predictor.version, role, 500, seconds, reason="internal")
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        message = (
            f"internal error while scoring ({type(exc).__name__}: {first}); "
            "the request was valid, this is a bug: the server log has the traceback"
        )
        return Response(shape(message, 500), status_code=500, media_type=JSON)

    def _unknown_model(
        self, served: Predictor, endpoint: str, name: str, version: str | None
    ) -> Response | None:
        start = time.perf_counter()
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


def _description(predictor: Predictor) -> str:
    return (
        f"Model '{predictor.name}' version {predictor.version} ({predictor.task}), "
        f"sha256 {predictor.sha256[:12]}. MLflow-compatible POST /invocations and the Open "
        "Inference Protocol v2 under /v2."
    )


async def _run(work: Callable[[], _T], size: int) -> _T:
    """``work()`` here for a small body; in a worker thread for a large one."""
    if size <= _THREAD_BODY_BYTES:
        return work()
    return await run_in_threadpool(work)


def _json(value: Any) -> bytes:  # noqa: ANN401 - any JSON-able value
    import orjson

    return orjson.dumps(value)
