"""Prediction logging off the request path: a queue, a writer thread, rotating Parquet files.

The handler only puts a small record on a ``queue.SimpleQueue`` (the coerced input arrays, the
predictions, the request id and time). A daemon thread wakes once a second (or as soon as
``rotate_rows`` rows are waiting), drains the queue and writes one Parquet file per
``rotate_rows`` rows, or whatever is waiting once the oldest record is ``rotate_seconds`` old,
and on ``close`` (the server's shutdown). Layout, read by monitoring::

    <log_dir>/<model>/date=YYYY-MM-DD/part-<UTC HHMMSS>-<seq>.parquet

Columns: the model's input columns as the schema names them, then the server's ``id_column``
(string, null where a request had none) when it has one, then ``_request_id`` (string),
``_time`` (timestamp[us, UTC]), ``_model``, ``_model_version``, ``_endpoint`` (strings),
``_prediction`` (the label as a string for classifiers, a float for regression) and ``_score``
(P(positive class) for binary, the max probability for multiclass, null for regression).
A server with a shadow (:mod:`conveyor.serving.traffic`) adds ``_shadow_model_version``,
``_shadow_prediction`` and ``_shadow_score``: what the shadow said about the same rows (null
where it failed or was skipped), beside the answered prediction.

Each file is written to a hidden temporary name and hard-linked into place, so a reader never
sees half a file and two servers sharing ``log_dir`` never overwrite each other's files.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from conveyor.bundle.inputs import ColumnRule

_log = logging.getLogger("conveyor.serving")
_STOP = object()
_TICK_SECONDS = 1.0
_ARROW_TYPES = {"numeric": "float64", "bool": "bool_", "text": "string"}


@dataclass(frozen=True)
class Record:
    """One scored request, as the handler hands it over."""

    request_id: str
    time: float
    """Seconds since the epoch (UTC)."""
    endpoint: str
    arrays: dict[str, np.ndarray]
    labels: np.ndarray
    scores: np.ndarray | None
    ids: Any = None
    """The values of the request's id column, or None."""
    version: str | None = None
    """The model version that answered; None: the log's own (a server that swaps sets it)."""
    shadow_version: str | None = None
    """The shadow version that also scored these rows (a log with ``shadow`` on)."""
    shadow_labels: np.ndarray | None = None
    """The shadow's predictions; None: it failed or was skipped."""
    shadow_scores: np.ndarray | None = None


