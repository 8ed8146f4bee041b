"""``evaluate.gates`` — what a model must reach to be blessed, alone and against the champion."""

from __future__ import annotations

from pydantic import Field, model_validator

from conveyor.spec._base import StrictModel

CHANGE_KEYS = ("min_delta", "max_decrease", "max_increase")
"""The keys that compare with the champion; a gate takes at most one."""


class MetricGateSpec(StrictModel):
    """Thresholds on one metric: ``{min: 0.95}``, ``{max: 0.3}``, ``{max_increase: 2}``.

    ``min``/``max`` bound the metric itself. The others compare with the champion (the version
    in the production stage of the registry), as an absolute difference or, with
    ``relative: true``, a fraction of the champion's value:

    - ``max_decrease`` (a higher-is-better metric such as roc_auc, r2) and ``max_increase``
      (a lower-is-better one such as rmse, log_loss): how much worse than the champion the
      model may be. ``conveyor compile`` refuses the one that points the metric's better way.
    - ``min_delta``: the change in the metric's better direction must be at least this (a
      negative value tolerates a small regression, a positive one demands an improvement).
      ``rmse: {max_increase: 2}`` is ``rmse: {min_delta: -2}``.

    With no champion, only ``min``/``max`` apply.
    """

    min: float | None = None
    max: float | None = None
    min_delta: float | None = None
    max_decrease: float | None = Field(default=None, ge=0)
    max_increase: float | None = Field(default=None, ge=0)
    relative: bool = False

    @property
    def change_key(self) -> str | None:
        """The key that compares with the champion, if any."""
        return next((key for key in CHANGE_KEYS if getattr(self, key) is not None), None)

    @property
    def required_change(self) -> float | None:
        """The least change in the better direction: ``min_delta``, or minus the tolerance."""
        if self.min_delta is not None:
            return self.min_delta
        tolerated = self.max_decrease if self.max_decrease is not None else self.max_increase
        return None if tolerated is None else -tolerated

    @model_validator(mode="after")
    def _something_to_check(self) -> MetricGateSpec:
        given = [key for key in CHANGE_KEYS if getattr(self, key) is not None]
        if self.min is None and self.max is None and not given:
            msg = "give at least one of min, max, max_decrease, max_increase or min_delta"
            raise ValueError(msg)
        if len(given) > 1:
            msg = (
                f"{' and '.join(given)} both compare with the champion; keep one "
                "(max_decrease or max_increase: how much worse the model may be)"
            )
            raise ValueError(msg)
        if self.min is not None and self.max is not None and self.min > self.max:
            msg = f"min ({self.min:g}) is greater than max ({self.max:g})"
            raise ValueError(msg)
        if self.relative and not given:
            msg = (
                "'relative' qualifies max_decrease, max_increase or min_delta; add one or drop "
                "relative"
            )
            raise ValueError(msg)
        return self
