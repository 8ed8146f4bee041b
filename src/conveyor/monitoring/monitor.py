"""Monitor a batch: drift against the reference profile, the model's performance, two reports.

:func:`run_monitor` is what the ``monitor`` stage, ``conveyor monitor`` and ``conveyor ct`` all
call, each with one :class:`~conveyor.monitoring.request.MonitorRequest`. It reads the batch
(files, folders, globs, or a prediction-log directory), scores it with the model unless the log
already holds the scores (``_score``), compares it with the profile
(:func:`conveyor.monitoring.compare`), computes the model's metric when labels are known
(the target column in the batch, or ``labels`` files joined on ``id_column``), and writes
``drift.json`` and ``drift.html`` into ``out_dir``. A batch on an executor, or above
``_grid.COUNT_ROWS`` rows, is never one table: its files are read one task each (``_sharded``,
``_counted``; ``_scored`` when the model scores it or labels judge it). Every input is checked
before anything is written, so bad input leaves the previous reports untouched. What drift.json
holds and the terminal's paragraph (:func:`summary`) are ``_document``'s.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, cast

from conveyor import _atomic
from conveyor.monitoring._document import PERFORMANCE_KEYS as PERFORMANCE_KEYS
from conveyor.monitoring._document import MonitorResult as MonitorResult
from conveyor.monitoring._document import drift_document
from conveyor.monitoring._document import summary as summary

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from conveyor.bundle import Bundle
    from conveyor.bundle.predictor import Predictor
    from conveyor.monitoring import _counted
    from conveyor.monitoring._scores import Scores
    from conveyor.monitoring._sharded import ShardedBatch
    from conveyor.monitoring.drift import DriftOptions, DriftReport
    from conveyor.monitoring.profile import Profile
    from conveyor.monitoring.request import MonitorRequest
    from conveyor.plugins import Plugins
    from conveyor.plugins.executor import Session

JSON_NAME = "drift.json"
HTML_NAME = "drift.html"


def model_predictor(bundle: Bundle, *, threads: int = 1) -> Predictor | None:
    """The bundle ready to score batches; None for a classifier without probabilities.

    Unknown categories are allowed (monitoring reports them as a quality issue). A classifier
    without ``predict_proba`` (LinearSVC) has no score to monitor: the features only are.
    """
    from conveyor.bundle.predictor import Predictor

    if bundle.classes is not None and not hasattr(bundle.pipeline, "predict_proba"):
        return None
    return Predictor(bundle, unknown_categories="allow", threads=threads)


def batch_files(root: Path, paths: Sequence[str], *, where: str) -> list[Path]:
    """The CSV and Parquet files that ``paths`` (files, folders, globs) name, as a batch reads them.

    Raises:
        DataError: A path names no data file, or lies outside the project.
    """
    from conveyor.monitoring import _batch

    return _batch.expand(root, paths, where=where)


def read_reference_metrics(path: Path) -> dict[str, Any] | None:
    """The evaluate stage's metrics (``reports/metrics.json``); None when there are none."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def run_monitor(
    root: Path,
    request: MonitorRequest,
    *,
    plugins: Plugins | None = None,
    session: Session | None = None,
) -> MonitorResult:
    """Compare the batch ``request.current`` with its reference; write drift.json and drift.html.

    Args:
        root: Where relative paths start (the project root).
        request: The batch, the reference, the model and the settings (see
            :class:`~conveyor.monitoring.request.MonitorRequest`).
        plugins: Where metrics and drift tests are loaded from (default: the installed
            entry points).
        session: An open executor to read the batch's files on, one task per file (None: in
            this process, file by file above ``_grid.COUNT_ROWS`` rows, else read whole). Its
            drift.json is equal to an in-process run's: the model scores each file on the
            workers in the chunks an in-process run cuts (``_scored``), and a labelled batch
            keeps only its labelled rows' labels and scores for the metric.

    Returns:
        The drift report, the performance, the document and the paths written.

    Raises:
        DataError: The batch or the labels are missing, unreadable, or lack a column.
    """
    from conveyor.monitoring import _batch, _counted, _grid, _scored, _scores, _sharded
    from conveyor.monitoring._compare import compare
    from conveyor.monitoring._scores import score_table
    from conveyor.monitoring.drift import DriftOptions

    options = request.options or DriftOptions()
    reference, predictor, where = request.reference, request.predictor, request.where
    target, id_column = request.target, request.id_column
    if target is None and predictor is not None:
        target = cast("str | None", predictor.bundle.schema.get("target"))
    features = [name for name in reference.names if name not in options.ignore]
    numeric = [name for name in features if reference.column(name)["kind"] == "numeric"]
    inputs = list(predictor.schema.names) if predictor is not None else []
    extra = {_batch.LOG_SCORE, _batch.LOG_PREDICTION, *inputs}
    extra |= {c for c in (target, id_column) if c is not None}
    files = _batch.expand(
        root, request.current, where=where, model=predictor.name if predictor is not None else None
    )
    scorer = predictor if predictor is not None and _scores.can_score(predictor) else None
    must_score = reference.prediction is not None and scorer is not None
    sharded, counts = _counted.scan(
        session, root, files, reference, features, extra, numeric, where=where,
        labelled=bool(request.labels), target=target, must_score=must_score,
    )  # fmt: skip
    if sharded is not None:
        logged = _sharded.logged_score_column(sharded)
        needs_labels = bool(request.labels) or (target is not None and sharded.has(target))
        if not (must_score and logged is None) and not needs_labels:
            counted = sharded.rows > _grid.count_rows()
            found = _compare_sharded(request, sharded, logged, options, plugins, counted, counts)
            return _write(request, found)
        scored = _scored.compare_scored(
            root, request, sharded, logged=logged, scorer=scorer, target=target,
            options=options, plugins=plugins,
        )  # fmt: skip
        return _write(request, scored)
    batch = _batch.read_batch(
        root, files, required=features, optional=extra, numeric=numeric, where=where
    )
    scores: Scores | None = None
    prediction = None
    if reference.prediction is not None:
        prediction = _scores.logged_score(batch.table)
        if prediction is None and scorer is not None:
            scores = score_table(scorer, _scores.model_inputs(batch, scorer, where))
            prediction = scores.score
    truth = _scores.truth(
        root,
        batch,
        request.labels,
        target=target,
        id_column=id_column,
        where=where,
        labels_where=request.labels_where,
    )
    performance = None
    if truth is not None and scorer is not None:
        scores = scores or score_table(scorer, _scores.model_inputs(batch, scorer, where))
        performance = _scores.performance(
            scorer,
            scores,
            truth,
            metric=request.metric or _scores.DEFAULT_METRICS[scorer.task],
            max_drop=request.max_drop,
            relative=request.relative,
            reference_metrics=request.reference_metrics or {},
            plugins=plugins,
        )
    report = compare(
        reference,
        batch.table.select(features),
        options=options,
        current_prediction=prediction,
        tests=plugins["drift_test"] if plugins is not None else None,
    )
    document = drift_document(
        report, performance, scores, batch.files, predictor, request.reference_name
    )
    return _write(request, (report, performance, document))


