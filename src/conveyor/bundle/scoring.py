"""Batch scoring: stream CSV and Parquet files through a Predictor into one Parquet file.

Memory stays flat as the input grows: each file is read ``chunk_rows`` rows at a time (the
streaming readers of ``_batch_sources``), and each chunk is checked against the bundle's input
schema, predicted and appended to a ParquetWriter. Nothing but running counts outlives a chunk.
The output goes to a temporary sibling that is renamed into place at the end, so a failure
leaves no half-written file. A ``skip`` run's report counts every bad row per column (from
``Problem.count``) and samples the first 20.

Output columns, in order: the kept input columns, ``prediction`` (class label or value),
``proba_<class>`` per class for classifiers, ``_source_file`` (the input as given) and
``_row`` (0-based data row within its file, the CSV header not counted), to join back on.
"""

from __future__ import annotations

import glob
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from conveyor import _atomic
from conveyor.bundle._batch_sources import SUFFIXES, Source, open_source
from conveyor.bundle.inputs import Checked, Problem, select
from conveyor.errors import DataError, InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np
    import pyarrow as pa

    from conveyor.bundle.predictor import Predictor
    from conveyor.plugins.executor import Session

BadRows = Literal["fail", "skip"]
RESERVED = ("prediction", "_source_file", "_row")
_MAX_SAMPLES = 20
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class ScoreSummary:
    """What a scoring run read, scored, skipped and wrote."""

    files: tuple[Path, ...]
    rows_in: int
    rows_scored: int
    rows_skipped: int
    output: Path
    report: Path | None
    seconds: float


def score_files(
    predictor: Predictor,
    inputs: Sequence[str],
    output: Path,
    *,
    chunk_rows: int = 65_536,
    bad_rows: BadRows = "fail",
    keep_columns: Sequence[str] | None = None,
    report: Path | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    root: Path | None = None,
    session: Session | None = None,
) -> ScoreSummary:
    """Score every row of ``inputs`` (CSV/Parquet files, directories or globs) into ``output``.

    Args:
        predictor: the loaded model.
        inputs: files, directories (their .csv and .parquet files) or glob patterns; relative
            paths start from ``root``.
        output: the Parquet file to write (relative paths start from ``root``); replaced
            atomically.
        chunk_rows: rows per chunk; memory use follows this, not the size of the input.
        bad_rows: ``"fail"`` raises InputError at the first chunk holding a bad row and writes
            nothing; ``"skip"`` drops bad rows and writes a JSON report about them.
        keep_columns: input columns copied to the output; None copies every column of the
            first file.
        report: where ``"skip"`` writes its report (default ``<output>.bad_rows.json``).
        on_progress: called with ``(rows_done, rows_total)`` after each chunk. Parquet row
            counts are exact; a CSV file's count is estimated from its size and the bytes per
            line of its first 64 KiB until the file has been read.
        root: where relative paths start (default: the working directory).
        session: an open executor to shard the files across (one task per file, each
            streaming its file into a part that is merged, in input order, into ``output``);
            None scores in this process. The output is byte-identical either way.

    Returns:
        The files, counts and paths of the run.

    Raises:
        DataError: no input matches, a file cannot be read, or files disagree on a column.
        InputError: a file lacks a model input or a kept column, or (``"fail"``) a row breaks
            the input schema.
    """
    if chunk_rows < 1:
        raise DataError(f"chunk_rows must be at least 1, got {chunk_rows}")
    started = time.perf_counter()
    base = root if root is not None else Path.cwd()
    files = expand_inputs(inputs, base)
    sources = [open_source(file, _display(file, base)) for file in files]
    kept = list(keep_columns) if keep_columns is not None else list(sources[0].columns)
    _check_columns(sources, predictor, kept)
    layout = _Layout.build(predictor, sources[0], kept)
    target = output if output.is_absolute() else base / output
    tally = _Tally(bad_rows)
    progress = _Progress(sources, on_progress)
    read = [*predictor.schema.names, *(c for c in kept if c not in predictor.schema.names)]
    report_path = None
    with _atomic.atomic_path(target) as tmp:
        if session is None:
            write_sources(predictor, sources, read, chunk_rows, layout, tally, progress, tmp)
        else:
            from conveyor.bundle._shards import Plan, score_shards

            plan = Plan(predictor, read, chunk_rows, layout, bad_rows)
            score_shards(session, plan, sources, tally, progress, tmp)
        if bad_rows == "skip":
            chosen = report or target.with_name(f"{target.name}.bad_rows.json")
            report_path = chosen if chosen.is_absolute() else base / chosen
            _atomic.write_text(report_path, tally.render(predictor, target))
    return ScoreSummary(
        files=tuple(files),
        rows_in=tally.rows_in,
        rows_scored=tally.rows_in - tally.rows_skipped,
        rows_skipped=tally.rows_skipped,
        output=target,
        report=report_path,
        seconds=time.perf_counter() - started,
    )


