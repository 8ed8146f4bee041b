"""Two versions from one server: a canary answers a share of requests, a shadow scores them all.

``canary``: ``canary_share`` of the scoring requests are answered by the candidate. Without a
sticky column the requests are dealt out in turn (request *n* goes to the candidate when
``floor((n + 1) * share)`` passes ``floor(n * share)``), so over any N requests the candidate
answers ``N * share`` of them, give or take one. With ``canary_sticky`` (the id column), the
first id of a request picks the version: ``blake2b(id)`` read as a number in [0, 1) below the
share means the candidate. The same id lands on the same version on every request, on every
restart and on every replica. /v2 requests carry no id column and are dealt out by share.

``shadow``: every scoring request is answered by the primary; then the candidate scores the
same checked rows in a worker thread of its own, off the request path. Its answer, its time
and its errors go to /metrics (``role="shadow"``) and, beside the primary's, to the prediction
log (``_shadow_*`` columns). When the shadow falls behind by more than ``_QUEUE`` requests, the
newest are not shadowed (``conveyor_version_errors_total{reason="dropped"}``): the answer never
waits for the shadow.

The candidate is loaded at start like any bundle (integrity, trust, probe rows) and must take
the primary's inputs: the same model name, task, classes and input schema, or the server does
not start (:func:`load_candidate`).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import queue
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from conveyor.errors import BundleError, ConveyorError, ServeError

if TYPE_CHECKING:
    import asyncio
    from pathlib import Path

    from conveyor.bundle.inputs import Checked
    from conveyor.bundle.predictor import Prediction, Predictor
    from conveyor.serving._open import OpenedModel
    from conveyor.serving.config import ServeConfig
    from conveyor.serving.prediction_log import PredictionLog, Record
    from conveyor.serving.telemetry import Telemetry

__all__ = ["CANARY", "PRIMARY", "SHADOW", "Candidate", "Traffic", "load_candidate", "sticky_point"]

PRIMARY, CANARY, SHADOW = "primary", "canary", "shadow"
_QUEUE = 1024
"""Requests waiting for the shadow; past this the newest go unshadowed."""
_PROBE_ROWS = 64
_log = logging.getLogger("conveyor.serving")


def sticky_point(value: Any) -> float:  # noqa: ANN401 - an id as the request sent it
    """Where an id falls in [0, 1): the same text, the same point, in every process."""
    digest = hashlib.blake2b(str(value).encode(), digest_size=8, person=b"conveyor-canary")
    return int.from_bytes(digest.digest(), "big") / 2**64


@dataclass(frozen=True)
class Candidate:
    """The second version a server serves: as a ``canary`` or a ``shadow``."""

    mode: str
    predictor: Predictor
    label: str
    """The reference it was loaded from (``diagnostics@v1.1.0``)."""
    share: float = 0.0
    sticky: str | None = None
    opened: OpenedModel | None = None

    def status(self) -> dict[str, Any]:
        """What /version says of it."""
        shown: dict[str, Any] = {
            "model_version": self.predictor.version,
            "sha256": self.predictor.sha256,
            "from": self.label,
        }
        if self.mode == CANARY:
            shown |= {"share": self.share, "sticky": self.sticky}
        return shown


@dataclass(frozen=True)
class ShadowJob:
    """One answered request for the shadow to score: the checked rows and what was answered."""

    checked: Checked
    labels: Any
    record: Record | None


class Traffic:
    """Which version answers each request, and the shadow's worker thread."""

    def __init__(self, candidate: Candidate, *, backlog: int = _QUEUE) -> None:
        self.candidate = candidate
        self._turn = itertools.count()  # next() on a count is atomic: safe from worker threads
        self._queue: queue.Queue[ShadowJob | None] = queue.Queue(backlog)
        self._thread: threading.Thread | None = None
        self._telemetry: Telemetry | None = None
        self._log: PredictionLog | None = None

    @property
    def shadowing(self) -> bool:
        """Whether every request is shadowed."""
        return self.candidate.mode == SHADOW

    def route(self, primary: Predictor, ids: Any = None) -> tuple[Predictor, str]:  # noqa: ANN401
        """The predictor that answers this request, and its role (``primary`` or ``canary``)."""
        candidate = self.candidate
        if candidate.mode != CANARY:
            return primary, PRIMARY
        share = candidate.share
        if candidate.sticky is not None and ids is not None and len(ids):
            chosen = sticky_point(ids[0]) < share
        else:
            n = next(self._turn)
            chosen = int((n + 1) * share) > int(n * share)
        return (candidate.predictor, CANARY) if chosen else (primary, PRIMARY)

    # --- the shadow -----------------------------------------------------------------------

    def start(
        self, loop: asyncio.AbstractEventLoop, telemetry: Telemetry, log: PredictionLog | None
    ) -> None:
        """Start the shadow's thread; its results are recorded on ``loop`` (:meth:`_done`)."""
        if not self.shadowing or self._thread is not None:
            return
        self._telemetry, self._log = telemetry, log
        predictor = self.candidate.predictor

        def work() -> None:
            while (job := self._queue.get()) is not None:
                start = time.perf_counter()
                try:
                    prediction, error = predictor.predict(job.checked), None
                except Exception as exc:  # the shadow's failure is a metric, never an answer
                    _log.warning("shadow %s failed: %s: %s", predictor.version, type(exc), exc)
                    prediction, error = None, "internal"
                seconds = time.perf_counter() - start
                loop.call_soon_threadsafe(self._done, job, prediction, seconds, error)

        self._thread = threading.Thread(target=work, name="conveyor-shadow", daemon=True)
        self._thread.start()

    def offer(self, checked: Checked, answered: Prediction, record: Record | None) -> Record | None:
        """Give an answered request to the shadow (on the event loop, after the answer).

        Returns None once queued (its record is logged with the shadow's answer beside it);
        when the shadow is too far behind, the record to log now, counted ``dropped``.
        """
        assert self._telemetry is not None  # noqa: S101 - started by the app's lifespan
        if self.submit(ShadowJob(checked, answered.labels, record)):
            return None
        version = self.candidate.predictor.version
        self._telemetry.by_version(version, SHADOW, 503, reason="dropped")
        return replace(record, shadow_version=version) if record is not None else None

    def _done(
        self, job: ShadowJob, prediction: Prediction | None, seconds: float, error: str | None
    ) -> None:
        """On the event loop, after the shadow scored ``job``: metrics, then the log."""
        telemetry = self._telemetry
        assert telemetry is not None  # noqa: S101 - set by start
        version = self.candidate.predictor.version
        code = 200 if prediction is not None else 500
        telemetry.by_version(version, SHADOW, code, seconds, reason=error, prediction=prediction)
        if prediction is not None and prediction.proba is not None:
            telemetry.disagreed(version, int((prediction.labels != job.labels).sum()))
        if job.record is not None and self._log is not None:
            self._log.record(shadowed(job.record, version, prediction))

    def submit(self, job: ShadowJob) -> bool:
        """Queue ``job`` for the shadow; False (and nothing queued) when it is too far behind."""
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            return False
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Let the shadow finish what is queued, then stop its thread."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def close(self) -> None:
        """Remove the candidate's temporary copy, if any."""
        if self.candidate.opened is not None:
            self.candidate.opened.close()


