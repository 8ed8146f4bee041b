"""A batch above ``_grid.COUNT_ROWS`` counted in one read of each file.

When the files' metadata (Parquet footers, ``_grid.is_large``) already say that the batch is
counted, one task per file (:func:`count_file`) reads the file a part at a time, describes it
as ``_sharded.scan_file`` does (types, nulls, rows) and counts every profiled column, and each
logged-score column the reference could use, into the reference's grid (``_grid.count``) in its
own type: each part as it is read, the file's counts the sum of its parts' (``_grid.combine``),
so a task holds one part of a file however large the file is. The driver then checks and
unifies the files' types exactly as ``_sharded.scan_batch`` does, with the same errors, before
any count is used; a file whose type for a counted column is not the batch's in a way that
could change a count (an ``int64`` score among ``float64`` ones; not ``string`` text among
``large_string``, nor a ``float32`` score) is counted again, cast to the batch's type, as every
file used to be. So each file is read once, where before it was read twice (a scan, then the
counts), and the counts, hence drift.json, are the same numbers.

Not in one pass: batches with labels, or whose files all hold the target, and batches the
model must score (no logged score in every file): those are scanned here, then scored and
counted file by file (``_scored``, a second read), and so is a batch with CSV files on an
executor (its rows would be read on the driver to count them from metadata).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import pyarrow as pa

from conveyor.errors import DataError
from conveyor.monitoring import _batch, _grid, _sharded

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Sequence
    from pathlib import Path

    from conveyor.monitoring import _stats
    from conveyor.monitoring.profile import Profile
    from conveyor.plugins.executor import Session

SCORES = (_batch.LOG_SCORE, _batch.LOG_PREDICTION)
"""The columns ``_sharded.logged_score_column`` may pick, in its order."""


@dataclass(frozen=True)
class CountTask:
    """One file: what to scan in it, and the columns to count."""

    scan: _sharded.ScanTask
    columns: tuple[_grid.ColumnCount, ...]


@dataclass(frozen=True)
class FileCount:
    """One file's scan and its columns' parts (None: not in the file, or not a score)."""

    scan: _sharded.FileScan
    parts: tuple[_grid.Part | None, ...]


@dataclass(frozen=True)
class Counts:
    """Every file's :class:`FileCount`, in file order, and the columns they counted."""

    columns: tuple[_grid.ColumnCount, ...]
    files: list[FileCount]


def scan(
    session: Session | None,
    root: Path,
    files: Sequence[Path],
    reference: Profile,
    names: Sequence[str],
    optional: Collection[str],
    numeric: Collection[str],
    *,
    where: str,
    labelled: bool,
    target: str | None,
    must_score: bool,
) -> tuple[_sharded.ShardedBatch | None, Counts | None]:
    """The batch scanned on ``session`` (and counted when :func:`one_pass`); None: read whole.

    Without a session, a batch above ``_grid.COUNT_ROWS`` rows is scanned (and counted, in one
    pass if it can be) in this process, one file after another (``InlineSession``); a smaller
    one is read whole.
    """
    from conveyor.plugins.executor import InlineSession

    csv_on_session = session is not None and any(f.suffix == ".csv" for f in files)
    large = not csv_on_session and _grid.is_large(files)
    if one_pass(files, session=session, labelled=labelled, target=target, must_score=must_score,
                large=large):  # fmt: skip
        session = session or InlineSession()
        return scan_counting(
            session, root, files, reference, names, optional=optional, numeric=numeric, where=where
        )
    if session is None:
        if not large:
            return None, None
        session = InlineSession()  # scored or labelled: _scored streams it
    batch = _sharded.scan_batch(
        session, root, files, required=names, optional=optional, numeric=numeric, where=where
    )
    return batch, None


def one_pass(
    files: Sequence[Path],
    *,
    session: Session | None,
    labelled: bool,
    target: str | None,
    must_score: bool,
    large: bool | None = None,
) -> bool:
    """Whether the batch is counted, and read once, known from its files' metadata.

    ``large``: :func:`_grid.is_large` of the files, when the caller knows it already.
    """
    if labelled or (session is not None and any(f.suffix == ".csv" for f in files)):
        return False
    if not (_grid.is_large(files) if large is None else large):
        return False
    if target is None and not must_score:
        return True
    try:
        common = set.intersection(*(set(_batch.column_names(f, "batch")) for f in files))
    except DataError:  # the scan reports it, located, as it always has
        return True
    return target not in common and not (must_score and not common.intersection(SCORES))


def scan_counting(
    session: Session,
    root: Path,
    files: Sequence[Path],
    reference: Profile,
    names: Sequence[str],
    *,
    optional: Collection[str],
    numeric: Collection[str],
    where: str,
) -> tuple[_sharded.ShardedBatch, Counts]:
    """``_sharded.scan_batch`` (``names`` required) and every file's counts, in one read."""
    tasks = _sharded.scan_tasks(
        root, files, required=names, optional=optional, numeric=numeric, where=where
    )
    columns = [
        _grid.column_count(name, reference.column(name), numeric=name in numeric, as_scores=False)
        for name in names
    ]
    if reference.prediction is not None:
        columns += [
            _grid.column_count(name, reference.prediction, numeric=name in numeric, as_scores=True)
            for name in SCORES
            if name in optional
        ]
    found: list[FileCount] = session.map(
        count_file, [CountTask(task, tuple(columns)) for task in tasks]
    )
    batch = _sharded.batch_of(session, tasks, [each.scan for each in found])
    return batch, Counts(tuple(columns), found)


