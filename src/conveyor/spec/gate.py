"""``evaluate.gates`` — what a model must reach to be blessed, alone and against the champion."""

from __future__ import annotations

from pydantic import model_validator

from conveyor.spec._base import StrictModel


class MetricGateSpec(StrictModel):
    """Thresholds on one metric: ``{min: 0.95}``, ``{max: 0.3}``, ``{min_delta: -0.01}``.

    ``min``/``max`` bound the metric itself. ``min_delta`` compares with the champion (the
    version in the production stage of the registry): the change in the metric's better
    direction must be at least ``min_delta`` (a negative value tolerates a small regression),
    as an absolute difference or, with ``relative: true``, a fraction of the champion's value.
    With no champion, only ``min``/``max`` apply.
    """

    min: float | None = None
    max: float | None = None
    min_delta: float | None = None
    relative: bool = False

    @model_validator(mode="after")
    def _something_to_check(self) -> MetricGateSpec:
        if self.min is None and self.max is None and self.min_delta is None:
            msg = "give at least one of min, max or min_delta"
            raise ValueError(msg)
        if self.min is not None and self.max is not None and self.min > self.max:
            msg = f"min ({self.min:g}) is greater than max ({self.max:g})"
            raise ValueError(msg)
        if self.relative and self.min_delta is None:
            msg = "'relative' qualifies min_delta; add min_delta or drop relative"
            raise ValueError(msg)
        return self
