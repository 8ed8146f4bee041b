"""Monitoring a batch across an executor: one task per file, parts merged on the driver.

A prediction log is a folder of many Parquet files; on a non-local executor each file is read
on a worker, never all of them into one table. The work runs in passes, one task per file in
each:

1. ``scan_file``: the file's columns, their types (as a local run types them) and null counts,
   and its row count. The driver checks what a local run checks (required columns, one type
   per column across files, rows) and unifies the types exactly as ``pyarrow.concat_tables``
   does, with the same errors.
2. ``column_part``, once per profiled column (and the logged score), when its turn comes: the
   file's category counts and nulls, or its finite values sorted and its nulls. Counts merge
   by addition in file order (so categories keep the order a local run sees them in); sorted
   values merge into the column's sorted values. The drift tests then run on the driver on
   exactly the numbers a local run has, so drift.json is equal whichever executor ran it.

The driver holds one column at a time, never the whole batch. Above ``_grid.COUNT_ROWS``
rows not even that: one task per file returns every column's counts in the reference's grid
(memory flat in the batch's rows), and when the footers show that before any value is read,
the same task is pass 1 too (``_counted.count_file``: ``typed_parts`` feeds both the scan and
the counts, so each file is read once). The same passes run
in process on :class:`~conveyor.plugins.executor.InlineSession` for such a batch, so the
numbers are the same. Batches that need the model to score them or labels to judge it are
scored a file per task too (``_scored``, with ``_scoretask``'s tasks, which also score the
reference profile's files). Workers must see the files at the same paths (one
machine, or a shared filesystem).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from conveyor.errors import DataError
from conveyor.monitoring import _batch, _columns, _stats

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
    from pathlib import Path
    from typing import Any, Literal

    from conveyor.plugins.executor import Session


@dataclass(frozen=True)
class ScanTask:
    """One file and what the batch wants of it."""

    path: Path
    display: str
    required: tuple[str, ...]
    wanted: tuple[str, ...]
    numeric: frozenset[str]
    where: str


@dataclass(frozen=True)
class FileScan:
    """What one file holds: its wanted columns (typed) with their nulls, and its rows."""

    schema: pa.Schema
    nulls: dict[str, int]
    rows: int


def scan_file(task: ScanTask) -> FileScan:
    """Read one file's wanted columns, as ``read_batch`` does, and describe them (on a worker)."""
    return describe(typed_parts(task))


def typed_parts(task: ScanTask) -> Iterator[pa.Table]:
    """The file's wanted columns, typed as ``read_batch`` types them, a part at a time.

    A CSV is one part (typed by reading it whole, as ``read_batch`` reads it); a Parquet file
    is read a batch at a time, as its types do not depend on the values; a file with no rows
    is one empty part, which still holds the types.
    """
    names = _batch.column_names(task.path, task.where, task.display)
    missing = [c for c in task.required if c not in names]
    if missing:
        raise _batch._missing_columns(missing, names, task.display, task.where)
    columns = [c for c in task.wanted if c in names]
    if task.path.suffix == ".csv":
        table = _batch._read(task.path, task.display, columns, task.where)
        yield _batch._typed(table, task.numeric, task.display, task.where)
        return
    empty = True
    for table in _batch.read_parts(task.path, task.display, columns, task.where):
        empty = False
        yield _batch._typed(table, task.numeric, task.display, task.where)
    if empty:  # no rows: the types of an empty table
        table = _batch._read(task.path, task.display, columns, task.where)
        yield _batch._typed(table, task.numeric, task.display, task.where)


def describe(parts: Iterable[pa.Table]) -> FileScan:
    """A file's types (its first part's), nulls and rows, from its typed parts."""
    schema, rows = None, 0
    nulls: dict[str, int] = {}
    for typed in parts:
        schema = schema or typed.schema
        rows += typed.num_rows
        for name in typed.column_names:
            nulls[name] = nulls.get(name, 0) + typed.column(name).null_count
    if schema is None:  # typed_parts yields at least one part
        raise AssertionError("a file without parts")
    return FileScan(schema, nulls, rows)


@dataclass(frozen=True)
class ColumnTask:
    """One column of one file, cast to the batch's type for it."""

    path: Path
    display: str
    name: str
    type: pa.DataType
    kind: str
    numeric: bool
    as_scores: bool
    where: str


@dataclass(frozen=True)
class ColumnPart:
    """One file's share of a column: sorted finite values or category counts, and nulls."""

    nulls: int
    ordered: np.ndarray | None = None
    counts: dict[str, int] | None = None


def column_part(task: ColumnTask) -> ColumnPart:
    """One file's part of a column (on a worker)."""
    table = _batch._read(task.path, task.display, [task.name], task.where)
    numeric = {task.name} if task.numeric else set()
    table = _batch._typed(table, numeric, task.display, task.where)
    values = table.column(task.name)
    if values.type != task.type:
        values = values.cast(task.type)
    if task.as_scores:  # as logged_score reads it: float64, nulls as NaN
        values = pa.chunked_array([pa.array(np.asarray(values.to_numpy(), dtype=np.float64))])
    side = _stats.Side.of(values, task.kind, task.name)
    return ColumnPart(side.nulls, ordered=side.ordered, counts=side.counts)


def merge_parts(parts: Sequence[ColumnPart], kind: str) -> _stats.Side:
    """The column of the whole batch, as a local run would read it, from its files' parts."""
    nulls = sum(part.nulls for part in parts)
    if kind == "numeric":
        ordered = np.concatenate([part.ordered for part in parts if part.ordered is not None])
        ordered.sort()
        return _stats.Side(len(ordered), nulls, ordered=ordered)
    counts: dict[str, int] = {}
    for part in parts:  # in file order: first seen first, as value_counts of the whole column
        for key, n in (part.counts or {}).items():
            counts[key] = counts.get(key, 0) + n
    return _stats.Side(sum(counts.values()), nulls, counts=counts)


