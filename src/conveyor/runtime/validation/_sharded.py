"""Validating a Parquet dataset across an executor: one task per partition, evidence merged.

A partition is a run of the file's row groups (at least ``part_rows`` rows). Each task reads
its rows of the columns the rules need, typed as a read of the whole file types them (an int
column with nulls anywhere is float64 in every partition), indexed by the rows' positions in
the file, and returns each rule's :class:`~._evidence.Evidence`; the driver merges them
(:func:`~._evidence.merge`) and runs the very rules of :mod:`.checks` on the merged evidence,
so validation.json and the error are those of an in-process run, byte for byte.

Which rules run where:

- on the workers: ``nullable``, ``max_null_fraction``, ``min``, ``max``, ``allowed``,
  ``regex`` and the finite check (counts, minima and first values: they merge exactly);
- on the driver, one column at a time: ``unique`` (a value repeated across partitions is
  unique in each), the ``time`` rules (order across partitions; text dates parsed with a
  format pandas infers from the whole column), and columns whose values only the whole column
  types (object, e.g. decimals or dates, and category);
- on the driver from the file's metadata: ``present``, ``dtype``, ``extra_columns``, ``rows``.

A file this module cannot type from its metadata alone (no null counts in its statistics,
nested columns, a stored index) is validated in process, as on the local executor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from conveyor.runtime.validation import dtypes
from conveyor.runtime.validation._evidence import MERGEABLE, Evidence, find, merge
from conveyor.runtime.validation.checks import validate_frame, validate_table

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from pathlib import Path

    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from conveyor.plugins.executor import Session
    from conveyor.runtime.validation._table import Column
    from conveyor.runtime.validation.report import ValidationReport
    from conveyor.spec.schema import DType, SchemaSpec

PART_ROWS = 250_000
"""Rows per task at least (whole row groups): conveyor writes row groups of this size."""


@dataclass(frozen=True)
class PartTask:
    """One partition and the evidence wanted of each of its columns."""

    path: Path
    groups: tuple[int, ...]
    start: int
    """The partition's first row's position in the file (its rows' ``_row`` start there)."""
    dtypes: dict[str, Any]
    """The whole file's pandas dtype of each column read."""
    kinds: dict[str, DType | None]
    wanted: dict[str, tuple[tuple[str, Any], ...]]
    """Per column, the (check, rule value) pairs to compute."""


def part_evidence(task: PartTask) -> dict[str, list[Evidence]]:
    """Each wanted rule's evidence in one partition (on a worker), in ``wanted`` order."""
    import pandas as pd
    import pyarrow.parquet as pq

    with pq.ParquetFile(task.path) as file:
        table = file.read_row_groups(list(task.groups), columns=list(task.wanted))
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    frame.index = pd.RangeIndex(task.start, task.start + len(frame))
    found: dict[str, list[Evidence]] = {}
    for name, wanted in task.wanted.items():
        series = frame[name]
        if series.dtype != task.dtypes[name]:  # no nulls here, nulls elsewhere: int -> float
            series = series.astype(task.dtypes[name])
        found[name] = [find(series, check, arg, task.kinds[name]) for check, arg in wanted]
    return found


@dataclass(frozen=True)
class _Meta:
    """The file as its metadata describes it: columns, whole-file dtypes, row groups."""

    path: Path
    names: list[str]
    rows: int
    dtypes: dict[str, Any]
    groups: list[int]
    """Rows per row group."""


@dataclass(frozen=True)
class _MergedColumn:
    """A column checked on the workers: dtype from the metadata, merged evidence by check."""

    kind: DType | None
    shown: str
    floating: bool
    found: dict[str, Evidence]
    wanted: list[tuple[str, Any]] | None = None
    """Set while planning: the checks asked for are recorded here, and find nothing."""

    def evidence(self, check: str, arg: Any = None) -> Evidence:  # noqa: ANN401
        """The merged evidence of ``check`` (while planning: nothing, and noted)."""
        if self.wanted is not None:
            self.wanted.append((check, arg))
            return Evidence(0)
        return self.found[check]


@dataclass(frozen=True)
class _DriverColumn:
    """A column read and checked in process, read only when a rule needs its values."""

    table: _ShardedTable
    name: str

    @cached_property
    def values(self) -> pd.Series:
        """The whole column."""
        return self.table.series(self.name)

    @property
    def kind(self) -> DType | None:
        """The schema dtype."""
        return dtypes.classify(self.values)

    @property
    def shown(self) -> str:
        """The dtype as a user reads it."""
        return dtypes.describe(self.values)

    @property
    def floating(self) -> bool:
        """Whether it is a float column (from the metadata: no read)."""
        return bool(self.table.meta.dtypes[self.name].kind == "f")

    def evidence(self, check: str, arg: Any = None) -> Evidence:  # noqa: ANN401
        """What ``check`` finds in the whole column."""
        return find(self.values, check, arg, self.kind)


@dataclass
class _ShardedTable:
    """The dataset as its metadata, its partitions' merged evidence and a few whole columns."""

    meta: _Meta
    driver: set[str]
    """Columns read and checked in process (see the module docstring)."""
    planning: bool = True
    wanted: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    found: dict[str, dict[str, Evidence]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """The column names."""
        return self.meta.names

    @property
    def rows(self) -> int:
        """The row count."""
        return self.meta.rows

    def has(self, name: str) -> bool:
        """Whether column ``name`` exists."""
        return name in self.meta.dtypes

    def column(self, name: str) -> Column:
        """Column ``name``: read here, or its workers' evidence."""
        if name in self.driver:
            if self.planning:
                return _MergedColumn(None, "", floating=False, found={}, wanted=[])
            return _DriverColumn(self, name)
        empty = _empty(self.meta.dtypes[name])
        kind, shown = dtypes.classify(empty), dtypes.describe(empty)
        floating = empty.dtype.kind == "f"
        if self.planning:
            wanted = self.wanted.setdefault(name, [])
            return _MergedColumn(kind, shown, floating, {}, wanted=wanted)
        return _MergedColumn(kind, shown, floating, self.found.get(name, {}))

    def series(self, name: str) -> pd.Series:
        """Column ``name`` in full, read as a read of the whole file reads it."""
        import pyarrow.parquet as pq

        with pq.ParquetFile(self.meta.path) as file:
            table = file.read(columns=[name])
        series: pd.Series = table.to_pandas(split_blocks=True, self_destruct=True)[name]
        return series


def validate_parts(
    session: Session,
    path: Path,
    read_frame: Callable[[], pd.DataFrame],
    schema: SchemaSpec,
    *,
    dataset: str,
    now: datetime | None = None,
    part_rows: int = PART_ROWS,
) -> ValidationReport:
    """:func:`~.checks.validate_frame` of the Parquet file ``path``, partitions on ``session``.

    ``read_frame`` reads the whole file, for a file that must be validated in process.
    """
    meta = _describe(path)
    if meta is None:  # not typed by its metadata alone: in process, as locally
        return validate_frame(read_frame(), schema, dataset=dataset, now=now)
    driver = {
        name
        for name, rule in schema.columns.items()
        if name in meta.dtypes and (rule.unique or _whole_only(meta.dtypes[name]))
    }
    table = _ShardedTable(meta, driver)
    validate_table(table, schema.model_copy(update={"time": None}), dataset=dataset, now=now)
    wanted = {
        name: tuple((check, arg) for check, arg in pairs if check in MERGEABLE)
        for name, pairs in table.wanted.items()
    }
    wanted = {name: pairs for name, pairs in wanted.items() if pairs}
    if wanted:
        tasks = [
            PartTask(
                path,
                groups,
                start,
                {n: meta.dtypes[n] for n in wanted},
                {n: dtypes.classify(_empty(meta.dtypes[n])) for n in wanted},
                wanted,
            )
            for groups, start in _partitions(meta.groups, part_rows)
        ]
        parts: list[dict[str, list[Evidence]]] = session.map(part_evidence, tasks)
        for name, pairs in wanted.items():
            table.found[name] = {
                check: merge(check, [part[name][i] for part in parts])
                for i, (check, _) in enumerate(pairs)
            }
    table.planning = False
    return validate_table(table, schema, dataset=dataset, now=now)


def _partitions(groups: list[int], part_rows: int) -> list[tuple[tuple[int, ...], int]]:
    """Runs of consecutive row groups of at least ``part_rows`` rows, with their first row."""
    parts: list[tuple[tuple[int, ...], int]] = []
    run: list[int] = []
    start = rows = 0
    for index, size in enumerate(groups):
        run.append(index)
        rows += size
        if rows - start >= part_rows:
            parts.append((tuple(run), start))
            run, start = [], rows
    if run or not parts:
        parts.append((tuple(run), start))
    return parts


def _describe(path: Path) -> _Meta | None:
    """Columns, whole-file pandas dtypes and row groups from the metadata; None if it cannot."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as file:
        schema = file.schema_arrow
        metadata = file.metadata
    names = list(schema.names)
    if metadata.num_columns != len(names) or len(set(names)) != len(names):
        return None  # nested or repeated columns
    empty = schema.empty_table().to_pandas()
    index = (schema.pandas_metadata or {}).get("index_columns", [])
    plain_index = not index or (
        len(index) == 1
        and isinstance(index[0], dict)
        and index[0].get("kind") == "range"
        and (index[0].get("start"), index[0].get("step")) == (0, 1)
        and index[0].get("stop") == metadata.num_rows
    )
    if not plain_index or list(empty.columns) != names:
        return None
    groups = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    found: dict[str, Any] = {}
    for position, name in enumerate(names):
        nulls = _null_count(metadata, position)
        if nulls is None:
            return None
        found[name] = _dtype(schema, name) if nulls else empty[name].dtype
    return _Meta(path, names, metadata.num_rows, found, groups)


def _null_count(metadata: pq.FileMetaData, position: int) -> int | None:
    total = 0
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(position).statistics
        if stats is None or not stats.has_null_count:
            return None
        total += stats.null_count
    return total


def _dtype(schema: pa.Schema, name: str) -> Any:  # noqa: ANN401 - a numpy or pandas dtype
    """The pandas dtype of column ``name`` when it holds nulls, as Arrow converts it."""
    import pyarrow as pa

    field = schema.field(name)
    one = pa.Table.from_arrays(
        [pa.nulls(1, field.type)], schema=pa.schema([field], metadata=schema.metadata)
    )
    return one.to_pandas()[name].dtype


def _whole_only(dtype: Any) -> bool:  # noqa: ANN401 - a numpy or pandas dtype
    """Object and category columns: their values' kind (or categories) is the whole column's."""
    import numpy as np
    import pandas as pd

    plain_object = isinstance(dtype, np.dtype) and dtype.kind == "O"  # not pandas' str
    return plain_object or isinstance(dtype, pd.CategoricalDtype)


def _empty(dtype: Any) -> pd.Series:  # noqa: ANN401 - a numpy or pandas dtype
    import pandas as pd

    empty: pd.Series = pd.Series([], dtype=dtype)
    return empty
