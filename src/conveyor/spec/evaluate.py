"""``evaluate:`` — the metrics computed on the test split."""

from __future__ import annotations

from pydantic import Field, model_validator

from conveyor.spec._base import StrictModel


class EvaluateSpec(StrictModel):
    """Metric names (``conveyor.metrics`` entry points); ``primary`` ranks models."""

    metrics: list[str] = Field(min_length=1)
    primary: str | None = None

    @model_validator(mode="after")
    def _primary_is_computed(self) -> EvaluateSpec:
        if self.primary is not None and self.primary not in self.metrics:
            msg = f"primary metric '{self.primary}' is not in metrics {self.metrics}; add it there"
            raise ValueError(msg)
        if len(set(self.metrics)) != len(self.metrics):
            msg = "metrics lists a name twice; list each metric once"
            raise ValueError(msg)
        return self

    @property
    def primary_metric(self) -> str:
        """``primary``, defaulting to the first metric listed."""
        return self.primary or self.metrics[0]