def write_sources(
    predictor: Predictor,
    sources: Sequence[Source],
    read: list[str],
    chunk_rows: int,
    layout: _Layout,
    tally: _Tally,
    progress: _Progress,
    path: Path,
) -> None:
    """Stream ``sources`` chunk by chunk into one Parquet file at ``path`` (one row group each)."""
    import pyarrow.parquet as pq

    writer = pq.ParquetWriter(path, layout.schema)
    try:
        for source in sources:
            for offset, batch in source.batches(read, chunk_rows):
                scored = _score_chunk(predictor, source, offset, batch, layout, tally)
                if scored is not None:
                    writer.write_batch(scored)
                progress.advance(batch.num_rows)
            progress.finish(source)
    finally:
        writer.close()


def expand_inputs(inputs: Sequence[str], root: Path) -> list[Path]:
    """Files named by ``inputs``: paths, directories (recursively) and globs, in order, once."""
    found: dict[Path, None] = {}
    for pattern in inputs:
        path = Path(pattern) if Path(pattern).is_absolute() else root / pattern
        if _GLOB_CHARS & set(pattern):
            matches = sorted(glob.glob(pattern, root_dir=root, recursive=True))
            files = [root / m for m in matches if (root / m).is_file()]
            if not files:
                raise DataError(
                    f"no file matches '{pattern}'",
                    where=str(root),
                    fix="check the pattern; relative patterns start from this directory",
                )
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES)
            if not files:
                raise DataError(f"directory '{pattern}' holds no .csv or .parquet file")
        elif path.is_file():
            files = [path]
        else:
            raise DataError(
                f"input file '{pattern}' does not exist",
                where=str(root),
                fix="check the path; relative paths start from this directory",
            )
        found.update(dict.fromkeys(files))
    if not found:
        raise DataError("no input files given", fix="name at least one .csv or .parquet file")
    return list(found)


def _display(file: Path, root: Path) -> str:
    """The file as the user knows it: relative to the root when inside it."""
    try:
        return file.relative_to(root).as_posix()
    except ValueError:
        return str(file)


