"""The record of one ``conveyor ct`` run: the batch, what monitoring found, the decision, the act.

Each step of a run returns its part (:class:`Observation`, :class:`~conveyor.ct.policy.Decision`,
:class:`Outcome`); :func:`conveyor.ct.run.run_ct` puts them into one frozen :class:`CtDecision`.
:meth:`CtDecision.to_dict` is the line appended to ``ct/decisions.jsonl`` and what
``conveyor ct --json`` prints::

    {"time": "2024-01-06T00:00:00+00:00", "batch": {"path": ..., "sha256": ...},
     "champion": "v1.0.0", "performance": {...}, "drift": {...}, "reports": "ct/reports/...",
     "retrain": true, "reasons": [...], "experiment": "ct-...", "blessing": {...},
     "action": "promoted v1.1.0", "production": "v1.1.0"}

``drift`` and ``performance`` are null when there was nothing to compare the batch with (no
reference profile yet), and then ``reports`` is absent; ``experiment`` and ``blessing`` are
there only when the run retrained; a dry run has no ``production``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conveyor.ct.policy import Decision, Signals

__all__ = ["BatchRef", "Blessing", "CtDecision", "Observation", "Outcome", "Retrained"]


@dataclass(frozen=True)
class BatchRef:
    """The batch decided on: its path (relative to the root) and the sha256 that identifies it."""

    path: str
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        """The record's ``batch``."""
        return {"path": self.path, "sha256": self.sha256}


@dataclass(frozen=True)
class Observation:
    """What monitoring the batch found, summarised for the policy and the record."""

    signals: Signals
    reports: str | None
    """``drift.html`` relative to the root; None when the reports went outside it (dry run)."""


@dataclass(frozen=True)
class Blessing:
    """What the gate said about the retrained challenger (``reports/blessing.json``)."""

    blessed: bool
    checks: tuple[Mapping[str, Any], ...]
    champion_metrics_source: str | None

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Blessing:
        """The summary of a ``blessing.json`` document."""
        champion = document.get("champion") or {}
        return cls(
            blessed=document.get("blessed") is True,
            checks=tuple(document.get("checks", [])),
            champion_metrics_source=champion.get("metrics_source"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The record's ``blessing``."""
        return {
            "blessed": self.blessed,
            "checks": list(self.checks),
            "champion_metrics_source": self.champion_metrics_source,
        }


@dataclass(frozen=True)
class Retrained:
    """The experiment a retrain ran, and the gate's verdict on it."""

    experiment: str
    blessing: Blessing


@dataclass(frozen=True)
class Outcome:
    """What the run did about the decision, and which version is in production after it."""

    action: str
    production: str | None = None
    retrained: Retrained | None = None


@dataclass(frozen=True)
class CtDecision:
    """One run's record: the batch, the champion, the evidence, the decision and the outcome."""

    time: str
    """When the decision was made (ISO 8601, seconds, UTC)."""
    batch: BatchRef
    champion: str | None
    """The version in ``evaluate.champion_stage`` when the run started; None when there is none."""
    observation: Observation | None
    """None when there was no reference profile to compare the batch with."""
    decision: Decision
    outcome: Outcome
    dry_run: bool = False
    """A dry run records no ``production``: it acts on nothing."""

    @property
    def action(self) -> str:
        """What the run did (or, in a dry run, would do)."""
        return self.outcome.action

    def to_dict(self) -> dict[str, Any]:
        """The JSON record, with the keys (and their order) of ``ct/decisions.jsonl``."""
        record: dict[str, Any] = {
            "time": self.time,
            "batch": self.batch.to_dict(),
            "champion": self.champion,
        }
        if self.observation is None:
            record["drift"] = None
            record["performance"] = None
        else:
            summary = self.observation.signals.to_dict()
            record["performance"] = summary.pop("performance")
            record["drift"] = summary
            record["reports"] = self.observation.reports
        record["retrain"] = self.decision.retrain
        record["reasons"] = list(self.decision.reasons)
        retrained = self.outcome.retrained
        if retrained is not None:
            record["experiment"] = retrained.experiment
            record["blessing"] = retrained.blessing.to_dict()
        record["action"] = self.outcome.action
        if not self.dry_run:
            record["production"] = self.outcome.production
        return record
