"""Batch scoring sharded across an executor: one task per input file, merged in input order.

The model goes to each worker once (:meth:`Session.share`: the predictor, pickled as it is
today, i.e. the bundle the driver verified and loaded through the allowlist), not with every
task; each task opens its file and runs the same streaming scorer as a local run
(:func:`conveyor.bundle._chunks.write_sources`) into its own part, written atomically. For one
output file the parts are Arrow IPC files of the scored record batches, not Parquet: the driver
writes each batch into the output (one row group each, as a local run writes it), in input
order, as soon as that part is in, while the workers score the later files (merging only after
the last part left the merge as a serial tail: 2.4 s of a 17 s run on 10M rows). So the output
is byte-identical whichever executor ran it, and it is encoded once, by the driver: Parquet
parts were encoded on a worker, then decoded and encoded again by the driver (about 10% of a
worker's time per file went to the encoding that the driver threw away). The output is the
caller's temporary file, renamed into place only when every part is in: that rename marks
completion. Into a folder of parts (``score_parts``), each part is the output: Parquet.

The parts live in a hidden scratch folder beside the output, removed when the run ends; a
killed run leaves only that folder and the output's temporary, never a partial output, and
the next write in that folder removes both (``_atomic.recover``). Workers must see the
output's folder and the inputs at the same paths: one machine, or a shared filesystem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from conveyor import _atomic
from conveyor.bundle._batch_sources import open_source
from conveyor.bundle._chunks import BadRows, Layout, Progress, Tally, write_sources

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from concurrent.futures import Future
    from pathlib import Path

    import pyarrow.parquet as pq

    from conveyor.bundle._batch_sources import Source
    from conveyor.bundle.predictor import Predictor
    from conveyor.plugins.executor import Session


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
    arrow: bool = False
    """The part is an Arrow IPC file of the scored batches (a scratch part), not Parquet."""


def score_shard(shard: Shard, predictor: Predictor) -> Tally:
    """Score one file into its part (runs on a worker); the part's counts and bad rows."""
    plan = shard.plan
    source = open_source(shard.path, shard.display)
    tally = Tally(plan.bad_rows)
    progress = Progress([source], None)
    with _atomic.atomic_path(shard.part) as tmp:
        write_sources(
            predictor,
            [source],
            plan.read,
            plan.chunk_rows,
            plan.layout,
            tally,
            progress,
            tmp,
            arrow=shard.arrow,
        )
    return tally


PART_PATTERN = re.compile(r"part-[0-9]{5,}\.parquet")


def part_name(index: int, *, arrow: bool = False) -> str:
    """The file name of input ``index``'s part: Parquet in a parts folder; Arrow IPC (scratch)."""
    return f"part-{index:05d}.{'arrow' if arrow else 'parquet'}"


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
    import pyarrow.parquet as pq

    # named as conveyor's temporaries are, so the next write in this folder removes a killed
    # run's parts (_atomic.recover)
    with (
        _atomic.scratch_dir(output) as scratch,
        pq.ParquetWriter(output, plan.layout.schema) as writer,
    ):
        merged = partial(append_part, writer)
        score_parts(
            session, predictor, plan, sources, tally, progress, scratch, on_part=merged, arrow=True
        )


def score_parts(
    session: Session,
    predictor: Predictor,
    plan: Plan,
    sources: Sequence[Source],
    tally: Tally,
    progress: Progress,
    folder: Path,
    *,
    on_part: Callable[[Path], None] | None = None,
    arrow: bool = False,
) -> None:
    """Score ``sources`` on ``session`` into ``folder``, one part per file, named in input order.

    ``on_part`` gets each part as soon as it and every part before it are in. ``arrow``: the
    parts are Arrow IPC files (scratch parts for :func:`append_part`), not Parquet.
    """
    futures: list[Future[Tally]] = []
    try:
        shards = [
            Shard(plan, source.path, source.display, folder / part_name(index, arrow=arrow), arrow)
            for index, source in enumerate(sources)
        ]
        model = session.share(predictor)  # once per worker, not once per file
        futures = [session.submit(score_shard, shard, model) for shard in shards]
        for shard, source, future in zip(shards, sources, futures, strict=True):
            part = future.result()  # in input order: the first failing file's error is raised
            tally.absorb(part)
            progress.total += part.rows_in - source.rows_estimate
            progress.advance(part.rows_in)
            if on_part is not None:
                on_part(shard.part)
    finally:
        for future in futures:
            future.cancel()


def append_part(writer: pq.ParquetWriter, part_path: Path) -> None:
    """Write the record batches of one Arrow IPC part, in order, to ``writer``; delete the part.

    Each batch is one that a local run writes as it is scored, so it becomes the same row group.
    The part is read a batch at a time (not memory-mapped), so memory follows the chunk size.
    """
    import pyarrow as pa

    with pa.OSFile(str(part_path)) as file:
        part = pa.ipc.open_file(file)
        for index in range(part.num_record_batches):
            writer.write_batch(part.get_batch(index))
    part_path.unlink()