def _listed(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _check_columns(sources: list[Source], predictor: Predictor, kept: list[str]) -> None:
    """Every file holds every model input and kept column; no kept column shadows an output."""
    clashes = [c for c in kept if c in RESERVED or c.startswith("proba_")]
    if clashes:
        raise DataError(
            f"input columns {_listed(clashes)} have the names of output columns",
            where=sources[0].display,
            fix="rename them in the input, or leave them out with --keep-columns",
        )
    names = predictor.schema.names
    for source in sources:
        present = set(source.columns)
        missing = [n for n in names if n not in present]
        if missing:
            raise InputError(
                f"model '{predictor.name}' needs columns the file lacks: {_listed(missing)}",
                where=source.display,
                fix=f"the file has {_listed(source.columns)}; give it the model's input "
                "columns (names as in the bundle's schema.json)",
                problems=tuple(Problem(n, "is missing") for n in missing),
            )
        lacking = [c for c in kept if c not in present]
        if lacking:
            raise InputError(
                f"kept columns {_listed(lacking)} are not in the file",
                where=source.display,
                fix="keep only columns that every input file has (--keep-columns)",
            )


@dataclass(frozen=True)
class _Layout:
    """The output's Arrow schema: kept columns, prediction, probabilities, provenance."""

    schema: pa.Schema
    kept: list[str]
    label_type: pa.DataType

    @classmethod
    def build(cls, predictor: Predictor, first: Source, kept: list[str]) -> _Layout:
        import pyarrow as pa

        rules = {rule.name: rule for rule in predictor.schema.rules}
        fields = [pa.field(name, first.output_type(name, rules.get(name))) for name in kept]
        classes = predictor.classes
        label_type = pa.array(classes).type if classes is not None else pa.float64()
        fields.append(pa.field("prediction", label_type))
        fields += [pa.field(f"proba_{c}", pa.float64()) for c in classes or ()]
        fields += [pa.field("_source_file", pa.string()), pa.field("_row", pa.int64())]
        return cls(pa.schema(fields), kept, label_type)


def _score_chunk(
    predictor: Predictor,
    source: Source,
    offset: int,
    batch: pa.RecordBatch,
    layout: _Layout,
    tally: _Tally,
) -> pa.RecordBatch | None:
    """Check, predict and lay out one chunk; None when every row of it was skipped."""
    import numpy as np
    import pyarrow as pa

    rules = predictor.schema.rules
    columns = {rule.name: source.values(batch.column(rule.name), rule) for rule in rules}
    checked = predictor.schema.check(columns, from_text=source.is_text)
    rows = np.arange(offset, offset + batch.num_rows, dtype=np.int64)
    tally.rows_in += batch.num_rows
    if not checked.ok():
        keep = tally.record(source, offset, checked)
        checked = select(checked, keep)
        batch, rows = batch.filter(pa.array(keep)), rows[keep]
        if checked.n_rows == 0:
            return None
    prediction = predictor.predict(checked)
    fields = layout.schema
    arrays = [
        _as_type(source.kept(batch, name, checked.arrays), fields.field(name).type, name, source)
        for name in layout.kept
    ]
    arrays.append(pa.array(prediction.labels, type=layout.label_type))
    if prediction.proba is not None:
        arrays += [pa.array(prediction.proba[:, i]) for i in range(prediction.proba.shape[1])]
    arrays += [pa.repeat(pa.scalar(source.display), checked.n_rows), pa.array(rows)]
    return pa.RecordBatch.from_arrays(arrays, schema=fields)


def _as_type(array: pa.Array, target: pa.DataType, name: str, source: Source) -> pa.Array:
    """A kept column in its output type (set by the first file)."""
    import pyarrow as pa

    if array.type == target:
        return array
    try:
        return array.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(
            f"kept column '{name}' holds {array.type} values that do not convert to {target}, "
            "its type in the first input file",
            where=source.display,
            fix="give the column one type in every input, or leave it out with --keep-columns",
        ) from exc


class _Tally:
    """Running counts, and the bad rows of a ``skip`` run."""

    def __init__(self, policy: BadRows) -> None:
        self.policy = policy
        self.rows_in = 0
        self.rows_skipped = 0
        self.skipped_by_file: dict[str, int] = {}
        self.by_column: dict[str, dict[str, Any]] = {}
        self.samples: list[dict[str, Any]] = []

    def record(self, source: Source, offset: int, checked: Checked) -> np.ndarray:
        """Raise under ``fail``; count and sample the problems under ``skip``; rows to keep."""
        problems = tuple(
            replace(p, rows=tuple(r + offset for r in p.rows)) for p in checked.problems
        )
        if self.policy == "fail" or any(p.column is None or not p.rows for p in problems):
            more = f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
            raise InputError(
                "; ".join(p.render() for p in problems[:10]) + more,
                where=source.display,
                fix="correct or remove those rows (numbered from 0, without the CSV header), "
                "or score the rest with --bad-rows skip to get a report of them",
                problems=problems,
            )
        bad = checked.bad_rows
        skipped = int(bad.sum())
        self.rows_skipped += skipped
        self.skipped_by_file[source.display] = self.skipped_by_file.get(source.display, 0) + skipped
        for problem in problems:
            name = str(problem.column)
            entry = self.by_column.setdefault(name, {"column": name, "rows": 0, "messages": []})
            entry["rows"] += problem.count  # one column's problems never share a row
            if problem.message not in entry["messages"] and len(entry["messages"]) < 5:
                entry["messages"].append(problem.message)
            for row in problem.rows[: max(0, _MAX_SAMPLES - len(self.samples))]:
                sample = {"file": source.display, "row": row, "column": name}
                self.samples.append({**sample, "message": problem.message})
        return ~bad

    def absorb(self, other: _Tally) -> None:
        """Add a later shard's counts and samples, as if this tally had read its rows too."""
        self.rows_in += other.rows_in
        self.rows_skipped += other.rows_skipped
        for name, count in other.skipped_by_file.items():
            self.skipped_by_file[name] = self.skipped_by_file.get(name, 0) + count
        for name, entry in other.by_column.items():
            mine = self.by_column.setdefault(name, {"column": name, "rows": 0, "messages": []})
            mine["rows"] += entry["rows"]
            for message in entry["messages"]:
                if message not in mine["messages"] and len(mine["messages"]) < 5:
                    mine["messages"].append(message)
        self.samples += other.samples[: max(0, _MAX_SAMPLES - len(self.samples))]

    def render(self, predictor: Predictor, output: Path) -> str:
        """The JSON report of a ``skip`` run."""
        document = {
            "output": str(output),
            "model": {
                "name": predictor.name,
                "version": predictor.version,
                "sha256": predictor.sha256,
            },
            "rows_in": self.rows_in,
            "rows_scored": self.rows_in - self.rows_skipped,
            "rows_skipped": self.rows_skipped,
            "skipped_by_file": self.skipped_by_file,
            "problems": sorted(self.by_column.values(), key=lambda entry: -entry["rows"]),
            "samples": self.samples,
        }
        return json.dumps(document, indent=2) + "\n"


class _Progress:
    """Calls ``on_progress(done, total)``; a CSV file's estimated total is corrected once read."""

    def __init__(self, sources: list[Source], callback: Callable[[int, int], None] | None) -> None:
        self.callback = callback
        self.done = 0
        self.total = sum(source.rows_estimate for source in sources)

    def advance(self, rows: int) -> None:
        self.done += rows
        if self.callback is not None:
            self.callback(self.done, max(self.total, self.done))

    def finish(self, source: Source) -> None:
        self.total += source.rows_read - source.rows_estimate
        self.advance(0)
