"""``features:`` — the transforms fitted on the training split, in order, before the model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from conveyor.spec._base import StrictModel
from conveyor.spec.component import ComponentSpec

ColumnSelector = Literal["all", "numeric", "categorical"] | list[str]


class TransformSpec(ComponentSpec):
    """One transform applied to the columns picked by ``columns``."""

    columns: ColumnSelector = "all"


class FeaturesSpec(StrictModel):
    """The ordered list of transforms; an empty list feeds the model the raw columns."""

    transforms: list[TransformSpec] = Field(default_factory=list)
