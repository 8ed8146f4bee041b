"""The first step of ``conveyor ct``: monitor the batch against the champion, then decide.

The champion is the version in ``evaluate.champion_stage``: its reference profile is read from
its commit, and its bundle from the DVC cache. Without a champion the work tree's profile and
model stand in (the first run of a project), and the policy is not asked: there is nothing in
production to keep.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor._paths import PROFILE_FILE, model_dir
from conveyor.ct import _workspace
from conveyor.ct._inputs import WHERE, relative
from conveyor.ct.decision import Observation
from conveyor.ct.policy import Decision, Performance, Signals, decide
from conveyor.errors import ContinuousTrainingError

if TYPE_CHECKING:
    from conveyor.bundle.predictor import Predictor
    from conveyor.ct._inputs import Settings
    from conveyor.monitoring.profile import Profile
    from conveyor.registry.query import Version


def champion_of(root: Path, settings: Settings) -> Version | None:
    """The version in ``evaluate.champion_stage``; None when no version holds it yet."""
    from conveyor.registry import champion

    found: Version | None = champion(root, settings.name, stage=settings.stage)
    return found


def observe(
    root: Path,
    settings: Settings,
    file: Path,
    champion: Version | None,
    out_dir: Path,
    now: dt.datetime,
) -> tuple[Observation | None, Decision]:
    """Monitor the batch against the champion (or the work tree's model) and decide.

    Returns:
        What monitoring found (None when there is no reference profile to compare with), and
        the policy's decision.
    """
    from conveyor.monitoring import MonitorRequest, run_monitor

    first = Decision(True, [f"no model in stage '{settings.stage}' yet"])
    with tempfile.TemporaryDirectory(prefix="conveyor-ct-model-") as scratch:
        reference = _reference(root, champion)
        predictor = _predictor(root, settings.name, champion, Path(scratch))
        if reference is None:
            return None, first
        request = MonitorRequest.from_spec(
            settings.monitor,
            current=[relative(root, file)],
            reference=reference,
            predictor=predictor,
            out_dir=out_dir,
            target=settings.target,
            metric=settings.metric,
            reference_metrics=champion.metrics if champion is not None else None,
            reference_name=f"{PROFILE_FILE} at {champion.ref}" if champion else PROFILE_FILE,
            where=str(file.name),
        )
        result = run_monitor(root, request)
    perf = result.performance
    performance = (
        None
        if perf is None
        else Performance(
            perf["metric"],
            perf["reference"],
            perf["value"],
            perf["drop"],
            perf["max_drop"],
            relative=bool(perf["relative"]),
        )
    )
    signals = Signals.from_report(
        result.report,
        settings.monitor.drift.dataset_share,
        performance=performance,
        trained_at=None if champion is None else _trained_at(root, settings.name, champion.version),
    )
    reports = relative(root, result.html_path) if out_dir.is_relative_to(root) else None
    observation = Observation(signals, reports)
    if champion is None:
        return observation, first
    return observation, decide(settings.monitor.retrain, signals, now=now)


def _trained_at(root: Path, name: str, version: str) -> dt.datetime:
    from conveyor.registry.query import model_state

    stamp = model_state(root, name).registration(version).timestamp
    return dt.datetime.fromtimestamp(stamp, dt.UTC)


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
