"""The streaming scorer's pieces: a chunk checked, predicted and laid out; counts; progress.

:func:`write_sources` streams files chunk by chunk into one Parquet file, one row group per
chunk. ``conveyor score`` runs it in its own process (:mod:`conveyor.bundle.scoring`) or once
per file on an executor's workers (:mod:`conveyor.bundle._shards`), and both write the same
row groups, so the output does not depend on where it ran.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from conveyor.bundle.inputs import Checked, select
from conveyor.errors import DataError, InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    import numpy as np
    import pyarrow as pa

    from conveyor.bundle._batch_sources import Source
    from conveyor.bundle.predictor import Predictor

BadRows = Literal["fail", "skip"]
MAX_SAMPLES = 20


def write_sources(
    predictor: Predictor,
    sources: Sequence[Source],
    read: list[str],
    chunk_rows: int,
    layout: Layout,
    tally: Tally,
    progress: Progress,
    path: Path,
    *,
    arrow: bool = False,
) -> None:
    """Stream ``sources`` chunk by chunk into one Parquet file at ``path`` (one row group each).

    ``arrow``: an Arrow IPC file of the same record batches instead, unencoded: a scratch part
    that the driver writes into the Parquet output (``_shards``), so it is encoded once, there.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer: pa.ipc.RecordBatchFileWriter | pq.ParquetWriter
    if arrow:
        writer = pa.ipc.new_file(str(path), layout.schema)
    else:
        writer = pq.ParquetWriter(path, layout.schema)
    try:
        for source in sources:
            for offset, batch in source.batches(read, chunk_rows):
                scored = score_chunk(predictor, source, offset, batch, layout, tally)
                if scored is not None:
                    writer.write_batch(scored)
                progress.advance(batch.num_rows)
            progress.finish(source)
    finally:
        writer.close()


@dataclass(frozen=True)
class Layout:
    """The output's Arrow schema: kept columns, prediction, probabilities, provenance."""

    schema: pa.Schema
    kept: list[str]
    label_type: pa.DataType

    @classmethod
    def build(cls, predictor: Predictor, first: Source, kept: list[str]) -> Layout:
        import pyarrow as pa

        rules = {rule.name: rule for rule in predictor.schema.rules}
        fields = [pa.field(name, first.output_type(name, rules.get(name))) for name in kept]
        classes = predictor.classes
        label_type = pa.array(classes).type if classes is not None else pa.float64()
        fields.append(pa.field("prediction", label_type))
        fields += [pa.field(f"proba_{c}", pa.float64()) for c in classes or ()]
        fields += [pa.field("_source_file", pa.string()), pa.field("_row", pa.int64())]
        return cls(pa.schema(fields), kept, label_type)


def score_chunk(
    predictor: Predictor,
    source: Source,
    offset: int,
    batch: pa.RecordBatch,
    layout: Layout,
    tally: Tally,
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
        as_type(source.kept(batch, name, checked.arrays), fields.field(name).type, name, source)
        for name in layout.kept
    ]
    arrays.append(pa.array(prediction.labels, type=layout.label_type))
    if prediction.proba is not None:
        arrays += [pa.array(prediction.proba[:, i]) for i in range(prediction.proba.shape[1])]
    arrays += [pa.repeat(pa.scalar(source.display), checked.n_rows), pa.array(rows)]
    return pa.RecordBatch.from_arrays(arrays, schema=fields)


def as_type(array: pa.Array, target: pa.DataType, name: str, source: Source) -> pa.Array:
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


class Tally:
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
            for row in problem.rows[: max(0, MAX_SAMPLES - len(self.samples))]:
                sample = {"file": source.display, "row": row, "column": name}
                self.samples.append({**sample, "message": problem.message})
        return ~bad

    def absorb(self, other: Tally) -> None:
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
        self.samples += other.samples[: max(0, MAX_SAMPLES - len(self.samples))]

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


class Progress:
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