def _write(
    request: MonitorRequest, found: tuple[DriftReport, dict[str, Any] | None, dict[str, Any]]
) -> MonitorResult:
    """Write drift.json and drift.html (each atomically), once everything is computed."""
    from conveyor.monitoring.report import render_html

    report, performance, document = found
    html = render_html(document, report, performance)
    json_path, html_path = request.out_dir / JSON_NAME, request.out_dir / HTML_NAME
    _atomic.write_text(json_path, json.dumps(document, indent=2, allow_nan=False) + "\n")
    _atomic.write_text(html_path, html)
    return MonitorResult(report, performance, document, json_path, html_path)


def _compare_sharded(
    request: MonitorRequest,
    batch: ShardedBatch,
    logged: str | None,
    options: DriftOptions,
    plugins: Plugins | None,
    counted: bool,
    counts: _counted.Counts | None,
) -> tuple[DriftReport, None, dict[str, Any]]:
    """The drift report of a batch on an executor, one column at a time (no labels, no model).

    ``counted``: every column counted into the reference grid (``_grid``), from ``counts``
    when the scan counted them already (``_counted``), else in one more pass. Counted sides
    are tested on a worker when conveyor's own tests do it (``Tests.for_worker``): this
    process then never imports scipy.stats, whose import took CPU the workers count with.
    """
    from conveyor.monitoring import _counted
    from conveyor.monitoring._compare import Tests, compare_counted, compare_sides
    from conveyor.plugins import Registry
    from conveyor.plugins.executor import InlineSession

    reference = request.reference
    registry = plugins["drift_test"] if plugins is not None else Registry.discover("drift_test")
    loaded = Tests(registry)
    names = [name for name in reference.names if name not in set(options.ignore)]
    prediction = None
    if counted:  # counted as the profile entry's kind says
        sides, prediction = _counted.count_sides(batch, reference, names, logged, counts)
        shipped = None if isinstance(batch.session, InlineSession) else loaded.for_worker(options)
        if shipped is None:
            report = compare_sides(
                reference, names, lambda name, _: sides[name], batch.rows, prediction, options,
                loaded,
            )  # fmt: skip
        else:  # counts travel; the way to read a column's values is for this process only
            counts_only = {name: replace(side, exact=None) for name, side in sides.items()}
            if prediction is not None:
                prediction = replace(prediction, exact=None)
            report = batch.session.submit(
                compare_counted, reference, names, counts_only, batch.rows, prediction, options,
                shipped,
            ).result()  # fmt: skip
    else:
        if reference.prediction is not None and logged is not None:
            prediction = batch.side(logged, reference.prediction["kind"], as_scores=True)
        rows = batch.rows
        report = compare_sides(reference, names, batch.side, rows, prediction, options, loaded)
    document = drift_document(
        report, None, None, batch.shown, request.predictor, request.reference_name
    )
    return report, None, document


