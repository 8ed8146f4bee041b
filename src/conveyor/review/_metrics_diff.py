"""Metric deltas (as ``dvc metrics diff`` shows them) and the gate result of each side."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.review._side import Side


@dataclass(frozen=True)
class MetricDelta:
    """One numeric value of a metrics file on both sides (None where a side lacks it)."""

    path: str
    metric: str
    base: float | None
    head: float | None

    @property
    def change(self) -> float | None:
        """``head - base``, when both sides have the value."""
        if self.base is None or self.head is None:
            return None
        return self.head - self.base

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "path": self.path,
            "metric": self.metric,
            "base": self.base,
            "head": self.head,
            "change": self.change,
        }


@dataclass(frozen=True)
class GateResult:
    """What ``reports/blessing.json`` says on one side."""

    blessed: bool
    checks: int
    failed: tuple[str, ...]
    """Each failed check described as the gate stage prints it: ``roc_auc >= 0.99 (...)``."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"blessed": self.blessed, "checks": self.checks, "failed": list(self.failed)}


def metric_deltas(
    paths: list[str],
    base: dict[str, bytes | None],
    head: dict[str, bytes | None],
    base_side: Side,
    head_side: Side,
) -> tuple[list[MetricDelta], list[str]]:
    """Every numeric leaf of each metrics file on both sides; notes for what is missing."""
    deltas: list[MetricDelta] = []
    notes: list[str] = []
    for path in paths:
        if base.get(path) is None and head.get(path) is None:
            notes.append(f"{path}: on neither side yet; run 'dvc repro' (and commit) to compare")
            continue
        old = _numbers(base.get(path), path, base_side, notes)
        new = _numbers(head.get(path), path, head_side, notes)
        if old is None or new is None:
            continue
        deltas += [
            MetricDelta(path, key, old.get(key), new.get(key))
            for key in [*new, *(k for k in old if k not in new)]
        ]
    return deltas, notes


def _numbers(
    blob: bytes | None, path: str, side: Side, notes: list[str]
) -> dict[str, float] | None:
    if blob is None:
        notes.append(f"{path}: missing at {side.label} ({side.describe()}), so no deltas")
        return None
    try:
        document = json.loads(blob)
    except ValueError:
        notes.append(f"{path}: not valid JSON at {side.label} ({side.describe()})")
        return None
    return _flatten(document, "")


def _flatten(node: Any, prefix: str) -> dict[str, float]:  # noqa: ANN401 - parsed JSON
    if isinstance(node, dict):
        found: dict[str, float] = {}
        for key, value in node.items():
            found.update(_flatten(value, f"{prefix}{key}."))
        return found
    if isinstance(node, int | float) and not isinstance(node, bool) and math.isfinite(node):
        return {prefix.rstrip("."): float(node)}
    return {}


def gate_result(blob: bytes | None) -> GateResult | None:
    """The blessing of one side, or None when it has no (readable) ``reports/blessing.json``."""
    from conveyor.registry.gate import Check

    if blob is None:
        return None
    try:
        document = json.loads(blob)
        checks = [
            Check(
                metric=c["metric"],
                kind=c["kind"],
                required=c["required"],
                observed=c.get("observed"),
                passed=bool(c["passed"]),
                champion_value=c.get("champion"),
                relative=bool(c.get("relative", False)),
            )
            for c in document.get("checks", [])
        ]
        return GateResult(
            blessed=bool(document["blessed"]),
            checks=len(checks),
            failed=tuple(c.describe() for c in checks if not c.passed),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # an older or foreign format: say nothing rather than something wrong
