"""``data:`` — where the rows come from, which column is the target, and how to split them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from conveyor.spec._base import NAME_PATTERN, StrictModel
from conveyor.spec.component import ComponentSpec

SourceName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]


class SplitSpec(StrictModel):
    """How raw rows become train / (valid) / test splits."""

    strategy: Literal["random", "stratified"] = "stratified"
    test_size: float = Field(default=0.2, gt=0.0, lt=1.0)
    valid_size: float = Field(default=0.0, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _sizes_leave_training_rows(self) -> SplitSpec:
        if self.test_size + self.valid_size >= 1.0:
            msg = (
                f"test_size + valid_size is {self.test_size + self.valid_size:g}, "
                "which leaves no rows for training; keep the sum below 1"
            )
            raise ValueError(msg)
        return self


class DataSpec(StrictModel):
    """Sources by name, the target column, and the split."""

    sources: dict[SourceName, ComponentSpec] = Field(min_length=1)
    target: str = Field(min_length=1)
    split: SplitSpec = Field(default_factory=SplitSpec)
