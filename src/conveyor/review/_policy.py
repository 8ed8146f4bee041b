"""Which config keys are policy (who ships, when, on what evidence) rather than tuning.

A reviewer must see a lowered gate or a new deploy target even in a PR full of
hyperparameter changes, so ``conveyor diff`` lists these apart. This table is the whole rule:
a change is policy when its dotted path is a prefix below one of these (or above one, e.g. a
whole ``monitor`` section replaced). docs/review.md shows it to users.
"""

from __future__ import annotations

POLICY: tuple[tuple[str, str], ...] = (
    ("evaluate.gates", "gate threshold"),
    ("evaluate.champion_stage", "promotion rule"),
    ("deploy", "deploy target"),
    ("monitor.drift", "drift threshold"),
    ("monitor.quality", "monitoring threshold"),
    ("monitor.performance", "monitoring threshold"),
    ("monitor.retrain", "retrain policy"),
)
"""(dotted prefix, what kind of policy) in the order the report lists them."""


def policy_kind(path: str) -> str | None:
    """The kind of policy the config key ``path`` sets, or None for tuning and wiring."""
    for prefix, kind in POLICY:
        if path == prefix or path.startswith(f"{prefix}.") or prefix.startswith(f"{path}."):
            return kind
    return None
