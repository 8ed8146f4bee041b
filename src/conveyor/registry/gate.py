"""Blessing: check a model's metrics against ``evaluate.gates``, alone and against the champion.

Pure: metrics, gates and the champion's metrics in, a :class:`Blessing` out. The ``gate`` stage
writes it to ``reports/blessing.json``; promotion reads it back from the version's commit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conveyor.spec import MetricGateSpec

CheckKind = Literal["min", "max", "min_delta"]


RECORDED = "recorded"
"""``metrics_source`` when the champion's committed metrics are used as they are."""


@dataclass(frozen=True)
class Champion:
    """The version a challenger is compared with.

    ``metrics`` are what ``min_delta`` compares against: the champion re-scored on the
    challenger's test split when its bundle could be loaded (``metrics_source`` says on which
    file), else its committed metrics (``metrics_source`` is ``"recorded"``), which were
    measured on the test split of its own commit and so may not be comparable.
    """

    name: str
    version: str
    stage: str
    commit: str
    metrics: dict[str, Any]
    metrics_source: str = RECORDED
    recorded_metrics: dict[str, Any] | None = None
    """The committed metrics, kept for the record when ``metrics`` were re-scored."""
    note: str | None = None
    """Why the champion was not re-scored, when it could not be."""


@dataclass(frozen=True)
class Check:
    """One threshold on one metric, with what was required and what was observed."""

    metric: str
    kind: CheckKind
    required: float
    observed: float | None
    passed: bool
    champion_value: float | None = None
    relative: bool = False

    def describe(self) -> str:
        """``roc_auc >= 0.95 (observed 0.93)``: one line of a refusal."""
        seen = "missing" if self.observed is None else f"{self.observed:.6g}"
        # the champion may lack the metric too (then the check fails on a missing observation)
        was = "missing" if self.champion_value is None else f"{self.champion_value:.6g}"
        if self.kind == "min":
            return f"{self.metric} >= {self.required:g} (observed {seen})"
        if self.kind == "max":
            return f"{self.metric} <= {self.required:g} (observed {seen})"
        if self.relative:
            change = "missing" if self.observed is None else f"{self.observed:+.1%}"
            return (
                f"{self.metric} change vs champion >= {self.required:+.1%} of the champion's "
                f"value (observed {change}, champion {was})"
            )
        return (
            f"{self.metric} change vs champion >= {self.required:+g} (observed "
            f"{'missing' if self.observed is None else f'{self.observed:+.6g}'}, "
            f"champion {was})"
        )


@dataclass(frozen=True)
class Blessing:
    """Whether the model passed every check, and the checks themselves."""

    model: str
    metrics: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    champion: Champion | None = None

    @property
    def blessed(self) -> bool:
        """True when every check passed (and so when there are none)."""
        return all(check.passed for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        """The checks that did not pass."""
        return [check for check in self.checks if not check.passed]

    def to_dict(self) -> dict[str, Any]:
        """The ``reports/blessing.json`` document."""
        champion: dict[str, Any] | None = None
        if self.champion is not None:
            champion = {
                "name": self.champion.name,
                "version": self.champion.version,
                "stage": self.champion.stage,
                "commit": self.champion.commit,
                "metrics": _finite(self.champion.metrics),
                "metrics_source": self.champion.metrics_source,
            }
            if self.champion.recorded_metrics is not None:
                champion["recorded_metrics"] = _finite(self.champion.recorded_metrics)
            if self.champion.note:
                champion["note"] = self.champion.note
        return {
            "blessed": self.blessed,
            "model": self.model,
            "checks": [
                {
                    "metric": c.metric,
                    "kind": c.kind,
                    "required": c.required,
                    "observed": c.observed,
                    "passed": c.passed,
                    **(
                        {"champion": c.champion_value, "relative": c.relative}
                        if c.kind == "min_delta"
                        else {}
                    ),
                }
                for c in self.checks
            ],
            "champion": champion,
            "metrics": _finite(self.metrics),
        }


def bless(
    model: str,
    metrics: Mapping[str, Any],
    gates: Mapping[str, MetricGateSpec],
    higher_is_better: Mapping[str, bool],
    champion: Champion | None = None,
) -> Blessing:
    """Check ``metrics`` against ``gates``; ``min_delta`` only when there is a champion."""
    checks: list[Check] = []
    for metric, gate in gates.items():
        observed = _number(metrics.get(metric))
        if gate.min is not None:
            ok = observed is not None and observed >= gate.min
            checks.append(Check(metric, "min", gate.min, observed, ok))
        if gate.max is not None:
            ok = observed is not None and observed <= gate.max
            checks.append(Check(metric, "max", gate.max, observed, ok))
        if gate.required_change is not None and champion is not None:
            checks.append(_change(metric, gate, observed, champion, higher_is_better[metric]))
    return Blessing(model, dict(metrics), checks, champion)


def _change(
    metric: str,
    gate: MetricGateSpec,
    observed: float | None,
    champion: Champion,
    higher_is_better: bool,
) -> Check:
    """The improvement over the champion, signed so that positive is better."""
    required = gate.required_change
    assert required is not None  # noqa: S101 - the caller checked
    before = _number(champion.metrics.get(metric))
    if observed is None or before is None:  # the champion never computed it: nothing to beat
        passed = before is None and observed is not None
        return Check(metric, "min_delta", required, None, passed, before, gate.relative)
    delta = observed - before if higher_is_better else before - observed
    if gate.relative:
        delta = delta / abs(before) if before else math.inf if delta > 0 else 0.0
    return Check(metric, "min_delta", required, delta, delta >= required, before, gate.relative)


def _number(value: Any) -> float | None:  # noqa: ANN401 - whatever metrics.json holds
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _finite(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level numeric metrics only (slices and NaN left out), as JSON can hold them."""
    return {k: v for k, v in metrics.items() if _number(v) is not None}


def require_blessed(document: Mapping[str, Any], *, where: str) -> None:
    """Raise unless the ``reports/blessing.json`` ``document`` says blessed; for shipping stages.

    The error lists every failed check, so a refused deployment says what to improve.
    """
    from conveyor.errors import StageError
    from conveyor.registry.lineage import failed_checks

    if document.get("blessed") is True:
        return
    failed = failed_checks(dict(document))
    raise StageError(
        f"the model is not blessed; failed checks: {'; '.join(failed) or 'none recorded'}",
        where=where,
        fix="train a model that passes evaluate.gates (see reports/blessing.json), or promote "
        "an earlier blessed version",
    )