class PredictionLog:
    """Writes records for one model into ``<root>/<model>/date=.../part-*.parquet``."""

    def __init__(
        self,
        root: Path,
        *,
        model: str,
        version: str,
        rules: tuple[ColumnRule, ...],
        classifier: bool,
        rotate_rows: int = 10_000,
        rotate_seconds: float = 60.0,
        id_column: str | None = None,
        shadow: bool = False,
    ) -> None:
        self.directory = root / model
        self.shadow = shadow
        self.id_column = id_column
        self.model, self.version = model, version
        self.rules, self.classifier = rules, classifier
        self.rotate_rows, self.rotate_seconds = rotate_rows, rotate_seconds
        self.files_written = 0
        self.rows_dropped = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._unsignalled = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._sequence = itertools.count()

    def record(self, record: Record) -> None:
        """Queue ``record`` for writing; never blocks on I/O.

        Called from the event loop thread only (the handlers record after scoring).
        """
        if self._thread is None:
            self._start()
        self._queue.put(record)
        self._unsignalled += len(record.labels)
        if self._unsignalled >= self.rotate_rows:
            self._unsignalled = 0
            self._wake.set()

    def close(self, timeout: float = 30.0) -> None:
        """Write what is waiting and stop the writer thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            self._wake.set()
            thread.join(timeout)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="conveyor-prediction-log", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        """Wake once per tick (or when a file's worth of rows is waiting), drain, write.

        Waking per record would cost the server a thread switch on every request.
        """
        tick = min(_TICK_SECONDS, self.rotate_seconds)
        waiting: list[Record] = []
        rows = 0
        oldest = 0.0
        while True:
            self._wake.wait(tick)
            self._wake.clear()
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._flush(waiting)
                    return
                if not waiting:
                    oldest = time.monotonic()
                waiting.append(item)
                rows += len(item.labels)
                if rows >= self.rotate_rows:
                    self._flush(waiting)
                    waiting, rows = [], 0
            if waiting and time.monotonic() - oldest >= self.rotate_seconds:
                self._flush(waiting)
                waiting, rows = [], 0

    def _flush(self, records: list[Record]) -> None:
        by_date: dict[str, list[Record]] = {}
        for record in records:
            day = datetime.fromtimestamp(record.time, UTC).strftime("%Y-%m-%d")
            by_date.setdefault(day, []).append(record)
        for day, group in by_date.items():
            try:
                self._write(day, group)
            except Exception:  # a full disk must not stop the server: report, drop, go on
                self.rows_dropped += sum(len(r.labels) for r in group)
                _log.exception("could not write %d prediction log records", len(group))

    def _write(self, day: str, records: list[Record]) -> None:
        import pyarrow.parquet as pq

        table = self._table(records)
        folder = self.directory / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.fromtimestamp(records[0].time, UTC).strftime("%H%M%S")
        temporary = folder / f".part-{stamp}-{os.getpid()}-{threading.get_ident()}.tmp"
        pq.write_table(table, temporary)
        try:
            while True:  # link() refuses an existing name: never overwrite another file
                target = folder / f"part-{stamp}-{next(self._sequence):06d}.parquet"
                try:
                    os.link(temporary, target)
                    break
                except FileExistsError:
                    continue
        finally:
            temporary.unlink(missing_ok=True)
        self.files_written += 1

    def _table(self, records: list[Record]) -> Any:  # noqa: ANN401 - a pyarrow Table
        import numpy as np
        import pyarrow as pa

        counts = np.fromiter((len(r.labels) for r in records), dtype=np.int64, count=len(records))
        data: dict[str, Any] = {}
        for rule in self.rules:
            values = np.concatenate([r.arrays[rule.name] for r in records])
            arrow = _ARROW_TYPES.get(rule.kind)
            kind = getattr(pa, arrow)() if arrow else None
            data[rule.name] = pa.array(values, type=kind, from_pandas=True)
        if self.id_column is not None:
            data[self.id_column] = pa.array(
                [
                    None if value is None else str(value)
                    for r in records
                    for value in (r.ids if r.ids is not None else [None] * len(r.labels))
                ],
                type=pa.string(),
            )
        ids = np.asarray([r.request_id for r in records], dtype=object)
        micros = np.asarray([round(r.time * 1e6) for r in records], dtype=np.int64)
        data["_request_id"] = pa.array(np.repeat(ids, counts), type=pa.string())
        data["_time"] = pa.array(np.repeat(micros, counts)).view(pa.timestamp("us", tz="UTC"))
        endpoints = np.asarray([r.endpoint for r in records], dtype=object)
        total = int(counts.sum())
        data["_model"] = pa.array([self.model] * total, type=pa.string())
        versions = np.asarray([r.version or self.version for r in records], dtype=object)
        data["_model_version"] = pa.array(np.repeat(versions, counts), type=pa.string())
        data["_endpoint"] = pa.array(np.repeat(endpoints, counts), type=pa.string())
        labels = np.concatenate([r.labels for r in records])
        if self.classifier:
            data["_prediction"] = pa.array(labels.astype(str), type=pa.string())
            scores = np.concatenate([r.scores for r in records if r.scores is not None])
            data["_score"] = pa.array(scores, type=pa.float64())
        else:
            data["_prediction"] = pa.array(labels, type=pa.float64())
            data["_score"] = pa.nulls(total, type=pa.float64())
        if self.shadow:
            data.update(self._shadow_columns(records))
        return pa.table(data)

    def _shadow_columns(self, records: list[Record]) -> dict[str, Any]:
        import numpy as np
        import pyarrow as pa

        versions: list[str | None] = []
        labels: list[Any] = []
        scores: list[Any] = []
        for r in records:
            rows = len(r.labels)
            versions += [r.shadow_version] * rows
            if r.shadow_labels is None:
                labels += [None] * rows
                scores += [None] * rows
                continue
            shown = r.shadow_labels.astype(str) if self.classifier else r.shadow_labels
            labels += shown.tolist()
            scores += r.shadow_scores.tolist() if r.shadow_scores is not None else [None] * rows
        kind = pa.string() if self.classifier else pa.float64()
        return {
            "_shadow_model_version": pa.array(np.asarray(versions, dtype=object), pa.string()),
            "_shadow_prediction": pa.array(labels, type=kind),
            "_shadow_score": pa.array(scores, type=pa.float64()),
        }