def profile_data(
    root: Path,
    paths: Sequence[str],
    *,
    predictor: Predictor | None,
    exclude: Sequence[str] = (),
    where: str = "reference data",
    session: Session | None = None,
    stream: bool = False,
) -> Profile:
    """The reference profile of data files, with the model's predictions when it is given.

    With a model, its input columns are profiled, with kinds from its schema (numbers numeric;
    text and booleans categorical; date-times left out, as time always drifts). Without one,
    every column is, with kinds from the data types, but ``_``-prefixed ones (a prediction
    log's metadata). Columns in ``exclude`` (the target, an id) are always left out.

    With ``session``, each column's statistics are computed from its files' parts on the
    executor and merged (``_sharded.profile_columns``), and the model scores the files there
    too, one task per file (``_scoretask.batch_scores``) scoring the chunks ``score_table``
    cuts from the whole table (those that start in the file, reading the next files' first rows
    for its last), so the profile is the same bytes either way. A task holds its file's model
    inputs, so a single Parquet file (nothing to score side by side) is scored here a chunk at a
    time instead (``_streamed.stream_scores``), again the same bytes. With ``stream`` and no session
    (data over the memory budget), Parquet files are profiled one column at a time in this
    process (``_streamed``), and scored a chunk at a time, again the same bytes.
    """
    from conveyor.monitoring import _batch, _scores, _scoretask, _sharded, _streamed
    from conveyor.monitoring.profile import assemble, build_profile

    files = _batch.expand(root, paths, where=where)
    kinds: dict[str, Literal["numeric", "categorical"]] = {}
    if predictor is not None:
        for rule in predictor.schema.rules:
            if rule.kind != "datetime":
                kinds[rule.name] = "numeric" if rule.kind == "numeric" else "categorical"
        names = [name for name in kinds if name not in exclude]
        needed = list(predictor.schema.names)
    else:
        columns = _batch.column_names(files[0], where=where)
        names = [n for n in columns if n not in exclude and not n.startswith("_")]
        needed = names
    numeric = [name for name, kind in kinds.items() if kind == "numeric"]
    scores = predictor is not None and _scores.can_score(predictor)
    if stream and session is None and _streamed.can_stream(files):
        return _streamed.profile_streamed(
            root,
            files,
            predictor=predictor,
            names=names,
            kinds=kinds,
            needed=needed,
            numeric=numeric,
            where=where,
        )
    if session is not None:  # the statistics and the scores on the executor
        sharded = _sharded.scan_batch(
            session, root, files, required=needed, numeric=numeric, where=where
        )
        entries = _sharded.profile_columns(sharded, names, kinds)
        scored = None
        if predictor is not None and scores and len(files) == 1 and _streamed.can_stream(files):
            # one file runs on one worker anyway, which would hold its model inputs whole:
            # this process streams it a chunk at a time instead
            scored = _streamed.stream_scores(sharded, predictor, where)
        elif predictor is not None and scores:
            scored = _scoretask.batch_scores(sharded, predictor, where)
        return assemble(sharded.rows, entries, prediction=scored)
    batch = _batch.read_batch(root, files, required=needed, numeric=numeric, where=where)
    prediction = None
    if predictor is not None and scores:
        inputs = _scores.model_inputs(batch, predictor, where)
        prediction = _scores.score_table(predictor, inputs).score
    return build_profile(batch.table.select(names), kinds=kinds, prediction=prediction)
