"""``DatetimeParts``: calendar features from datetime columns or ISO date strings."""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
from pandas.api.types import is_datetime64_any_dtype, is_numeric_dtype

from conveyor.components.transformers.base import FrameTransformer

PARTS = ("year", "month", "day", "dayofweek", "dayofyear", "hour", "is_weekend")
DEFAULT_PARTS = ("year", "month", "day", "dayofweek", "is_weekend")
_ACCESSORS = {"dayofweek": "day_of_week", "dayofyear": "day_of_year"}  # pandas 3 names


class DatetimeParts(FrameTransformer):
    """One float column per (input column, part), named ``<column>_<part>``.

    ``dayofweek`` counts from Monday = 0; ``is_weekend`` is 1.0 on Saturday and Sunday. A
    missing date gives NaN parts. Time-zone-aware values give their local calendar parts. With
    ``keep=False`` the datetime columns are dropped, since models cannot take them.
    """

    kind: ClassVar[str] = "datetime_parts"

    def __init__(self, parts: tuple[str, ...] = DEFAULT_PARTS, keep: bool = False) -> None:
        self.parts = parts
        self.keep = keep

    def _fit(self, frame: pd.DataFrame, y: Any) -> list[str]:  # noqa: ANN401
        unknown = sorted(set(self.parts) - set(PARTS))
        if unknown:
            raise self.error(f"unknown parts {unknown}", fix=f"choose from {list(PARTS)}")
        for column in frame.columns:
            self._datetimes(frame[column])  # refuses columns that are not dates
        names = [f"{column}_{part}" for column in frame.columns for part in self.parts]
        return [*map(str, frame.columns), *names] if self.keep else names

    def _output(self, frame: pd.DataFrame) -> pd.DataFrame:
        parts = {
            f"{column}_{part}": _part(self._datetimes(frame[column]), part)
            for column in frame.columns
            for part in self.parts
        }
        derived = pd.DataFrame(parts, index=frame.index, dtype="float64")
        return pd.concat([frame, derived], axis=1) if self.keep else derived

    def _datetimes(self, column: pd.Series) -> pd.Series:
        if is_datetime64_any_dtype(column):
            return column
        if is_numeric_dtype(column):
            raise self.error(
                f"column '{column.name}' is {column.dtype}, not a datetime",
                fix="select datetime or ISO date-string columns in 'columns:' (numbers are "
                "ambiguous: days, seconds or a year?)",
            )
        try:
            return pd.to_datetime(column, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise self.error(
                f"column '{column.name}' has values that are not ISO dates: {exc}",
                fix="store dates as ISO strings ('2024-05-31', '2024-05-31T12:00:00') or "
                "datetimes, or leave this column out of 'columns:'",
            ) from exc


def _part(dates: pd.Series, part: str) -> pd.Series:
    if part == "is_weekend":
        dayofweek = dates.dt.day_of_week.astype("float64")
        weekend: pd.Series = (dayofweek >= 5).astype("float64")  # 5 = Saturday
        return weekend.where(dayofweek.notna())
    values: pd.Series = getattr(dates.dt, _ACCESSORS.get(part, part))
    return values.astype("float64")
