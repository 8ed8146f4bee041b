"""``gate``: bless the model or not, from ``evaluate.gates`` and the registry's champion.

Present only when ``evaluate.gates`` is set. An unblessed model does not fail the run (a sweep
of worse models must still finish and be compared); it is recorded in ``reports/blessing.json``
with every failed check, and promotion and packaging refuse it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from conveyor import _atomic
from conveyor.errors import StageError
from conveyor.registry.gate import Blessing, Champion, bless
from conveyor.runtime import layout
from conveyor.runtime.plan import StageContext, StageDef, StagePlan
from conveyor.spec import MetricGateSpec

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.plugins import Plugins
    from conveyor.plugins.base import Metric
    from conveyor.spec import ProjectSpec

READS = ("evaluate.champion_stage", "evaluate.gates", "project.name")


def plan(spec: ProjectSpec, plugins: Plugins) -> tuple[StagePlan, ...]:
    """Reads the metrics, writes the blessing; none without gates."""
    del plugins
    if not spec.evaluate.gates:
        return ()
    return (
        StagePlan(
            name="gate",
            desc=f"Bless the model or not (evaluate.gates, champion: registry stage "
            f"'{spec.evaluate.champion_stage}') into {layout.BLESSING_FILE}",
            reads=READS,
            deps=(layout.METRICS_FILE,),
            reports=(layout.BLESSING_FILE,),
            components=tuple(("metric", name) for name in spec.evaluate.gates),
        ),
    )


def run(ctx: StageContext) -> None:
    """Check the metrics, compare with the champion, write the blessing."""
    gates = ctx.params.parse("evaluate.gates", dict[str, MetricGateSpec])
    stage = ctx.params.parse("evaluate.champion_stage", str, "prod")
    name = ctx.params.parse("project.name", str)
    (metrics_file,) = ctx.plan.deps
    try:
        metrics = json.loads((ctx.root / metrics_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StageError(
            f"cannot read {metrics_file}: {exc}",
            where="stage 'gate'",
            fix="run the evaluate stage first: 'dvc repro' runs them in order",
        ) from exc
    registry = ctx.plugins["metric"]
    higher = {
        metric: cast(
            "type[Metric]", registry.load(metric, where=f"evaluate.gates.{metric}")
        ).higher_is_better
        for metric in gates
    }
    blessing = bless(name, metrics, gates, higher, _champion(ctx.root, name, stage))
    (blessing_file,) = ctx.plan.reports
    text = json.dumps(blessing.to_dict(), indent=2, allow_nan=False) + "\n"
    _atomic.write_text(ctx.root / blessing_file, text)
    print(_summary(blessing, stage))  # noqa: T201


def _champion(root: Path, name: str, stage: str) -> Champion | None:
    """The version in ``stage`` with its committed metrics; None outside git or unassigned."""
    from conveyor.registry import champion

    found: Any = champion(root, name, stage=stage)
    if found is None:
        return None
    return Champion(name, found.version, stage, found.commit, dict(found.metrics))


def _summary(blessing: Blessing, stage: str) -> str:
    against = (
        f"against {blessing.champion.name}@{blessing.champion.version} ({stage})"
        if blessing.champion is not None
        else f"no champion in '{stage}': absolute thresholds only"
    )
    if blessing.blessed:
        return f"gate: BLESSED, {len(blessing.checks)} checks passed, {against}"
    lines = [
        f"gate: NOT BLESSED, {len(blessing.failed)} of {len(blessing.checks)} checks failed, "
        f"{against}:"
    ]
    lines += [f"  - {check.describe()}" for check in blessing.failed]
    lines.append("  promotion and packaging will refuse this model")
    return "\n".join(lines)


STAGE = StageDef("gate", plan, run)