def count_file(task: CountTask) -> FileCount:
    """One file scanned and its columns counted, from one read (on a worker, or in process).

    Each part is counted as it is read and dropped, so a file is never held whole: a part's
    columns (``_batch.PART_ROWS`` values each) sort in a core's own cache, and the counts of
    the file are its parts' added up (``_grid.combine``).
    """
    counted = {column.name for column in task.columns}
    found: list[tuple[_grid.Part | None, ...]] = []

    def parts() -> Iterator[pa.Table]:
        for typed in _sharded.typed_parts(task.scan):
            table = typed.select([n for n in typed.column_names if n in counted])
            found.append(tuple(_part(table, column) for column in task.columns))
            yield typed

    scan = _sharded.describe(parts())
    return FileCount(
        scan, tuple(_file_part([each[at] for each in found]) for at in range(len(task.columns)))
    )


def _file_part(parts: Sequence[_grid.Part | None]) -> _grid.Part | None:
    """A column's part of the whole file from its reads' parts (None: not counted in it)."""
    if parts[0] is None:  # every read of a file has the same columns, in the same types
        return None
    return _grid.combine(cast("Sequence[_grid.Part]", parts))


def _part(table: pa.Table, column: _grid.ColumnCount) -> _grid.Part | None:
    if column.name not in table.column_names:
        return None
    values = table.column(column.name)
    if column.as_scores and not pa.types.is_floating(column.type or values.type):
        return None  # only a floating column is a logged score (counted again, cast, if chosen)
    return _grid.count(values, column)


def count_sides(
    batch: _sharded.ShardedBatch,
    reference: Profile,
    names: Sequence[str],
    logged: str | None,
    counts: Counts | None,
) -> tuple[dict[str, _stats.Side], _stats.Side | None]:
    """Every column ``names`` (and the logged score) of the batch, merged from its files' counts.

    ``counts``: the files' counts from :func:`scan_counting` (None: count every file now, a
    second read). Each side's ``exact`` reads that column's values in full, for a drift test
    that cannot work from counts.
    """
    wanted = [(name, False) for name in names]
    if reference.prediction is not None and logged is not None:
        wanted.append((logged, True))
    columns, parts = _parts(batch, reference, wanted, counts)
    sides = []
    for index, column in enumerate(columns):
        side = _grid.merge([part[index] for part in parts], column)
        exact = functools.partial(batch.side, column.name, column.kind, as_scores=column.as_scores)
        sides.append(dataclasses.replace(side, exact=exact))
    found = dict(zip(names, sides, strict=False))
    return found, sides[len(names)] if len(sides) > len(names) else None


def _parts(
    batch: _sharded.ShardedBatch,
    reference: Profile,
    wanted: Sequence[tuple[str, bool]],
    counts: Counts | None,
) -> tuple[list[_grid.ColumnCount], list[list[_grid.Part]]]:
    """The ``wanted`` columns (cast to the batch's types) and each file's parts of them."""
    if counts is not None:
        index = {(c.name, c.as_scores): i for i, c in enumerate(counts.columns)}
        columns = [counts.columns[index[key]] for key in wanted]
    else:
        columns = [
            _grid.column_count(
                name,
                reference.prediction if scores and reference.prediction else reference.column(name),
                numeric=name in batch.numeric,
                as_scores=scores,
            )
            for name, scores in wanted
        ]
    columns = [dataclasses.replace(c, type=batch.schema.field(c.name).type) for c in columns]
    parts: list[list[_grid.Part | None]] = [[None] * len(columns) for _ in batch.files]
    if counts is not None:
        for file, found in zip(parts, counts.files, strict=True):
            for at, column in enumerate(columns):
                part = found.parts[index[column.name, column.as_scores]]
                have = found.scan.schema.field(column.name).type
                if part is not None and _same_counts(have, column):
                    file[at] = part
    again = [at for at, file in enumerate(parts) if None in file]  # counted in another type
    if again:
        tasks = [_recount(batch, at, columns) for at in again]
        for at, found in zip(again, batch.session.map(count_file, tasks), strict=True):
            parts[at] = list(found.parts)
    return columns, cast("list[list[_grid.Part]]", parts)  # every None replaced above


def _same_counts(have: pa.DataType, column: _grid.ColumnCount) -> bool:
    """Whether values of type ``have`` count as they do cast to the batch's ``column.type``.

    Text counts as text whether Arrow holds it as ``string`` or ``large_string`` (a CSV's
    strings among pandas' Parquet ones); a score is read as float64 from any floating type.
    """
    want = column.type
    if want is None or have == want:
        return True
    if column.as_scores:
        return bool(pa.types.is_floating(have) and pa.types.is_floating(want))
    text = (pa.types.is_string, pa.types.is_large_string)
    return any(is_text(have) for is_text in text) and any(is_text(want) for is_text in text)


def _recount(
    batch: _sharded.ShardedBatch, at: int, columns: Sequence[_grid.ColumnCount]
) -> CountTask:
    names = tuple(dict.fromkeys(column.name for column in columns))
    scan = _sharded.ScanTask(
        batch.files[at], batch.shown[at], (), names, batch.numeric, batch.where
    )
    return CountTask(scan, tuple(columns))
