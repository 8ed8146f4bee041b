"""``evaluate:`` — the metrics computed on the test split."""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from conveyor.spec._base import StrictModel


class EvaluateSpec(StrictModel):
    """Metric names (``conveyor.metrics`` entry points); ``primary`` ranks models."""

    metrics: list[str] = Field(min_length=1)
    primary: str | None = None

    @field_validator("metrics")
    @classmethod
    def _each_metric_once(cls, metrics: list[str]) -> list[str]:
        if twice := sorted({m for m in metrics if metrics.count(m) > 1}):
            msg = f"metrics lists {', '.join(map(repr, twice))} more than once; list each once"
            raise ValueError(msg)
        return metrics

    @field_validator("primary")
    @classmethod
    def _primary_is_computed(cls, primary: str | None, info: ValidationInfo) -> str | None:
        metrics = info.data.get("metrics")
        if primary is not None and metrics is not None and primary not in metrics:
            msg = (
                f"primary metric '{primary}' is not computed; "
                f"add it to metrics or choose one of: {', '.join(metrics)}"
            )
            raise ValueError(msg)
        return primary

    @property
    def primary_metric(self) -> str:
        """``primary``, defaulting to the first metric listed."""
        return self.primary or self.metrics[0]
