"""The stage table: order here is pipeline order. A new stage is one module plus one line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.runtime.stages import (
    card,
    combine,
    deploy,
    evaluate,
    gate,
    ingest,
    monitor,
    profile,
    split,
    train,
    validate,
)

if TYPE_CHECKING:
    from conveyor.plugins import Plugins
    from conveyor.runtime.plan import StageDef, StagePlan
    from conveyor.spec import ProjectSpec

STAGES = {
    stage.name: stage
    for stage in (
        ingest.STAGE,
        combine.STAGE,
        validate.STAGE,
        split.STAGE,
        train.STAGE,
        evaluate.STAGE,
        gate.STAGE,
        card.STAGE,
        profile.STAGE,
        monitor.STAGE,
        deploy.STAGE,
    )
}

__all__ = ["STAGES", "plan_stages"]


def plan_stages(spec: ProjectSpec, plugins: Plugins) -> list[tuple[StageDef, StagePlan]]:
    """Every stage of the project, in pipeline order, with the kind that runs it."""
    return [(d, plan) for d in STAGES.values() for plan in d.plan(spec, plugins)]
