"""``conveyor monitor CURRENT...``: drift of an ad-hoc batch or of the prediction log.

A thin adapter: the options become a :class:`~conveyor.ct.monitor.MonitorArgs`,
:func:`~conveyor.ct.monitor.project_request` fills in the project's defaults (params.yaml:
the reference, model, target, thresholds and metric), and
:func:`~conveyor.monitoring.run_monitor` writes the reports. Exit 0 whatever the drift, unless
``--fail-on-drift``: then 10 on dataset drift. Bad input exits with its error's code.

Alerts (``monitor.alerts`` in params.yaml) are delivered after the reports are written; one
that cannot be is queued in ``.conveyor/outbox/`` with a warning, and the exit status does not
change. ``--flush-alerts`` alone resends the outbox: exit 0 once it is empty, else 11.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.cli._model import FORMS

if TYPE_CHECKING:
    import argparse

    from conveyor.monitoring.alert import AlertSettings

DRIFT_EXIT_CODE = 10
"""``--fail-on-drift`` exits with this when the batch shows dataset drift."""
UNDELIVERED_EXIT_CODE = 11
"""``--flush-alerts`` without CURRENT exits with this when alerts remain in the outbox."""


def monitor_command(args: argparse.Namespace) -> int:
    """Compare the batch with the reference; write drift.json and drift.html; print a summary."""
    from conveyor.cli._model import resolve_model_version
    from conveyor.ct.monitor import MonitorArgs, project_request
    from conveyor.errors import UsageError
    from conveyor.executors import open_project_executor
    from conveyor.monitoring.alert import alert_settings, notify
    from conveyor.monitoring.monitor import run_monitor, summary

    root = Path.cwd()
    if not args.current:
        if not args.flush_alerts:
            raise UsageError(
                "give CURRENT (the batch to check), or --flush-alerts to resend queued alerts",
                where="conveyor monitor",
                fix="conveyor monitor data/batches/new.parquet",
            )
        return _flush(root, alert_settings(root))
    alerts = alert_settings(root)  # a bad target fails before the batch is read
    options = MonitorArgs(
        current=tuple(args.current),
        output=args.output,
        reference=args.reference,
        reference_data=None if args.reference_data is None else tuple(args.reference_data),
        model=args.model,
        no_model=args.no_model,
        labels=tuple(args.labels or ()),
        id_column=args.id_column,
        target=args.target,
        metric=args.metric,
        max_drop=args.max_drop,
    )
    request = project_request(root, options, resolve_model=resolve_model_version)
    with open_project_executor(root) as session:
        result = run_monitor(root, request, session=session)
    if args.json:
        sys.stdout.write(json.dumps(result.document, indent=2, allow_nan=False) + "\n")
    else:
        sys.stdout.write(summary(result, root) + "\n")
    _warn(notify(root, result, alerts).warnings)  # never changes the exit status
    return DRIFT_EXIT_CODE if args.fail_on_drift and result.dataset_drift else 0


def _flush(root: Path, alerts: AlertSettings) -> int:
    """Resend the outbox; 0 when it is empty afterwards."""
    from conveyor.monitoring.alert import flush

    delivery = flush(root, alerts)
    _warn(delivery.warnings)
    sent, waiting = len(delivery.sent), delivery.waiting
    sys.stdout.write(
        f"sent {sent} queued alert{'s' if sent != 1 else ''}; {waiting} still in .conveyor/outbox\n"
    )
    return UNDELIVERED_EXIT_CODE if waiting else 0


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        sys.stderr.write(f"warning: {warning}\n")


def _non_negative(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of at least 0, got '{text}'")
    return value


def add_monitor_parser(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparser type
    """Register ``conveyor monitor``."""
    text = "Check a batch (or the prediction log) for drift against the training profile."
    parser = commands.add_parser(
        "monitor",
        help=text,
        description=f"{text} Writes drift.json and a self-contained drift.html to --output. "
        "In a project, the reference, model, target and thresholds default to params.yaml's "
        "(reports/profile.json, models/<project.name>, monitor.*). Exit status: 0 whatever "
        f"the drift; {DRIFT_EXIT_CODE} on dataset drift with --fail-on-drift; 1-4 on bad input. "
        "Alerts (monitor.alerts) are sent after the reports; one that cannot be delivered is "
        "queued in .conveyor/outbox with a warning and leaves the exit status alone.",
    )
    parser.set_defaults(handler=monitor_command)
    parser.add_argument(
        "current",
        nargs="*",
        metavar="CURRENT",
        help="CSV or Parquet files, folders or globs (quote globs), or a prediction-log "
        "directory (<log_dir> or <log_dir>/<model>)",
    )
    parser.add_argument(
        "--flush-alerts",
        action="store_true",
        help="resend the alerts queued in .conveyor/outbox (monitor.alerts); without CURRENT, "
        f"only that: exit 0 once the outbox is empty, {UNDELIVERED_EXIT_CODE} if some remain",
    )
    reference = parser.add_mutually_exclusive_group()
    reference.add_argument(
        "--reference",
        metavar="PROFILE",
        help="a profile JSON (default: reports/profile.json)",
    )
    reference.add_argument(
        "--reference-data",
        action="append",
        metavar="FILE",
        help="profile this CSV/Parquet file (or folder, glob; repeatable) as the reference",
    )
    model = parser.add_mutually_exclusive_group()
    model.add_argument(
        "--model",
        metavar="MODEL",
        help=f"the model that scores the batch: {FORMS} (default: models/<project.name>, "
        "except with --reference-data)",
    )
    model.add_argument(
        "--no-model", action="store_true", help="compare the features only, no predictions"
    )
    parser.add_argument(
        "--labels",
        action="append",
        metavar="FILE",
        help="a file (folder, glob; repeatable) with --id-column and the target, joined to "
        "the batch to measure performance",
    )
    parser.add_argument("--id-column", metavar="COLUMN", help="joins --labels to the batch")
    parser.add_argument(
        "--target", metavar="COLUMN", help="the label column (default: data.target)"
    )
    parser.add_argument(
        "--metric",
        metavar="NAME",
        help="the performance metric (default: monitor.performance.metric, evaluate.primary)",
    )
    parser.add_argument(
        "--max-drop",
        type=_non_negative,
        metavar="X",
        help="tolerated worsening of the metric (default: monitor.performance.max_drop): a "
        "fraction of the reference value (0.1: 10%% worse), or in the metric's units when "
        "monitor.performance.relative is false",
    )
    parser.add_argument(
        "-o",
        "--output",
        default="reports",
        metavar="DIR",
        help="where drift.json and drift.html go (default: reports)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print drift.json instead of the summary"
    )
    parser.add_argument(
        "--fail-on-drift",
        action="store_true",
        help=f"exit {DRIFT_EXIT_CODE} when the batch shows dataset drift",
    )
