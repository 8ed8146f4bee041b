"""``conveyor diff [BASE] [HEAD]`` and ``conveyor dag``: thin adapters over review.diff/dag."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

DIFF_FORMATS = ("rich", "markdown", "json")
DAG_FORMATS = ("mermaid", "dot", "ascii")
"""As ``conveyor.review.dag.FORMATS``, repeated so that ``--help`` imports no review code."""


def diff_command(args: argparse.Namespace) -> int:
    """Compile both sides, compare them, print the report in the chosen format."""
    from conveyor.review.diff import diff_revisions

    diff = diff_revisions(Path.cwd(), args.base, args.head)
    if args.format == "json":
        sys.stdout.write(json.dumps(diff.to_dict(), indent=2, default=str) + "\n")
    elif args.format == "markdown":
        from conveyor.review._diff_markdown import to_markdown

        sys.stdout.write(to_markdown(diff))
    else:
        from rich.console import Console

        from conveyor.review._diff_rich import print_rich

        print_rich(diff, Console(width=None if sys.stdout.isatty() else 120))
    return 0


def dag_command(args: argparse.Namespace) -> int:
    """Print the compiled graph; with --diff, marked against BASE."""
    from conveyor.review.dag import build_graph, render_graph

    root = Path.cwd()
    if args.diff is None:
        from conveyor.compiler import compile_files

        graph = build_graph(compile_files(root).pipeline)
    else:
        from conveyor.review.diff import diff_revisions

        diff = diff_revisions(root, args.diff, None)
        graph = build_graph(diff.head_pipeline, diff)
    sys.stdout.write(render_graph(graph, args.format))
    return 0


def add_diff_parser(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparser type
    """``conveyor diff [BASE] [HEAD] [--format ...]`` and ``conveyor dag [--format] [--diff]``."""
    text = "Show what a change to conf/ does to the pipeline, between two git revisions."
    parser = commands.add_parser(
        "diff",
        help=text,
        description=f"{text} Both sides are compiled from their own conf/ (a revision in a "
        "temporary directory; your files, index and worktrees are never touched) and compared: "
        "config values with the file that set them, policy changes (gates, promotion, deploy "
        "targets, monitoring, retraining) apart from tuning, stages added/removed/changed, the "
        "stages 'dvc repro' will rerun and why, metric deltas, and each side's gate result.",
    )
    parser.set_defaults(handler=diff_command)
    parser.add_argument(
        "base",
        nargs="?",
        metavar="BASE",
        help="a git revision (default: where HEAD forked from main/master/origin/HEAD; "
        "HEAD itself on the main branch)",
    )
    parser.add_argument(
        "head", nargs="?", metavar="HEAD", help="a git revision (default: the working tree)"
    )
    parser.add_argument(
        "--format",
        choices=DIFF_FORMATS,
        default="rich",
        help="rich (terminal, default), markdown (a pull-request comment) or json",
    )
    dag_text = "Draw the compiled stage graph (mermaid, dot or ascii)."
    dag = commands.add_parser(
        "dag",
        help=dag_text,
        description=f"{dag_text} With --diff BASE, stages added, removed, changed and those "
        "'dvc repro' will rerun are marked, with a legend.",
    )
    dag.set_defaults(handler=dag_command)
    dag.add_argument(
        "--format", choices=DAG_FORMATS, default="mermaid", help="mermaid (default), dot or ascii"
    )
    dag.add_argument(
        "--diff",
        metavar="BASE",
        help="mark changes from git revision BASE to the working tree",
    )
