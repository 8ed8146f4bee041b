"""Batch scoring sharded across an executor: one task per input file, merged in input order.

The model goes to each worker once (:meth:`Session.share`: the predictor, pickled as it is
today, i.e. the bundle the driver verified and loaded through the allowlist), not with every
task; each task opens its file and runs the same streaming scorer as a local run
(:func:`conveyor.bundle._chunks.write_sources`) into its own part, written atomically. When
every part is in, a manifest naming them in input order is written last (it marks the parts
complete), and the parts' row groups are copied, in that order, into the output: the same
row groups a local run writes, so the output is byte-identical whichever executor ran it.

The parts live in a hidden scratch folder beside the output, removed when the run ends (a
killed run leaves only that hidden folder, never a partial output). Workers must see the
output's folder and the inputs at the same paths: one machine, or a shared filesystem.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor import _atomic
from conveyor.bundle._batch_sources import open_source
from conveyor.bundle._chunks import BadRows, Layout, Progress, Tally, write_sources

if TYPE_CHECKING:
    from collections.abc import Sequence
    from concurrent.futures import Future

    from conveyor.bundle._batch_sources import Source
    from conveyor.bundle.predictor import Predictor
    from conveyor.plugins.executor import Session

MANIFEST = "_manifest.json"


@dataclass(frozen=True)
class Plan:
    """What every shard shares besides the model: the columns read, the chunking, the layout."""

    read: list[str]
    chunk_rows: int
    layout: Layout
    bad_rows: BadRows


@dataclass(frozen=True)
class Shard:
    """One input file and the part it is scored into."""

    plan: Plan
    path: Path
    display: str
    part: Path


def score_shard(shard: Shard, predictor: Predictor) -> Tally:
    """Score one file into its part (runs on a worker); the part's counts and bad rows."""
    plan = shard.plan
    source = open_source(shard.path, shard.display)
    tally = Tally(plan.bad_rows)
    progress = Progress([source], None)
    with _atomic.atomic_path(shard.part) as tmp:
        write_sources(
            predictor, [source], plan.read, plan.chunk_rows, plan.layout, tally, progress, tmp
        )
    return tally


def score_shards(
    session: Session,
    predictor: Predictor,
    plan: Plan,
    sources: Sequence[Source],
    tally: Tally,
    progress: Progress,
    output: Path,
) -> None:
    """Score ``sources`` on ``session``, one task each, and merge the parts into ``output``."""
    scratch = Path(tempfile.mkdtemp(prefix=f".{output.name}.parts-", dir=output.parent))
    futures: list[Future[Tally]] = []
    try:
        shards = [
            Shard(plan, source.path, source.display, scratch / f"part-{index:05d}.parquet")
            for index, source in enumerate(sources)
        ]
        model = session.share(predictor)  # once per worker, not once per file
        futures = [session.submit(score_shard, shard, model) for shard in shards]
        entries: list[dict[str, Any]] = []
        for shard, source, future in zip(shards, sources, futures, strict=True):
            part = future.result()  # in input order: the first failing file's error is raised
            tally.absorb(part)
            progress.total += part.rows_in - source.rows_estimate
            progress.advance(part.rows_in)
            entries.append(
                {"file": shard.display, "part": shard.part.name, "rows_in": part.rows_in}
            )
        _atomic.write_text(scratch / MANIFEST, json.dumps({"parts": entries}, indent=2) + "\n")
        merge(scratch, plan.layout, output)
    finally:
        for future in futures:
            future.cancel()
        shutil.rmtree(scratch, ignore_errors=True)


def merge(scratch: Path, layout: Layout, output: Path) -> None:
    """Copy the row groups of the parts the manifest lists, in its order, into ``output``."""
    import pyarrow.parquet as pq

    manifest = json.loads((scratch / MANIFEST).read_text(encoding="utf-8"))
    writer = pq.ParquetWriter(output, layout.schema)
    try:
        for entry in manifest["parts"]:
            part = pq.ParquetFile(scratch / entry["part"])
            for group in range(part.num_row_groups):
                writer.write_table(part.read_row_group(group))
    finally:
        writer.close()