@dataclass(frozen=True)
class ShardedBatch:
    """The batch as its files on an executor: the columns all files have, typed, and rows."""

    session: Session
    files: tuple[Path, ...]
    shown: tuple[str, ...]
    schema: pa.Schema
    nulls: dict[str, int]
    rows: int
    numeric: frozenset[str]
    where: str
    file_rows: tuple[int, ...] = ()
    """Each file's rows, in file order."""

    def has(self, column: str) -> bool:
        """Whether every file holds ``column``."""
        return column in self.schema.names

    def side(self, name: str, kind: str, *, as_scores: bool = False) -> _stats.Side:
        """Column ``name`` of the whole batch, read file by file on the executor."""
        tasks = self.tasks(name, kind, as_scores=as_scores)
        return merge_parts(self.session.map(column_part, tasks), kind)

    def tasks(self, name: str, kind: str, *, as_scores: bool = False) -> list[ColumnTask]:
        """One task per file for column ``name``."""
        return [
            ColumnTask(
                path,
                display,
                name,
                self.schema.field(name).type,
                kind,
                name in self.numeric,
                as_scores,
                self.where,
            )
            for path, display in zip(self.files, self.shown, strict=True)
        ]


def scan_batch(
    session: Session,
    root: Path,
    files: Sequence[Path],
    *,
    required: Sequence[str],
    optional: Collection[str] = (),
    numeric: Collection[str] = (),
    where: str,
) -> ShardedBatch:
    """What ``read_batch`` checks and types, file by file on ``session``; no values kept."""
    tasks = scan_tasks(
        root, files, required=required, optional=optional, numeric=numeric, where=where
    )
    return batch_of(session, tasks, session.map(scan_file, tasks))


def scan_tasks(
    root: Path,
    files: Sequence[Path],
    *,
    required: Sequence[str],
    optional: Collection[str] = (),
    numeric: Collection[str] = (),
    where: str,
) -> list[ScanTask]:
    """One :class:`ScanTask` per file (``scan_batch``'s), in file order."""
    wanted = tuple(dict.fromkeys([*required, *optional]))
    tasks = [
        ScanTask(
            file, _batch._shown(root, file), tuple(required), wanted, frozenset(numeric), where
        )
        for file in files
    ]
    if not tasks:
        raise DataError("no files to read", where=where, fix="name at least one file")
    return tasks


def batch_of(
    session: Session, tasks: Sequence[ScanTask], scans: Sequence[FileScan]
) -> ShardedBatch:
    """The batch from its files' scans: checked and typed as ``read_batch`` checks and types."""
    first = tasks[0]
    where, shown = first.where, tuple(task.display for task in tasks)
    present = set.intersection(*(set(scan.schema.names) for scan in scans))
    kept = [c for c in first.wanted if c in present]
    empties = [pa.Table.from_batches([], scan.schema.remove_metadata()) for scan in scans]
    try:  # the very call (and errors) of read_batch, on no rows
        schema = pa.concat_tables(
            [table.select(kept) for table in empties], promote_options="permissive"
        ).schema
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(
            f"the files disagree on a column's type: {_batch._first_line(exc)}",
            where=where,
            fix="give each column one type in every file of the batch",
        ) from exc
    rows = sum(scan.rows for scan in scans)
    if rows == 0:
        raise DataError(
            f"the batch ({', '.join(shown[:3])}) has no rows",
            where=where,
            fix="monitor a batch with rows in it",
        )
    nulls = {name: sum(scan.nulls[name] for scan in scans) for name in kept}
    files = tuple(task.path for task in tasks)
    counts = tuple(scan.rows for scan in scans)
    return ShardedBatch(session, files, shown, schema, nulls, rows, first.numeric, where, counts)


def logged_score_column(batch: ShardedBatch) -> str | None:
    """The column ``logged_score`` would read from the batch, if any."""
    for name in (_batch.LOG_SCORE, _batch.LOG_PREDICTION):
        if not batch.has(name):
            continue
        kind = batch.schema.field(name).type
        if batch.nulls[name] == batch.rows or not pa.types.is_floating(kind):
            continue
        return name
    return None


def profile_columns(
    batch: ShardedBatch,
    names: Sequence[str],
    kinds: Mapping[str, Literal["numeric", "categorical"]],
) -> dict[str, dict[str, Any]]:
    """The profile entries of columns ``names``, each merged from its files' parts.

    Every column of every file is one task, all in one map, so the columns of one file (a
    split) are summarised in parallel. A column's kind is ``kinds``' or, as ``build_profile``
    infers it, its type's. The merged
    side is exactly the column a local run sorts or counts (counts are ranked by count, then
    key, so file order does not show), so each entry is the same bytes.
    """
    from conveyor.monitoring.profile import categorical_summary, numeric_summary

    typed = {
        name: kinds.get(name)
        or _columns.infer_kind(pa.chunked_array([], type=batch.schema.field(name).type))
        for name in names
    }
    tasks = [batch.tasks(name, kind) for name, kind in typed.items()]
    parts = batch.session.map(column_part, [task for each in tasks for task in each])
    columns: dict[str, dict[str, Any]] = {}
    for index, (name, kind) in enumerate(typed.items()):  # all columns' parts in one map
        side = merge_parts(parts[index * len(batch.files) : (index + 1) * len(batch.files)], kind)
        if side.ordered is not None:
            columns[name] = numeric_summary(side.ordered, side.nulls)
        else:
            columns[name] = categorical_summary(side.counts or {}, side.nulls)
    return columns
