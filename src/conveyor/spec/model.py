"""``model:`` — a registered model by ``kind:``, or any scikit-learn estimator by ``_target_:``."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from conveyor.spec._base import StrictModel

TARGET_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"


class ModelSpec(StrictModel):
    """Exactly one of ``kind`` (a ``conveyor.models`` name) or ``_target_`` (``pkg.Class``)."""

    kind: str | None = Field(default=None, min_length=1)
    # Hydra's spelling, so users can paste instantiate-style configs.
    target: str | None = Field(default=None, alias="_target_", pattern=TARGET_PATTERN)
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _exactly_one_source(self) -> ModelSpec:
        if (self.kind is None) == (self.target is None):
            msg = (
                "give exactly one of 'kind' (a registered model, e.g. kind: xgboost) "
                "or '_target_' (an estimator class, e.g. _target_: sklearn.svm.SVC)"
            )
            raise ValueError(msg)
        return self

    @property
    def label(self) -> str:
        """The registered kind, or the ``_target_`` path."""
        return self.kind or str(self.target)
