"""``ingest``: read every source into ``data/raw/<source>.parquet``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from conveyor.errors import DataError
from conveyor.runtime import layout
from conveyor.runtime.frames import write_frame
from conveyor.runtime.plan import StageContext, StageDef, StagePlan
from conveyor.spec import ComponentSpec

if TYPE_CHECKING:
    from conveyor.plugins import Plugins
    from conveyor.plugins.base import Source
    from conveyor.spec import ProjectSpec

READS = ("data.sources",)


def plan(spec: ProjectSpec, plugins: Plugins) -> StagePlan:
    """One output per source; local source files are dependencies."""
    sources = spec.data.sources
    files: set[str] = set()
    for name, source_spec in sources.items():
        cls = plugins["source"].load(source_spec.kind, where=f"data.sources.{name}.kind")
        files.update(cast("Source[Any]", cls.from_config(source_spec.params)).local_files())
    return StagePlan(
        name="ingest",
        desc="Read each source in data.sources into data/raw/",
        reads=READS,
        deps=tuple(sorted(files)),
        outs=tuple(layout.raw_path(name) for name in sources),
        components=tuple(("source", source.kind) for source in sources.values()),
    )


def run(ctx: StageContext) -> None:
    """Read and store each source."""
    sources = ctx.params.parse("data.sources", dict[str, ComponentSpec])
    registry = ctx.plugins["source"]
    for name, source_spec in sources.items():
        where = f"data.sources.{name}"
        cls = registry.load(source_spec.kind, where=f"{where}.kind")
        source = cast("Source[Any]", cls.from_config(source_spec.params))
        try:
            frame = source.read(ctx.root)
        except DataError as exc:
            raise DataError(exc.what, where=where, fix=exc.fix) from exc
        if frame.empty:
            raise DataError(
                "the source produced no rows", where=where, fix="check the source's params"
            )
        frame.columns = [str(c) for c in frame.columns]
        write_frame(ctx.root, layout.raw_path(name), frame)
        print(f"ingest: {name}: {len(frame)} rows x {frame.shape[1]} columns")  # noqa: T201


STAGE = StageDef("ingest", plan, run)
