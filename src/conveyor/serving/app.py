"""The ASGI app: MLflow's scoring protocol, the Open Inference Protocol v2, metrics and docs.

The scoring routes read and parse their own bodies (orjson, no pydantic body model), record
metrics inside the handler (no middleware on the hot path) and answer with pre-serialised
bytes. A small request is scored on the event loop: a thread hop costs more than the model. A
large one is parsed, checked and scored in a worker thread so health checks stay quick.

What the handlers read of the model (predictor, limits, /version, metadata) is one ``ServedModel``,
taken once per request: a server that follows a registry stage (:mod:`conveyor.serving.follow`)
swaps it with one reference assignment, and a request in flight finishes on the model it began
with.

With a canary or a shadow (:mod:`conveyor.serving.traffic`), a ``Traffic`` picks the version
that answers each request, and the shadow scores answered requests in a thread of its own.

Around the routes here: ``_served`` (the model as the handlers read it), ``_outcome`` (how a
request ends: scored, refused or failed, and recorded), ``_fastlane`` (the scoring POSTs past
FastAPI's routing).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request  # noqa: TC002 - FastAPI reads the handlers' annotations
from starlette.responses import Response

from conveyor.errors import RequestError
from conveyor.serving import mlflow, oip
from conveyor.serving._fastlane import INFER, INVOCATIONS, ScoringFastLane
from conveyor.serving._outcome import JSON, Outcomes, run
from conveyor.serving._served import ServedModel, description, to_json
from conveyor.serving.body import media_type, parse_json, read_body, unsupported_type
from conveyor.serving.docs import add_docs
from conveyor.serving.openapi import infer_extra, install, invocations_extra
from conveyor.serving.prediction_log import PredictionLog
from conveyor.serving.telemetry import CONTENT_TYPE, Telemetry

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from enum import Enum

    from conveyor.bundle.inputs import Checked
    from conveyor.bundle.predictor import Prediction, Predictor
    from conveyor.serving.config import ServeConfig
    from conveyor.serving.follow import Follower
    from conveyor.serving.traffic import Traffic

__all__ = ["create_app"]


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
        description=description(predictor),
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
    infer_routes = (
        (INFER, server.infer_served),
        ("/v2/models/{name}/versions/{version}/infer", server.infer),
    )
    for path, infer in infer_routes:
        route(
            path,
            infer,
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
    app.add_middleware(ScoringFastLane, server=server)
    server.app = app
    install(app, lambda: server.model.predictor)
    add_docs(app, app.title)
    return app


class _Server(Outcomes):
    """The handlers, sharing one model (swapped whole), its metrics and its prediction log."""

    def __init__(
        self,
        predictor: Predictor,
        config: ServeConfig,
        follower: Follower | None = None,
        traffic: Traffic | None = None,
    ) -> None:
        self.config = config
        self.model = ServedModel.of(predictor, config)
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
        worker thread keeps the ``ServedModel`` it took and finishes on the old predictor.
        """
        model = ServedModel.of(predictor, self.config)
        self.telemetry.served(predictor)
        self.model = model
        if self.app is not None:  # the docs name the version: built again on the next read
            self.app.description = description(predictor)
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

            prediction, checked, content, split = await run(work, len(body))
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
        return self._plain("/version", to_json(shown), JSON)

    # --- Open Inference Protocol v2 ---------------------------------------------------------

    async def v2_server(self) -> Response:
        """``GET /v2``: server metadata."""
        from conveyor import __version__

        body = {"name": "conveyor", "version": str(__version__), "extensions": oip.EXTENSIONS}
        return self._plain("/v2", to_json(body), JSON)

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
        body = to_json({"name": predictor.name, "ready": True})
        return missing or self._plain(endpoint, body, JSON)

    async def infer_served(self, request: Request, name: str) -> Response:
        """``POST /v2/models/{name}/infer``, documented without a ``version`` query parameter.

        FastAPI would document one from :meth:`infer`'s signature, which no request reads.
        """
        return await self.infer(request, name)

    async def infer(self, request: Request, name: str, version: str | None = None) -> Response:
        """``POST /v2/models/{name}/infer`` and ``.../versions/{version}/infer``."""
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

            prediction, checked, parsed, content = await run(work, len(body))
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
        return Response(to_json(body), status_code=status, media_type=JSON)

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
