"""``data.schema`` — what the combined rows must look like before anything trains on them.

Every check has a ``severity``: ``error`` fails the ``validate`` stage (no model is trained on
bad data); ``warning`` is reported in ``reports/validation.json`` and lets the run go on.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from conveyor.spec._base import StrictModel

DType = Literal["int", "float", "number", "str", "bool", "datetime", "category"]
Severity = Literal["error", "warning"]
Scalar = str | int | float | bool


class ColumnSchema(StrictModel):
    """Checks for one column; a column listed here must exist."""

    dtype: DType | None = None
    """The kind of value, not its storage: ``str`` takes object/str/string columns, ``int`` takes
    nullable ``Int64``, ``number`` is int or float, ``category`` also takes text. A float column
    of whole numbers is still ``float``."""
    nullable: bool = True
    max_null_fraction: float | None = Field(default=None, ge=0.0, le=1.0)
    min: float | None = None
    max: float | None = None
    allowed: list[Scalar] | None = Field(default=None, min_length=1)
    unique: bool = False
    """No value occurs twice (nulls aside: ``nullable`` rules those)."""
    regex: str | None = None
    """Every non-null value must match in full (``re.fullmatch``); numbers are matched as text."""
    severity: Severity = "error"

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                msg = f"'{value}' is not a valid regular expression: {exc}"
                raise ValueError(msg) from exc
        return value

    @model_validator(mode="after")
    def _bounds_ordered(self) -> ColumnSchema:
        if self.min is not None and self.max is not None and self.min > self.max:
            msg = f"min ({self.min:g}) is greater than max ({self.max:g})"
            raise ValueError(msg)
        bounded = self.min is not None or self.max is not None
        if bounded and self.dtype not in (None, "int", "float", "number"):
            msg = f"min/max bound numbers, and dtype '{self.dtype}' is not numeric"
            raise ValueError(msg)
        if not self.nullable and self.max_null_fraction not in (None, 0.0):
            msg = "nullable: false allows no nulls; drop max_null_fraction or set nullable: true"
            raise ValueError(msg)
        return self


class RowsSchema(StrictModel):
    """Bounds on the number of rows."""

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=1)
    severity: Severity = "error"

    @model_validator(mode="after")
    def _bounds_ordered(self) -> RowsSchema:
        if self.min is not None and self.max is not None and self.min > self.max:
            msg = f"min ({self.min}) is greater than max ({self.max})"
            raise ValueError(msg)
        return self


class TimeSchema(StrictModel):
    """Checks on the time column: order and freshness."""

    column: Annotated[str, StringConstraints(min_length=1)]
    monotonic: Literal["increasing", "strictly_increasing"] | None = None
    """Rows must be in time order (``increasing`` allows equal neighbours); rows without a time
    are skipped. Text dates are parsed."""
    max_age_days: float | None = Field(default=None, gt=0)
    """The newest row must be at most this old when the stage runs (times without a zone are
    taken as UTC)."""
    severity: Severity = "error"


class SchemaSpec(StrictModel):
    """Per-column checks, row-count bounds, time checks, and what to do with unlisted columns."""

    columns: dict[Annotated[str, StringConstraints(min_length=1)], ColumnSchema] = Field(
        default_factory=dict
    )
    extra_columns: Literal["allow", "warn", "error"] = "warn"
    """A column the schema does not list (a renamed or new column) is allowed, a warning, or an
    error. Checked only when ``columns`` lists any; the time column counts as listed."""
    rows: RowsSchema | None = None
    time: TimeSchema | None = None