def shadowed(record: Record, version: str, prediction: Prediction | None) -> Record:
    """``record`` with the shadow's answer beside the primary's."""
    from conveyor.serving.telemetry import score

    if prediction is None:
        return replace(record, shadow_version=version)
    scores = score(prediction) if prediction.proba is not None else None
    return replace(
        record, shadow_version=version, shadow_labels=prediction.labels, shadow_scores=scores
    )


def load_candidate(config: ServeConfig, primary: Predictor, *, root: Path) -> Candidate | None:
    """The config's canary or shadow, loaded and checked against ``primary``; None if neither.

    Raises:
        BundleError: The candidate is missing, tampered or not trusted (exit code 4).
        ServeError: It fails its probe rows or takes other inputs than the primary.
    """
    from conveyor.bundle.predictor import Predictor
    from conveyor.serving._open import open_model

    mode = CANARY if config.canary is not None else SHADOW if config.shadow is not None else None
    if mode is None:
        return None
    text = config.canary if mode == CANARY else config.shadow
    assert text is not None  # noqa: S101 - set when mode is
    where = f"{mode} '{text}' (--{mode} or serve.json)"
    try:
        opened = open_model(text, root=root)
    except BundleError as exc:
        what = f"the {mode} cannot be loaded: {exc.what}"
        raise BundleError(what, where=where, fix=exc.fix) from exc
    except ConveyorError as exc:
        raise ServeError(f"the {mode} cannot be loaded: {exc}", where=where, fix=exc.fix) from exc
    try:
        predictor = Predictor(opened.bundle, unknown_categories=config.unknown_categories)
        predictor.version = opened.version
        if predictor.version == primary.version:  # two directories: both "local"
            predictor.version = f"{opened.version}-{predictor.sha256[:12]}"
        problem = _incompatible(predictor, primary)
        if problem is None and (probe := predictor.probe(_PROBE_ROWS)) is not None:
            problem = f"it fails its probe rows: {probe}"
        if problem is not None:
            raise ServeError(
                f"the {mode} cannot serve beside '{primary.name}' {primary.version}: {problem}",
                where=where,
                fix=f"give a version of '{primary.name}' that takes the same inputs, or serve "
                "the new schema with a server of its own",
            )
    except BaseException:
        opened.close()
        raise
    share = config.canary_share if mode == CANARY else 0.0
    return Candidate(mode, predictor, opened.label, share, config.canary_sticky, opened)


def _incompatible(candidate: Predictor, primary: Predictor) -> str | None:
    from conveyor.serving.follow import schema_change

    if candidate.name != primary.name:
        return f"it is model '{candidate.name}', not '{primary.name}'"
    if candidate.task != primary.task:
        return f"it is a {candidate.task} model, the primary a {primary.task} one"
    if candidate.classes != primary.classes:
        return f"its classes {candidate.classes} are not the primary's {primary.classes}"
    if (change := schema_change(candidate, primary)) is not None:
        return f"its input schema differs from the primary's ({change})"
    return None
