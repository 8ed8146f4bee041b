"""``conveyor run <stage>``: each DVC stage's work, reading only its declared params."""

from __future__ import annotations

from conveyor.runtime.plan import StageContext, StageDef, StagePlan
from conveyor.runtime.run import plan_stages, run_stage
from conveyor.runtime.stages import STAGES

__all__ = ["STAGES", "StageContext", "StageDef", "StagePlan", "plan_stages", "run_stage"]
