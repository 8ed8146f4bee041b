"""Batch scoring: stream CSV and Parquet files through a Predictor into Parquet.

The output is one file, or with ``parts=True`` a folder of parts, one per input file.

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
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor import _atomic
from conveyor.bundle._batch_sources import SUFFIXES, Source, open_source
from conveyor.bundle._chunks import BadRows, Layout, Progress, Tally, write_sources
from conveyor.bundle.inputs import Problem
from conveyor.errors import DataError, InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from conveyor.bundle.predictor import Predictor
    from conveyor.plugins.executor import Session

RESERVED = ("prediction", "_source_file", "_row")
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
    parts: bool = False,
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
        parts: write ``output`` as a folder of Parquet parts, ``part-00000.parquet`` for the
            first input file and so on (each part the bytes that file alone would give),
            instead of one file: no merge, so a sharded run writes each part once. The folder
            is swapped in whole; an existing folder is replaced only if it holds nothing but
            such parts.

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
    layout = Layout.build(predictor, sources[0], kept)
    target = output if output.is_absolute() else base / output
    tally = Tally(bad_rows)
    progress = Progress(sources, on_progress)
    read = [*predictor.schema.names, *(c for c in kept if c not in predictor.schema.names)]
    report_path = None
    if parts:
        _check_parts_folder(target)
    with _atomic.atomic_dir(target) if parts else _atomic.atomic_path(target) as tmp:
        if session is not None:
            from conveyor.bundle._shards import Plan, score_parts, score_shards

            plan = Plan(read, chunk_rows, layout, bad_rows)
            shard = score_parts if parts else score_shards
            shard(session, predictor, plan, sources, tally, progress, tmp)
        elif parts:
            from conveyor.bundle._shards import part_name

            for index, source in enumerate(sources):
                path = tmp / part_name(index)
                write_sources(predictor, [source], read, chunk_rows, layout, tally, progress, path)
        else:
            write_sources(predictor, sources, read, chunk_rows, layout, tally, progress, tmp)
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


def _check_parts_folder(target: Path) -> None:
    """Refuse to replace anything but a folder of parts (a user's data folder, a file)."""
    from conveyor.bundle._shards import PART_PATTERN

    if not os.path.lexists(target):
        return
    if target.is_symlink() or not target.is_dir():
        raise InputError(
            f"output '{target}' exists and is not a folder of parts",
            where=str(target),
            fix="name a new folder for the parts, or remove this path first",
        )
    others = sorted(p.name for p in target.iterdir() if not PART_PATTERN.fullmatch(p.name))
    if others:
        raise InputError(
            f"output folder '{target}' holds files that are not score parts: {_listed(others)}",
            where=str(target),
            fix="name a new or empty folder: the parts replace the folder's whole contents",
        )


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
