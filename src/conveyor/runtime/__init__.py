"""``conveyor run <stage>``: each DVC stage's work, reading only its declared params.

Names load lazily: the compiler needs the stage plans (:mod:`.stages`), not the runner
(:mod:`.run`, with its params view and repository lock).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor._lazy import lazy_getattr

if TYPE_CHECKING:
    from conveyor.runtime.plan import StageContext, StageDef, StagePlan
    from conveyor.runtime.run import run_stage
    from conveyor.runtime.stages import STAGES, plan_stages

__all__ = ["STAGES", "StageContext", "StageDef", "StagePlan", "plan_stages", "run_stage"]

__getattr__ = lazy_getattr(
    __name__,
    {
        "STAGES": "stages",
        "StageContext": "plan",
        "StageDef": "plan",
        "StagePlan": "plan",
        "plan_stages": "stages",
        "run_stage": "run",
    },
)
