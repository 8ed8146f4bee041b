"""``ingest-<source>``: read one source into ``data/raw/<source>.parquet``.

One stage per source, so editing one source's file (or params) reruns only its ingest and what
follows; a local file a source reads is a dependency of its stage.

A source DVC cannot track (a database) is snapshotted: its stage also writes
``data/raw/<source>.snapshot.json`` (kept in git) with what the source records (the query, the
database), the rows, the column types and the sha256 of the Parquet file, both replaced as one
set. The same rows give the same bytes, so an unchanged table leaves both files as they were.

A source that can be scanned (``Source.scan``: Parquet, CSV, SQL, the generators) and is over
the memory budget (``CONVEYOR_MEMORY_BUDGET``, ``conveyor.runtime.outofcore``) is written a row
group at a time (``_ingest_stream``), to the same bytes; every other source is read whole.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from conveyor import _atomic
from conveyor.errors import DataError, PluginError, StageError
from conveyor.runtime import layout
from conveyor.runtime.frames import write_frame, write_parquet
from conveyor.runtime.outofcore import memory_budget
from conveyor.runtime.plan import StageContext, StageDef, StagePlan
from conveyor.spec import ComponentSpec

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import pandas as pd

    from conveyor.plugins import Plugins
    from conveyor.plugins.base import FrameScan, Scan, Source
    from conveyor.spec import ProjectSpec

PREFIX = "ingest-"
WHERE = "data.sources"
_RECOMPILE = (
    "correct conf/ and run 'conveyor compile': params.yaml is generated, and compile reports "
    "every problem with its conf/ file"
)


def record_path(source: str) -> str:
    """Where a snapshotted source's record goes: ``data/raw/<source>.snapshot.json``."""
    return layout.raw_path(source).removesuffix(".parquet") + ".snapshot.json"


def source_of(stage: str) -> str:
    """The source an ingest stage reads: ``ingest-sales`` -> ``sales``."""
    return stage.removeprefix(PREFIX)


def plan(spec: ProjectSpec, plugins: Plugins) -> tuple[StagePlan, ...]:
    """One stage per source; its local files are its dependencies."""
    plans = []
    for name, source_spec in spec.data.sources.items():
        source = _source(plugins, name, source_spec)
        plans.append(
            StagePlan(
                name=f"{PREFIX}{name}",
                desc=f"Read source '{name}' ({source_spec.kind}) into {layout.raw_path(name)}",
                reads=(f"data.sources.{name}",),
                deps=tuple(sorted(set(source.local_files()))),
                outs=(layout.raw_path(name),),
                reports=(record_path(name),) if source.snapshot_record() is not None else (),
                components=(("source", source_spec.kind),),
                always_changed=source.always_changed(),
            )
        )
    return tuple(plans)


def run(ctx: StageContext) -> None:
    """Read the source and store its rows; above the memory budget, a row group at a time."""
    name = source_of(ctx.plan.name)
    where = f"data.sources.{name}"
    source = _source(ctx.plugins, name, ctx.params.parse(where, ComponentSpec))
    budget = memory_budget()  # a malformed budget fails here, before anything is read
    record = source.snapshot_record()
    if budget is not None and record is None:
        with _located(where):
            scan = source.scan(ctx.root)
        if scan is not None and scan.size > budget:
            output = ctx.root / layout.raw_path(name)
            with _located(where):
                done = _stream(scan, output)
            if isinstance(done, int):
                print(  # noqa: T201
                    f"{ctx.plan.name}: {done} rows x {len(_names(output))} columns "
                    "(out of core, a row group at a time)"
                )
                return
            print(f"{ctx.plan.name}: read in memory over the budget: {done}")  # noqa: T201
    with _located(where):
        frame = source.read(ctx.root)
    if frame.empty:
        raise DataError(
            "the source produced no rows",
            where=where,
            fix="check the source's params (path, query, filters) and the file it reads",
        )
    frame.columns = [str(c) for c in frame.columns]
    with _storable(where):
        if record is None:
            write_frame(ctx.root, layout.raw_path(name), frame)
        else:
            _write_snapshot(ctx.root, name, frame, record)
    print(f"{ctx.plan.name}: {len(frame)} rows x {frame.shape[1]} columns")  # noqa: T201


@contextmanager
def _located(where: str) -> Iterator[None]:
    """Sources say ``data.sources[.key]``; name which source."""
    try:
        yield
    except (DataError, PluginError) as exc:
        under = (exc.where or "").removeprefix(WHERE) if (exc.where or "").startswith(WHERE) else ""
        raise type(exc)(exc.what, where=f"{where}{under}", fix=exc.fix) from exc


@contextmanager
def _storable(where: str) -> Iterator[None]:
    """A column Parquet cannot store (Python objects of several types): a located DataError.

    pandas makes a CSV column whose parser chunks are numbers in one place and text in another
    a column of Python ints and strs, which Arrow refuses to convert; nothing is written.
    """
    import pyarrow as pa

    try:
        yield
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        detail = "; ".join(str(part) for part in exc.args)
        raise DataError(
            f"the rows cannot be stored as Parquet: a column holds values of several types "
            f"({detail})",
            where=where,
            fix="give the column one type in the source: list the text that means a missing "
            "value in params.na_values (e.g. 'n/a'), or leave the column out with params.columns",
        ) from exc


def _stream(scan: Scan | FrameScan, output: Path) -> int | str:
    """Write the scanned rows to ``output`` a row group at a time: the row count, or why not."""
    from conveyor.plugins.base import FrameScan
    from conveyor.runtime.stages._ingest_stream import ingest_frames, ingest_scan, streamable

    if isinstance(scan, FrameScan):
        return ingest_frames(scan, output)
    reason = streamable(scan)
    return reason if reason is not None else ingest_scan(scan, output)


def _names(path: Path) -> list[str]:
    """The column names of a Parquet file, from its footer."""
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)


def _write_snapshot(root: Path, name: str, frame: pd.DataFrame, record: dict[str, Any]) -> None:
    """The snapshot and its record, replaced as one set; no time or host in either."""
    import pyarrow.parquet as pq

    paths = [root / layout.raw_path(name), root / record_path(name)]
    with _atomic.atomic_paths(paths) as (snapshot, record_file):
        write_parquet(snapshot, frame)  # with the types the source declared, if it did
        schema = pq.read_schema(snapshot)
        full = {
            "source": name,
            **record,
            "snapshot": layout.raw_path(name),
            "rows": len(frame),
            "columns": {field.name: str(field.type) for field in schema},
            "sha256": hashlib.sha256(snapshot.read_bytes()).hexdigest(),
        }
        record_file.write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")


def _source(plugins: Plugins, name: str, spec: ComponentSpec) -> Source[Any]:
    cls = plugins["source"].load(spec.kind, where=f"data.sources.{name}.kind")
    try:
        return cast("Source[Any]", cls.from_config(spec.params))
    except ValidationError as exc:  # params.yaml edited by hand, past compile's checks
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        fix = first.get("ctx", {}).get("fix")
        if not isinstance(fix, str):
            fix = _RECOMPILE
        raise StageError(
            first["msg"].removeprefix("Value error, "),
            where=f"data.sources.{name}.params{f'.{key}' if key else ''}",
            fix=fix,
        ) from exc


STAGE = StageDef("ingest", plan, run)
