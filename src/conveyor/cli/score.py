"""``conveyor score MODEL INPUT... -o OUTPUT``: batch scoring into Parquet, with a progress bar."""

from __future__ import annotations

import os
import sys
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.cli._args import positive_int
from conveyor.cli._model import FORMS
from conveyor.errors import UsageError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator

    from conveyor.bundle.scoring import ScoreSummary
    from conveyor.plugins.executor import Session


def score_command(args: argparse.Namespace) -> int:
    """Score the input files with the model into one Parquet file, or a folder of parts."""
    from conveyor.bundle.predictor import Predictor
    from conveyor.bundle.scoring import score_files
    from conveyor.cli._model import resolve_model_version

    if args.report is not None and args.bad_rows != "skip":
        raise UsageError("--report describes skipped rows: use it with --bad-rows skip")
    root = Path.cwd()
    opened = _executor(root)
    with opened as session:
        bundle, version = resolve_model_version(args.model, root)
        # In this process: every core. Sharded: one thread per worker unless told otherwise.
        threads = args.threads or ((os.cpu_count() or 1) if session is None else 1)
        predictor = Predictor(bundle, unknown_categories=args.unknown_categories, threads=threads)
        predictor.version = version
        with _progress_bar() as on_progress:
            summary = score_files(
                predictor,
                args.inputs,
                Path(args.output),
                chunk_rows=args.chunk_rows,
                bad_rows=args.bad_rows,
                keep_columns=_columns(args.keep_columns),
                report=Path(args.report) if args.report is not None else None,
                on_progress=on_progress,
                root=root,
                session=session,
                parts=_names_a_folder(args.output, root),
            )
    sys.stdout.write(f"{_summary_line(summary, root)}\n")
    return 0


def _executor(root: Path) -> AbstractContextManager[Session | None]:
    """The project's executor, opened; None (score in this process) for ``local``."""
    from conveyor._paths import PARAMS_FILE
    from conveyor.executors import build_executor, project_executor
    from conveyor.plugins import Plugins
    from conveyor.spec.executor import DEFAULT_EXECUTOR

    spec = project_executor(root)
    if spec.kind == DEFAULT_EXECUTOR:
        return nullcontext()
    executor = build_executor(Plugins.discover(), spec, source=PARAMS_FILE)
    return executor.open(where="executor", source=PARAMS_FILE)


def _names_a_folder(output: str, root: Path) -> bool:
    """``-o preds/`` or an existing folder: write parts, one per input file."""
    return output.endswith(("/", os.sep)) or (root / output).is_dir()


def _columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


def _summary_line(summary: ScoreSummary, root: Path) -> str:
    files = f"{len(summary.files)} file{'s' if len(summary.files) != 1 else ''}"
    rate = summary.rows_in / summary.seconds if summary.seconds > 0 else 0.0
    line = (
        f"scored {summary.rows_scored:,} rows from {files} in {summary.seconds:.1f}s "
        f"({rate:,.0f} rows/s) -> {_shown(summary.output, root)}"
    )
    if summary.report is not None:
        line += (
            f"; skipped {summary.rows_skipped:,} bad rows (report: {_shown(summary.report, root)})"
        )
    return line


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


@contextmanager
def _progress_bar() -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr, drawn only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"))
    with Progress(*columns, TimeRemainingColumn(), console=Console(stderr=True)) as progress:
        task = progress.add_task("score", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield on_progress


def add_score_parser(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparser type
    """Register ``conveyor score``."""
    text = "Score CSV or Parquet files with a model into one Parquet file."
    parser = commands.add_parser(
        "score",
        help=text,
        description=f"{text} Files are read in chunks, so memory stays flat as they grow. "
        "Output columns: the kept input columns, prediction, proba_<class> (classifiers), "
        "_source_file and _row (0-based data row within its file).",
    )
    parser.set_defaults(handler=score_command)
    parser.add_argument("model", metavar="MODEL", help=FORMS)
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="CSV or Parquet files, directories or globs (quote globs: 'data/*.parquet')",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUTPUT",
        help="the Parquet file to write; a path ending in '/', or an existing folder, gets a "
        "folder of parts instead, part-00000.parquet for the first input file and so on",
    )
    parser.add_argument(
        "--chunk-rows",
        type=positive_int,
        default=65_536,
        metavar="N",
        help="rows per chunk (default: 65536); memory follows this, not the input size",
    )
    parser.add_argument(
        "--bad-rows",
        choices=("fail", "skip"),
        default="fail",
        help="fail (default): stop at the first bad row and write nothing; "
        "skip: score the rest and write a report of the bad rows",
    )
    parser.add_argument(
        "--keep-columns",
        metavar="A,B",
        help="input columns to copy to the output (default: all; '' for none)",
    )
    parser.add_argument(
        "--report",
        metavar="PATH",
        help="where --bad-rows skip writes its JSON report (default: OUTPUT.bad_rows.json)",
    )
    parser.add_argument(
        "--unknown-categories",
        choices=("error", "allow"),
        default="error",
        help="whether a category unseen in training is a bad row (default) or passed on",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        help="threads the model predicts with (default: all cores)",
    )
