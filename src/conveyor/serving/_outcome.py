"""How a scoring request ends: checked and scored, refused, or failed, each recorded once.

:class:`Outcomes` is the half of the app's server that the handlers of both protocols share:
the schema check and prediction, the metrics and prediction-log record of a scored request,
the JSON answer of a refused one (4xx) or a failed one (500, logged), and the 404 of a model
that is not served here. :func:`run` scores a small body on the event loop and a large one in
a worker thread.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from conveyor.errors import RequestError
from conveyor.serving import mlflow, oip
from conveyor.serving.body import describe_problems
from conveyor.serving.prediction_log import Record
from conveyor.serving.telemetry import score

if TYPE_CHECKING:
    from collections.abc import Callable

    from conveyor.bundle.inputs import Checked
    from conveyor.bundle.predictor import Prediction, Predictor
    from conveyor.serving._served import ServedModel
    from conveyor.serving.prediction_log import PredictionLog
    from conveyor.serving.telemetry import Telemetry
    from conveyor.serving.traffic import Traffic

_log = logging.getLogger("conveyor.serving")
JSON = "application/json"
THREAD_BODY_BYTES = 64 * 1024
"""Bodies larger than this are parsed and scored off the event loop."""
_T = TypeVar("_T")


class Outcomes:
    """The check, the prediction and the record of each way a request ends."""

    model: ServedModel
    telemetry: Telemetry
    log: PredictionLog | None
    traffic: Traffic | None

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


async def run(work: Callable[[], _T], size: int) -> _T:
    """``work()`` here for a small body; in a worker thread for a large one."""
    if size <= THREAD_BODY_BYTES:
        return work()
    return await run_in_threadpool(work)
