"""``conveyor monitor CURRENT...``: drift of an ad-hoc batch or of the prediction log.

Inside a project (a params.yaml here) the defaults come from it: the reference is
``reports/profile.json``, the model ``models/<project.name>``, the target ``data.target``, the
tests and thresholds ``monitor.drift``/``monitor.quality``, the metric
``monitor.performance.metric`` or ``evaluate.primary``. Outside one, give ``--reference-data``
(a profile is built from it) or ``--reference``. Exit 0 whatever the drift, unless
``--fail-on-drift``: then 10 on dataset drift. Bad input exits with its error's code.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.cli._model import FORMS

if TYPE_CHECKING:
    import argparse

    from conveyor.bundle.predictor import Predictor
    from conveyor.monitoring.profile import Profile
    from conveyor.spec import MonitorSpec

DRIFT_EXIT_CODE = 10
"""``--fail-on-drift`` exits with this when the batch shows dataset drift."""


@dataclass(frozen=True)
class _Project:
    """What params.yaml says (all None/defaults outside a project)."""

    name: str | None
    target: str | None
    metric: str | None
    monitor: MonitorSpec


def monitor_command(args: argparse.Namespace) -> int:
    """Compare the batch with the reference; write drift.json and drift.html; print a summary."""
    from conveyor.monitoring.monitor import (
        drift_options,
        read_reference_metrics,
        run_monitor,
        summary,
    )
    from conveyor.runtime import layout

    root = Path.cwd()
    project = _project(root)
    target = args.target or project.target
    predictor = _predictor(args, project, root)
    reference, reference_name = _reference(args, root, predictor, target)
    performance = project.monitor.performance
    result = run_monitor(
        root,
        args.current,
        reference=reference,
        predictor=predictor,
        out_dir=Path(args.output) if Path(args.output).is_absolute() else root / args.output,
        options=drift_options(project.monitor.drift, project.monitor.quality),
        labels=args.labels or [],
        id_column=args.id_column or project.monitor.id_column,
        target=target,
        metric=args.metric or performance.metric or project.metric,
        max_drop=args.max_drop if args.max_drop is not None else performance.max_drop,
        reference_metrics=read_reference_metrics(root / layout.METRICS_FILE),
        reference_name=reference_name,
        where="CURRENT",
        labels_where="--labels",
    )
    if args.json:
        sys.stdout.write(json.dumps(result.document, indent=2, allow_nan=False) + "\n")
    else:
        sys.stdout.write(summary(result, root) + "\n")
    return DRIFT_EXIT_CODE if args.fail_on_drift and result.dataset_drift else 0


def _project(root: Path) -> _Project:
    """The defaults params.yaml gives, validated as the pipeline would validate them."""
    from pydantic import ValidationError

    from conveyor.errors import SpecError
    from conveyor.runtime.layout import PARAMS_FILE
    from conveyor.runtime.params import load_params
    from conveyor.spec import MonitorSpec

    if not (root / PARAMS_FILE).is_file():
        return _Project(None, None, None, MonitorSpec())
    params = load_params(root)
    try:
        monitor = MonitorSpec.model_validate(params.get("monitor") or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(["monitor", *map(str, first["loc"])])
        raise SpecError(
            f"'{path}' in {PARAMS_FILE} is invalid: {first['msg']}",
            where=PARAMS_FILE,
            fix="run 'conveyor compile' to see where in conf/ (params.yaml is generated)",
        ) from exc
    evaluate = params.get("evaluate") or {}
    metrics = evaluate.get("metrics") or [None]
    return _Project(
        name=(params.get("project") or {}).get("name"),
        target=(params.get("data") or {}).get("target"),
        metric=evaluate.get("primary") or metrics[0],
        monitor=monitor,
    )


def _predictor(args: argparse.Namespace, project: _Project, root: Path) -> Predictor | None:
    """--model, else (with the project's profile) the project's bundle if it is there."""
    import os

    from conveyor.cli._model import resolve_model_version
    from conveyor.monitoring.monitor import model_predictor
    from conveyor.runtime.layout import model_dir

    ref = args.model
    if ref is None and not args.no_model and args.reference_data is None and project.name:
        default = model_dir(project.name)
        ref = default if (root / default / "manifest.json").is_file() else None
    if ref is None or args.no_model:
        return None
    bundle, version = resolve_model_version(ref, root)
    predictor = model_predictor(bundle, threads=os.cpu_count() or 1)
    if predictor is not None:
        predictor.version = version
    return predictor


def _reference(
    args: argparse.Namespace, root: Path, predictor: Predictor | None, target: str | None
) -> tuple[Profile, str]:
    """The reference profile and how the reports name it."""
    from conveyor.errors import DataError
    from conveyor.monitoring.monitor import profile_data
    from conveyor.monitoring.profile import Profile
    from conveyor.runtime.layout import PROFILE_FILE

    if args.reference_data is not None:
        profile = profile_data(
            root,
            args.reference_data,
            predictor=predictor,
            exclude=[target] if target else [],
            where="--reference-data",
        )
        return profile, ", ".join(args.reference_data)
    shown = args.reference or PROFILE_FILE
    path = Path(shown) if Path(shown).is_absolute() else root / shown
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fix = (
            "give a profile with --reference, or data to profile with --reference-data"
            if args.reference
            else "run 'dvc repro profile' in the project, or give --reference-data FILE"
        )
        raise DataError(
            f"cannot read the reference profile '{shown}': {exc.strerror or exc}",
            where="--reference",
            fix=fix,
        ) from exc
    return Profile.from_json(text, where=shown), shown


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
        f"the drift; {DRIFT_EXIT_CODE} on dataset drift with --fail-on-drift; 1-4 on bad input.",
    )
    parser.set_defaults(handler=monitor_command)
    parser.add_argument(
        "current",
        nargs="+",
        metavar="CURRENT",
        help="CSV or Parquet files, folders or globs (quote globs), or a prediction-log "
        "directory (<log_dir> or <log_dir>/<model>)",
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
        help="tolerated worsening of the metric (default: monitor.performance.max_drop)",
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
