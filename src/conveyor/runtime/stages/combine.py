"""``combine``: join the ingested sources, or query them with SQL, into one table.

Present only when ``data.combine`` is set. Joins run in order onto ``base``; a key missing on
either side, or a join that multiplies rows because a key is not unique on the joined side, is
a located error rather than a silently different dataset.

When the sources exceed the memory budget (``CONVEYOR_MEMORY_BUDGET``, see
``conveyor.runtime.outofcore``), they are not read into pandas: the joins run in DuckDB over
the Parquet files (``_combine_duckdb``), with the same rows, columns, types and order; ``sql``
runs in DuckDB over views on the files (``_combine_sql``), with the types the in-memory frames
would have, and writes the in-memory path's bytes. A query whose out-of-core result could
differ (no ``ORDER BY`` that fixes the row order of a join or ``GROUP BY``, a floating-point
sum, an order-dependent aggregate, ...) runs in memory, and the stage prints why.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from conveyor.errors import DataError
from conveyor.runtime import layout
from conveyor.runtime.frames import input_path, read_frame, write_frame
from conveyor.runtime.outofcore import over_budget
from conveyor.runtime.plan import StageContext, StageDef, StagePlan
from conveyor.spec import CombineSpec

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from conveyor.plugins import Plugins
    from conveyor.spec import JoinSpec, ProjectSpec

READS = ("data.combine",)


def plan(spec: ProjectSpec, plugins: Plugins) -> tuple[StagePlan, ...]:
    """Reads every raw source, writes ``data/combined.parquet``; none without ``combine``."""
    del plugins
    if spec.data.combine is None:
        return ()
    how = "SQL" if spec.data.combine.sql else "joins"
    return (
        StagePlan(
            name="combine",
            desc=f"Combine the sources ({how} in data.combine) into {layout.COMBINED_FILE}",
            reads=READS,
            deps=tuple(layout.raw_path(name) for name in spec.data.sources),
            outs=(layout.COMBINED_FILE,),
        ),
    )


def run(ctx: StageContext) -> None:
    """Load each source's rows, combine, store; joins over the memory budget go through DuckDB."""
    combine = ctx.params.parse("data.combine", CombineSpec)
    files = {PurePosixPath(dep).stem: input_path(ctx.root, dep, "combine") for dep in ctx.plan.deps}
    output = ctx.root / layout.COMBINED_FILE
    budget = over_budget(files.values())
    if budget is not None and _out_of_core(files, combine, output, budget):
        import pyarrow.parquet as pq

        rows, width = pq.read_metadata(output).num_rows, len(pq.read_schema(output).names)
        print(f"combine: {rows} rows x {width} columns (out of core, DuckDB)")  # noqa: T201
        return
    frames = {
        name: read_frame(ctx.root, dep, "combine")
        for name, dep in zip(files, ctx.plan.deps, strict=True)
    }
    combined = combine_frames(frames, combine)
    write_frame(ctx.root, layout.COMBINED_FILE, combined)
    print(f"combine: {len(combined)} rows x {combined.shape[1]} columns")  # noqa: T201


def _out_of_core(files: dict[str, Path], combine: CombineSpec, output: Path, budget: int) -> bool:
    """Combine out of core into ``output``; False when the query must run in memory (printed)."""
    if combine.sql is None:
        from conveyor.runtime.stages._combine_duckdb import combine_files

        combine_files(files, combine, output, budget=budget)
        return True
    from conveyor.runtime.stages._combine_sql import query_files_or_why

    why = query_files_or_why(files, combine.sql, output, budget=budget)
    if why is not None:
        print(f"combine: data.combine.sql runs in memory over the budget: {why}")  # noqa: T201
        return False
    return True


def combine_frames(frames: dict[str, pd.DataFrame], combine: CombineSpec) -> pd.DataFrame:
    """The sources (name -> frame) combined in memory; a DataError when no row is left."""
    if combine.sql is not None:
        from conveyor.components.sql import query_frames

        combined = query_frames(combine.sql, frames, where="data.combine.sql")
    else:
        assert combine.base is not None  # noqa: S101 - CombineSpec guarantees it
        assert combine.join is not None  # noqa: S101
        combined = frames[combine.base]
        for index, join in enumerate(combine.join):
            combined = _join(combined, frames[join.source], join, f"data.combine.join.{index}")
    if combined.empty:
        raise DataError(
            "combining the sources gave no rows",
            where="data.combine",
            fix="check the join keys and 'how' (an inner join of disjoint keys is empty), "
            "or the query's WHERE clause",
        )
    return combined


def _join(left: pd.DataFrame, right: pd.DataFrame, join: JoinSpec, where: str) -> pd.DataFrame:
    import pandas as pd

    for side, frame in (("the rows so far", left), (f"source '{join.source}'", right)):
        missing = [key for key in join.columns if key not in frame.columns]
        if missing:
            raise DataError(
                f"join key {missing} is not in {side}",
                where=where,
                fix=f"columns there: {', '.join(map(str, frame.columns[:30]))}",
            )
    if right.duplicated(join.columns).any():
        dupes = right[right.duplicated(join.columns, keep=False)][join.columns].head(3)
        raise DataError(
            f"key {join.columns} is not unique in source '{join.source}', so the join would "
            f"repeat rows (e.g. {dupes.to_dict('records')})",
            where=where,
            fix="deduplicate the source (a 'sql' source or combine.sql with GROUP BY), "
            "or join on more keys",
        )
    try:
        return pd.merge(
            left, right, on=join.columns, how=join.how, suffixes=("", f"_{join.source}")
        )
    except (ValueError, TypeError) as exc:  # e.g. int key joined to a string key
        raise DataError(
            f"cannot join source '{join.source}' on {join.columns}: {exc}",
            where=where,
            fix="give the key columns the same type in both sources",
        ) from exc


STAGE = StageDef("combine", plan, run)
