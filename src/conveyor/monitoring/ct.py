"""``conveyor ct``: monitor the latest batch, retrain if the policy says so, gate, promote, record.

One run, safe from cron or CI (two runs never overlap, and a batch is decided once)::

    batch -> already in ct/decisions.jsonl? -> done
          -> run_monitor against the champion's reference profile (its commit's profile.json)
          -> policy (monitor.retrain) -> no retrain: record it
          -> dvc exp run (the batch is training data: the sources read the batches folder)
          -> gate blessed? -> commit, register, promote to evaluate.champion_stage
                           -> else restore the work tree and keep the champion
          -> append the decision to ct/decisions.jsonl and commit it

A failure restores the work tree to the commit the run started from and records nothing, so
the next run tries the batch again.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor._paths import BLESSING_FILE, PROFILE_FILE, model_dir
from conveyor.errors import ContinuousTrainingError
from conveyor.monitoring import _workspace
from conveyor.monitoring._ct_inputs import (
    CT_DIR,
    DECISIONS_FILE,
    WHERE,
    Settings,
    append,
    decided,
    pick_batch,
    read_decisions,
    relative,
    sha256,
)
from conveyor.monitoring.policy import Decision, Performance, Signals, decide

if TYPE_CHECKING:
    from collections.abc import Callable

    from conveyor.bundle.predictor import Predictor
    from conveyor.monitoring.monitor import MonitorResult
    from conveyor.monitoring.profile import Profile
    from conveyor.registry.query import Version
__all__ = ["DECISIONS_FILE", "CtResult", "Settings", "read_decisions", "run_ct"]

REPORTS_DIR = f"{CT_DIR}/reports"


@dataclass(frozen=True)
class CtResult:
    """What one run decided; ``written`` is False for --dry-run and already-decided batches."""

    record: dict[str, Any]
    written: bool
    already_decided: bool = False


def run_ct(
    root: Path,
    *,
    batch: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    echo: Callable[[str], None] = lambda _: None,
) -> CtResult:
    """Decide on one batch (the newest of ``monitor.current``, or ``batch``) and act on it.

    Args:
        root: The project root (a git + DVC repository).
        batch: A batch file instead of the newest one that ``monitor.current`` names.
        force: Decide again on a batch already in the decision log.
        dry_run: Monitor and decide, but retrain, commit and write nothing.
        now: The time of the decision (default: now, UTC).
        echo: Where progress lines go.

    Returns:
        The decision record, and whether it was written.

    Raises:
        ConveyorError: Bad settings or input, or a failed retrain (the work tree is restored).
    """
    now = now or dt.datetime.now(dt.UTC)
    settings = Settings.read(root)
    with _workspace.ct_lock(root):
        file = pick_batch(root, settings, batch)
        shown = relative(root, file)
        digest = sha256(file)
        previous = decided(root, digest)
        if previous is not None and not force:
            echo(f"ct: {shown} already decided at {previous['time']}: {previous['action']}")
            return CtResult(previous, written=False, already_decided=True)
        if not dry_run:
            _workspace.require_clean(root)
        start = _workspace.head(root)
        champion = _champion(root, settings)
        record: dict[str, Any] = {
            "time": now.isoformat(timespec="seconds"),
            "batch": {"path": shown, "sha256": digest},
            "champion": None if champion is None else champion.version,
        }
        with tempfile.TemporaryDirectory(prefix="conveyor-ct-") as scratch:
            out_dir = Path(scratch) if dry_run else root / REPORTS_DIR / file.stem
            decision = _monitor(root, settings, file, champion, out_dir, record, now)
        record["retrain"] = decision.retrain
        record["reasons"] = decision.reasons
        echo(f"ct: {shown}: {'retrain' if decision.retrain else 'no retrain'}")
        for reason in decision.reasons:
            echo(f"  - {reason}")
        if dry_run:
            record["action"] = "would retrain" if decision.retrain else "no retrain"
            return CtResult(record, written=False)
        if decision.retrain:
            try:
                _retrain(root, settings, champion, record, now, echo)
            except BaseException:
                _workspace.restore(root, start)
                shutil.rmtree(out_dir, ignore_errors=True)  # this run's reports: not recorded
                raise
        else:
            record["action"] = "no retrain"
            record["production"] = record["champion"]
        append(root, record)
        _workspace.commit(root, [CT_DIR], f"ct: {record['action']} ({shown})")
        echo(f"ct: {record['action']}")
        return CtResult(record, written=True)


def _champion(root: Path, settings: Settings) -> Version | None:
    from conveyor.registry import champion

    found: Version | None = champion(root, settings.name, stage=settings.stage)
    return found


def _trained_at(root: Path, name: str, version: str) -> dt.datetime:
    from conveyor.registry.query import model_state

    stamp = model_state(root, name).registration(version).timestamp
    return dt.datetime.fromtimestamp(stamp, dt.UTC)


def _monitor(
    root: Path,
    settings: Settings,
    file: Path,
    champion: Version | None,
    out_dir: Path,
    record: dict[str, Any],
    now: dt.datetime,
) -> Decision:
    """Monitor the batch against the champion (or the work tree's model) and decide."""
    from conveyor.monitoring.monitor import drift_options, run_monitor

    monitor = settings.monitor
    with tempfile.TemporaryDirectory(prefix="conveyor-ct-model-") as scratch:
        reference = _reference(root, champion)
        predictor = _predictor(root, settings.name, champion, Path(scratch))
        if reference is None:
            record["drift"] = None
            record["performance"] = None
            return Decision(True, [f"no model in stage '{settings.stage}' yet"])
        result: MonitorResult = run_monitor(
            root,
            [relative(root, file)],
            reference=reference,
            predictor=predictor,
            out_dir=out_dir,
            options=drift_options(monitor.drift, monitor.quality),
            labels=[monitor.labels] if monitor.labels else [],
            id_column=monitor.id_column,
            target=settings.target,
            metric=settings.metric,
            max_drop=monitor.performance.max_drop,
            reference_metrics=champion.metrics if champion is not None else None,
            reference_name=f"{PROFILE_FILE} at {champion.ref}" if champion else PROFILE_FILE,
            where=str(file.name),
        )
    perf = result.performance
    performance = (
        None
        if perf is None
        else Performance(
            perf["metric"], perf["reference"], perf["value"], perf["drop"], perf["max_drop"]
        )
    )
    signals = Signals.from_report(
        result.report,
        monitor.drift.dataset_share,
        performance=performance,
        trained_at=None if champion is None else _trained_at(root, settings.name, champion.version),
    )
    summary = signals.to_dict()
    record["performance"] = summary.pop("performance")
    record["drift"] = summary
    record["reports"] = relative(root, result.html_path) if out_dir.is_relative_to(root) else None
    if champion is None:
        return Decision(True, [f"no model in stage '{settings.stage}' yet"])
    return decide(monitor.retrain, signals, now=now)


def _reference(root: Path, champion: Version | None) -> Profile | None:
    """The champion's reference profile (from its commit); the work tree's when there is none."""
    from conveyor.monitoring.profile import Profile

    if champion is not None:
        text = _workspace.show_file(root, champion.commit, PROFILE_FILE)
        if text is not None:
            return Profile.from_json(text, f"{PROFILE_FILE} at {champion.ref}")
    path = root / PROFILE_FILE
    if not path.is_file():
        if champion is None:
            return None
        raise ContinuousTrainingError(
            f"neither the champion's commit {champion.commit[:7]} nor the work tree has "
            f"{PROFILE_FILE}",
            where=WHERE,
            fix="run 'dvc repro' (the profile stage writes it) and commit it",
        )
    return Profile.from_json(path.read_text(encoding="utf-8"), PROFILE_FILE)


def _predictor(root: Path, name: str, champion: Version | None, scratch: Path) -> Predictor | None:
    """The champion's bundle from the DVC cache (or the work tree's model), ready to score."""
    from conveyor.bundle import load_bundle
    from conveyor.bundle.predictor import Predictor
    from conveyor.bundle.trust import project_types
    from conveyor.registry import load_version

    if champion is not None:
        bundle = load_version(root, champion.ref, scratch / "bundle")
    elif (root / model_dir(name)).is_dir():
        bundle = load_bundle(root / model_dir(name), trusted=project_types(root))
    else:
        return None
    predictor = Predictor(bundle)
    predictor.version = champion.version if champion is not None else "work tree"
    return predictor


def _retrain(
    root: Path,
    settings: Settings,
    champion: Version | None,
    record: dict[str, Any],
    now: dt.datetime,
    echo: Callable[[str], None],
) -> None:
    """Run the pipeline as an experiment; promote the challenger if blessed, else restore."""
    from conveyor import registry
    from conveyor.registry.lineage import failed_checks

    experiment = f"ct-{now:%Y%m%d-%H%M%S}"
    record["experiment"] = experiment
    echo(f"ct: retraining as experiment '{experiment}' (dvc exp run)")
    start = _workspace.head(root)
    _workspace.run(
        root,
        "dvc",
        "exp",
        "run",
        "--name",
        experiment,
        what="the retrain",
        fix="fix the cause above (the workspace was restored to the last commit), then run "
        "conveyor ct again: nothing was recorded, so it retries this batch",
    )
    blessing = _blessing(root)
    champion_doc = blessing.get("champion") or {}
    record["blessing"] = {
        "blessed": blessing.get("blessed") is True,
        "checks": blessing.get("checks", []),
        "champion_metrics_source": champion_doc.get("metrics_source"),
    }
    kept = champion.version if champion is not None else None
    if blessing.get("blessed") is not True:
        failed = failed_checks(blessing) or ["blessed is not true"]
        _workspace.restore(root, start)
        held = f"kept {kept}" if kept is not None else "nothing promoted"
        record["action"] = f"{held} (challenger not blessed: {'; '.join(failed)})"
        record["production"] = kept
        return
    batch = record["batch"]["path"]
    _workspace.commit(
        root, ["dvc.lock", "reports"], f"ct: retrain on {batch} (experiment {experiment})"
    )
    entry = registry.register(root, settings.name)
    version = str(entry.version)
    reason = f"conveyor ct: {'; '.join(record['reasons'])}"[:500]
    registry.promote(root, settings.name, version, settings.stage, reason=reason)
    record["action"] = f"promoted {version}"
    record["production"] = version


def _blessing(root: Path) -> dict[str, Any]:
    try:
        document: dict[str, Any] = json.loads((root / BLESSING_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ContinuousTrainingError(
            f"the retrain wrote no readable {BLESSING_FILE}: {exc}",
            where=WHERE,
            fix="check that the pipeline has a gate stage (evaluate.gates) and runs it",
        ) from exc
    return document
