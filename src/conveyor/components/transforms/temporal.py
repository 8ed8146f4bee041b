"""Time transforms: calendar parts of dates, and lags and rolling windows per time series.

``lag`` and ``rolling`` read a time column and group keys besides the columns they compute
on: ``required_columns()`` names them, so the training pipeline shows them to the transform
even when ``columns:`` does not, and the transform passes them through unchanged.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import Field, field_validator, model_validator

from conveyor.components.transforms._params import TransformParams
from conveyor.plugins.base import Transform

DatetimePart = Literal["year", "month", "day", "dayofweek", "dayofyear", "hour", "is_weekend"]


class DatetimePartsParams(TransformParams):
    """Which calendar parts to make, and whether to keep the datetime column."""

    parts: list[DatetimePart] = Field(
        default=["year", "month", "day", "dayofweek", "is_weekend"], min_length=1
    )
    """Add ``hour`` for timestamps and ``dayofyear`` for seasonality."""
    keep: bool = False
    """Keep the original column (e.g. as the ``time`` of a later ``lag``); models cannot take it."""


class DatetimeParts(Transform[DatetimePartsParams]):
    """``kind: datetime_parts`` — ``<column>_<part>`` float columns from dates."""

    Params = DatetimePartsParams
    trusted_types = frozenset({"conveyor.components.transformers.calendar.DatetimeParts"})

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """A ``DatetimeParts`` transformer."""
        from conveyor.components.transformers.calendar import DatetimeParts as Transformer

        return Transformer(parts=tuple(self.params.parts), keep=self.params.keep)


def _distinct_positive(numbers: list[int], what: str) -> list[int]:
    if any(n < 1 for n in numbers) or len(set(numbers)) != len(numbers):
        msg = f"{what}, got {numbers}"
        raise ValueError(msg)
    return numbers


class _SeriesParams(TransformParams):
    time: str = Field(min_length=1)
    """The column that orders each series: datetimes, ISO date strings or numbers."""
    group_by: list[str] = Field(default_factory=list)
    """Columns whose values identify one series (e.g. [store, item]); none: one series."""

    @model_validator(mode="after")
    def _keys_are_distinct(self) -> _SeriesParams:
        keys = [self.time, *self.group_by]
        if len(set(keys)) != len(keys):
            msg = f"time and group_by must name distinct columns, got {keys}"
            raise ValueError(msg)
        return self


class LagParams(_SeriesParams):
    """``lags``: how many rows back, within each group sorted by ``time``."""

    lags: list[int] = Field(min_length=1)

    @field_validator("lags")
    @classmethod
    def _lags_are_positive(cls, lags: list[int]) -> list[int]:
        return _distinct_positive(lags, "lags must be distinct positive integers (rows back)")


S = TypeVar("S", bound=_SeriesParams)


class _SeriesTransform(Transform[S]):
    def required_columns(self) -> list[str]:
        """The time column and the group keys."""
        return [self.params.time, *self.params.group_by]


class Lag(_SeriesTransform[LagParams]):
    """``kind: lag`` — ``<column>_lag<k>``: the value ``k`` rows earlier in the same series."""

    Params = LagParams
    trusted_types = frozenset({"conveyor.components.transformers.history.Lag"})

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """A ``Lag`` transformer."""
        from conveyor.components.transformers.history import Lag as Transformer

        params = self.params
        return Transformer(params.time, tuple(params.group_by), lags=tuple(params.lags))


class RollingParams(_SeriesParams):
    """Aggregates over the ``windows`` rows just before each row of its series."""

    windows: list[int] = Field(min_length=1)
    aggs: list[Literal["mean", "sum", "min", "max", "std"]] = Field(default=["mean"], min_length=1)
    min_periods: int = Field(default=1, ge=1)
    """Earlier values a window needs for a value (fewer: NaN)."""

    @field_validator("windows")
    @classmethod
    def _windows_are_positive(cls, windows: list[int]) -> list[int]:
        return _distinct_positive(windows, "windows must be distinct positive integers (rows)")

    @field_validator("aggs")
    @classmethod
    def _aggs_are_distinct(cls, aggs: list[str]) -> list[str]:
        if len(set(aggs)) != len(aggs):
            msg = f"aggs has duplicates: {aggs}"
            raise ValueError(msg)
        return aggs

    @model_validator(mode="after")
    def _min_periods_fit(self) -> RollingParams:
        if self.min_periods > min(self.windows):
            msg = f"min_periods ({self.min_periods}) exceeds the smallest window"
            raise ValueError(msg)
        return self


class Rolling(_SeriesTransform[RollingParams]):
    """``kind: rolling`` — ``<column>_roll<w>_<agg>`` over earlier rows only (no look-ahead)."""

    Params = RollingParams
    trusted_types = frozenset({"conveyor.components.transformers.history.Rolling"})

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """A ``Rolling`` transformer."""
        from conveyor.components.transformers.history import Rolling as Transformer

        params = self.params
        return Transformer(
            params.time,
            tuple(params.group_by),
            windows=tuple(params.windows),
            aggs=tuple(params.aggs),
            min_periods=params.min_periods,
        )
