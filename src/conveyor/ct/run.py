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

from conveyor._paths import BLESSING_FILE
from conveyor.ct import _workspace
from conveyor.ct._inputs import (
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
from conveyor.ct._observe import champion_of, observe
from conveyor.ct.decision import BatchRef, Blessing, CtDecision, Outcome, Retrained
from conveyor.errors import ContinuousTrainingError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from conveyor.registry.query import Version
__all__ = ["DECISIONS_FILE", "CtResult", "Settings", "read_decisions", "run_ct"]

REPORTS_DIR = f"{CT_DIR}/reports"


@dataclass(frozen=True)
class CtResult:
    """What one run decided; ``written`` is False for --dry-run and already-decided batches."""

    decision: CtDecision | None
    """This run's decision; None when the batch was already decided (see ``previous``)."""
    written: bool
    previous: Mapping[str, Any] | None = None
    """The logged record of an already-decided batch."""

    @property
    def already_decided(self) -> bool:
        """True when the batch was in the decision log and not decided again."""
        return self.previous is not None

    @property
    def record(self) -> dict[str, Any]:
        """The decision record as JSON data: this run's, or the logged one."""
        if self.decision is not None:
            return self.decision.to_dict()
        return dict(self.previous or {})


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
            return CtResult(None, written=False, previous=previous)
        if not dry_run:
            _workspace.require_clean(root)
        start = _workspace.head(root)
        champion = champion_of(root, settings)
        with tempfile.TemporaryDirectory(prefix="conveyor-ct-") as scratch:
            out_dir = Path(scratch) if dry_run else root / REPORTS_DIR / file.stem
            observation, decision = observe(root, settings, file, champion, out_dir, now)
        echo(f"ct: {shown}: {'retrain' if decision.retrain else 'no retrain'}")
        for reason in decision.reasons:
            echo(f"  - {reason}")
        kept = None if champion is None else champion.version
        if dry_run:
            outcome = Outcome("would retrain" if decision.retrain else "no retrain")
        elif decision.retrain:
            try:
                outcome = _retrain(root, settings, champion, shown, decision.reasons, now, echo)
            except BaseException:
                _workspace.restore(root, start)
                shutil.rmtree(out_dir, ignore_errors=True)  # this run's reports: not recorded
                raise
        else:
            outcome = Outcome("no retrain", production=kept)
        record = CtDecision(
            time=now.isoformat(timespec="seconds"),
            batch=BatchRef(shown, digest),
            champion=kept,
            observation=observation,
            decision=decision,
            outcome=outcome,
            dry_run=dry_run,
        )
        if dry_run:
            return CtResult(record, written=False)
        append(root, record.to_dict())
        _workspace.commit(root, [CT_DIR], f"ct: {record.action} ({shown})")
        echo(f"ct: {record.action}")
        return CtResult(record, written=True)


def _retrain(
    root: Path,
    settings: Settings,
    champion: Version | None,
    batch: str,
    reasons: Sequence[str],
    now: dt.datetime,
    echo: Callable[[str], None],
) -> Outcome:
    """Run the pipeline as an experiment; promote the challenger if blessed, else restore."""
    from conveyor import registry
    from conveyor.registry.lineage import failed_checks

    experiment = f"ct-{now:%Y%m%d-%H%M%S}"
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
    document = _blessing(root)
    retrained = Retrained(experiment, Blessing.from_document(document))
    kept = champion.version if champion is not None else None
    if not retrained.blessing.blessed:
        failed = failed_checks(document) or ["blessed is not true"]
        _workspace.restore(root, start)
        held = f"kept {kept}" if kept is not None else "nothing promoted"
        action = f"{held} (challenger not blessed: {'; '.join(failed)})"
        return Outcome(action, production=kept, retrained=retrained)
    _workspace.commit(
        root, ["dvc.lock", "reports"], f"ct: retrain on {batch} (experiment {experiment})"
    )
    entry = registry.register(root, settings.name)
    version = str(entry.version)
    reason = f"conveyor ct: {'; '.join(reasons)}"[:500]
    registry.promote(root, settings.name, version, settings.stage, reason=reason)
    return Outcome(f"promoted {version}", production=version, retrained=retrained)


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
