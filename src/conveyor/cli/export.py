"""``conveyor export mlflow [REV...]``: queued runs, commits, experiments and versions to MLflow.

A thin adapter over :func:`conveyor.tracking.export_mlflow`. The server is params.yaml's
``tracking.uri`` (or ``--uri``, or ``MLFLOW_TRACKING_URI``). Exit 0 when everything was sent;
11 when something is still waiting (the reason is printed; run it again later).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

UNSENT_EXIT_CODE = 11
"""Something could not be sent: it waits in .conveyor/outbox/mlflow or was not exported."""


def export_mlflow_command(args: argparse.Namespace) -> int:
    """Send the tracking outbox, then back-fill the commits to MLflow."""
    from conveyor.tracking.export import export_mlflow, project_tracking

    root = Path.cwd()
    tracking, experiment = project_tracking(root, uri=args.uri, experiment=args.experiment)
    result = export_mlflow(root, tracking, experiment, list(args.revs))
    for line in result.sent:
        sys.stdout.write(f"sent {line}\n")
    for line in result.present:
        sys.stdout.write(f"already in MLflow: {line}\n")
    for warning in result.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if result.waiting:
        sys.stderr.write(f"{result.waiting} run(s) still in .conveyor/outbox/mlflow\n")
    unsent = result.waiting or any("not sent" in w for w in result.warnings)
    return UNSENT_EXIT_CODE if unsent else 0


def add_export_parser(commands: Any) -> None:  # noqa: ANN401 - argparse's private type
    """``conveyor export mlflow [REV...] [--uri URI] [--experiment NAME]``."""
    text = "Export runs to another tool (mlflow)."
    parser = commands.add_parser("export", help=text, description=text)
    targets = parser.add_subparsers(title="targets", dest="target", required=True)
    mlflow_text = (
        "Send the train/evaluate runs queued in .conveyor/outbox/mlflow, then one run per "
        "commit (each REV; default: HEAD, every DVC experiment and every registry version) "
        "with its params, metrics and reports; registry versions become MLflow model versions "
        "and their stages aliases. Running it again adds nothing (docs/tracking.md)."
    )
    mlflow = targets.add_parser("mlflow", help=mlflow_text, description=mlflow_text)
    mlflow.set_defaults(handler=export_mlflow_command)
    mlflow.add_argument("revs", nargs="*", metavar="REV", help="commits, branches, tags")
    mlflow.add_argument(
        "--uri", help="the tracking server (default: tracking.uri, then MLFLOW_TRACKING_URI)"
    )
    mlflow.add_argument("--experiment", help="the MLflow experiment (default: tracking's)")
