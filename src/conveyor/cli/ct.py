"""``conveyor ct``: a thin adapter over :func:`conveyor.ct.run_ct`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse


def _err(line: str) -> None:
    sys.stderr.write(f"{line}\n")
    sys.stderr.flush()


def ct_command(args: argparse.Namespace) -> int:
    """Decide on the newest batch: monitor, maybe retrain, gate, promote, record."""
    from conveyor.ct import run_ct

    # Progress goes to stderr so that --json leaves stdout to the record alone.
    result = run_ct(Path.cwd(), batch=args.batch, force=args.force, dry_run=args.dry_run, echo=_err)
    if args.json:
        sys.stdout.write(json.dumps(result.record, indent=2, sort_keys=True) + "\n")
    elif args.dry_run:
        sys.stdout.write(f"dry run: {result.record['action']} (nothing written)\n")
    return 0


def add_ct_parser(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparser type
    """``conveyor ct [--batch PATH] [--force] [--dry-run] [--json]``."""
    text = "Continuous training: decide on the newest batch, retrain and promote if warranted."
    parser = commands.add_parser(
        "ct",
        help=text,
        description=f"{text} Monitors the newest batch of monitor.current (or --batch) against "
        "the champion's reference profile; when monitor.retrain fires, runs the pipeline as a "
        "DVC experiment, and registers and promotes the result if the gate blesses it against "
        "the champion. Each batch is decided once: the decision is appended to "
        "ct/decisions.jsonl and committed. Safe from cron or CI: runs never overlap.",
    )
    parser.set_defaults(handler=ct_command)
    parser.add_argument("--batch", metavar="PATH", help="this batch file instead of the newest")
    parser.add_argument(
        "--force", action="store_true", help="decide again on a batch already decided"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="monitor and decide, but retrain, commit and write nothing",
    )
    parser.add_argument("--json", action="store_true", help="print the decision record as JSON")
