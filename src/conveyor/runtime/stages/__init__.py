"""The stage table: order here is pipeline order. A new stage is one module plus one line."""

from __future__ import annotations

from conveyor.runtime.stages import (
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
        profile.STAGE,
        monitor.STAGE,
        deploy.STAGE,
    )
}

__all__ = ["STAGES"]
