"""``Lag`` and ``Rolling``: features from earlier rows of each group's time series.

Rows are ordered by ``time`` within each ``group_by`` key (a stable sort, so rows with equal
times keep their input order). Row ``t`` only ever sees rows before it, never itself or later
rows. Fitting stores the last rows of every group, so that the first rows of a later split
(test, serving) get real history instead of NaN:

- a row of a known group whose time is after the group's last training time is computed on
  ``stored history + such rows``;
- every other row (the training rows themselves, unknown groups) is computed on the rows of
  the frame being transformed alone, so ``transform(train)`` equals ``fit_transform(train)``,
  and a group never seen in training starts with NaN.

Outputs are the input columns unchanged (the time and group keys included) followed by
float64 features. Fitted state is numpy arrays and plain tuples, which skops saves safely.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from conveyor.components.transformers.base import FrameTransformer, quoted

AGGREGATES = ("mean", "sum", "min", "max", "std")


class _History(FrameTransformer):
    """Shared bookkeeping: keys, the time order, and the stored tail of every group."""

    def __init__(self, time: str, group_by: tuple[str, ...] = ()) -> None:
        self.time = time
        self.group_by = group_by

    @abstractmethod
    def _depth(self) -> int:
        """How many earlier rows one row's features read."""

    @abstractmethod
    def _feature_names(self) -> list[str]:
        """Names of the features, in the column order of ``_features``."""

    @abstractmethod
    def _features(self, groups: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Features of rows already sorted by (group, time): one row per input row."""

    def _fit(self, frame: pd.DataFrame, y: Any) -> list[str]:  # noqa: ANN401
        keys = [self.time, *self.group_by]
        self.value_columns_ = [str(c) for c in frame.columns if c not in keys]
        if not self.value_columns_:
            raise self.error(
                "there are no columns to use besides the time and group keys",
                fix=f"name the numeric columns to {self.kind} in 'columns:', e.g. [sales]",
            )
        self._check_values(frame)
        column = frame[self.time]
        self.time_is_datetime_ = not is_numeric_dtype(column) or is_bool_dtype(column)
        times = self._times(frame)
        group_keys = self._group_keys(frame)
        index: dict[tuple[Any, ...], int] = {}
        groups = np.array([index.setdefault(key, len(index)) for key in group_keys], dtype=int)
        order = np.lexsort((times, groups))
        stored = order[_last_rows(groups[order], self._depth())]
        self.history_keys_ = list(index)
        self.history_group_ = groups[stored]
        self.history_time_ = times[stored]
        self.history_values_ = frame[self.value_columns_].to_numpy("float64")[stored]
        self.last_time_ = pd.Series(times).groupby(groups).max().to_numpy()  # by group code
        return [*map(str, frame.columns), *self._feature_names()]

    def _output(self, frame: pd.DataFrame) -> pd.DataFrame:
        self._check_values(frame)
        times = self._times(frame)
        values = frame[self.value_columns_].to_numpy("float64")
        known = {key: code for code, key in enumerate(self.history_keys_)}
        group_keys = self._group_keys(frame)
        codes = np.array([known.get(key, -1) for key in group_keys], dtype=int)
        later = codes >= 0
        later[later] = times[later] > self.last_time_[codes[later]]
        features = np.full((len(frame), len(self._feature_names())), np.nan)
        if (~later).any():  # rows with their history in this frame: the frame alone
            index: dict[tuple[Any, ...], int] = {}
            own = np.array(
                [
                    index.setdefault(key, len(index))
                    for key, at in zip(group_keys, later, strict=True)
                    if not at
                ],
                dtype=int,
            )
            features[~later] = self._sorted_features(own, times[~later], values[~later])
        if later.any():  # rows after their group's training tail: stored history first
            tail = np.isin(self.history_group_, codes[later])  # only the groups at hand
            combined = self._sorted_features(
                np.concatenate([self.history_group_[tail], codes[later]]),
                np.concatenate([self.history_time_[tail], times[later]]),
                np.concatenate([self.history_values_[tail], values[later]]),
            )
            features[later] = combined[tail.sum() :]
        derived = pd.DataFrame(features, columns=self._feature_names(), index=frame.index)
        return pd.concat([frame, derived], axis=1)

    def _sorted_features(
        self, groups: np.ndarray, times: np.ndarray, values: np.ndarray
    ) -> np.ndarray:
        order = np.lexsort((times, groups))  # stable: equal times keep their input order
        features = np.empty((len(groups), len(self._feature_names())))
        features[order] = self._features(groups[order], values[order])
        return features

    def _check_values(self, frame: pd.DataFrame) -> None:
        for key in (self.time, *self.group_by):
            if key not in frame.columns:
                raise self.error(
                    f"column '{key}' (a time or group key) is not in the input",
                    fix="name an input column in params.time / params.group_by",
                )
        wrong = [
            c
            for c in self.value_columns_
            if not is_numeric_dtype(frame[c]) or is_bool_dtype(frame[c])
        ]
        if wrong:
            raise self.error(
                f"columns {quoted(wrong)} are not numeric",
                fix=f"select numeric columns to {self.kind} in 'columns:', e.g. columns: [sales]",
            )
        missing = [k for k in self.group_by if frame[k].isna().any()]
        if missing:
            raise self.error(
                f"group columns {quoted(missing)} have missing values",
                fix="fill them first (kind: impute with strategy: constant) or drop those rows",
            )

    def _times(self, frame: pd.DataFrame) -> np.ndarray:
        """The time column as numbers that sort like the times (datetimes: int64 nanoseconds)."""
        column = frame[self.time]
        if self.time_is_datetime_:
            dates = self._datetimes(column)
            missing = dates.isna().to_numpy()
            times = dates.astype("datetime64[ns]").to_numpy().view("int64")
        elif is_numeric_dtype(column) and not is_bool_dtype(column):
            times = column.to_numpy("float64")
            missing = np.isnan(times)
        else:
            raise self.error(
                f"time column '{self.time}' is {column.dtype}; in training it was numeric",
                fix="pass the time column with the type it had in training",
            )
        if missing.any():
            raise self.error(
                f"time column '{self.time}' has missing values",
                fix="drop or fill the rows without a time before this transform",
            )
        return times

    def _datetimes(self, column: pd.Series) -> pd.Series:
        if is_datetime64_any_dtype(column):
            dates = column
        elif is_numeric_dtype(column):
            raise self.error(
                f"time column '{self.time}' is {column.dtype}; in training it held dates",
                fix="pass the time column with the type it had in training",
            )
        else:
            try:
                dates = pd.to_datetime(column, format="ISO8601")
            except (ValueError, TypeError) as exc:
                raise self.error(
                    f"time column '{self.time}' is neither numeric nor ISO dates: {exc}",
                    fix="use a datetime, ISO date-string or numeric time column",
                ) from exc
        if getattr(dates.dt, "tz", None) is not None:  # compare instants, whatever the zone
            dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
        return dates

    def _group_keys(self, frame: pd.DataFrame) -> list[tuple[Any, ...]]:
        if not self.group_by:
            return [()] * len(frame)
        return list(zip(*(frame[k].astype(object).tolist() for k in self.group_by), strict=True))


class Lag(_History):
    """``<column>_lag<k>``: the value ``k`` rows earlier in the same group."""

    kind: ClassVar[str] = "lag"

    def __init__(
        self, time: str, group_by: tuple[str, ...] = (), lags: tuple[int, ...] = (1,)
    ) -> None:
        super().__init__(time, group_by)
        self.lags = lags

    def _depth(self) -> int:
        return max(self.lags)

    def _feature_names(self) -> list[str]:
        return [f"{c}_lag{k}" for c in self.value_columns_ for k in self.lags]

    def _features(self, groups: np.ndarray, values: np.ndarray) -> np.ndarray:
        shifted = [
            _shift(groups, values[:, j], k) for j in range(values.shape[1]) for k in self.lags
        ]
        return np.column_stack(shifted)


class Rolling(_History):
    """``<column>_roll<w>_<agg>``: an aggregate of the ``w`` rows before, within the group.

    The current row is never in its own window (``closed="left"``); windows with fewer than
    ``min_periods`` earlier values give NaN; ``std`` is the sample standard deviation.
    """

    kind: ClassVar[str] = "rolling"

    def __init__(
        self,
        time: str,
        group_by: tuple[str, ...] = (),
        windows: tuple[int, ...] = (3,),
        aggs: tuple[str, ...] = ("mean",),
        min_periods: int = 1,
    ) -> None:
        super().__init__(time, group_by)
        self.windows = windows
        self.aggs = aggs
        self.min_periods = min_periods

    def _depth(self) -> int:
        return max(self.windows)

    def _feature_names(self) -> list[str]:
        return [
            f"{c}_roll{w}_{agg}"
            for c in self.value_columns_
            for w in self.windows
            for agg in self.aggs
        ]

    def _features(self, groups: np.ndarray, values: np.ndarray) -> np.ndarray:
        # Shift by one row inside each group, then roll: the window ends just before the row.
        earlier = pd.DataFrame(values).groupby(groups, sort=False).shift(1)
        columns = []
        for j in range(values.shape[1]):
            grouped = earlier[j].groupby(groups, sort=False)
            for window in self.windows:
                rolling = grouped.rolling(window, min_periods=self.min_periods)
                for agg in self.aggs:
                    result = getattr(rolling, agg)()
                    columns.append(result.droplevel(0).sort_index().to_numpy("float64"))
        return np.column_stack(columns)


def _shift(groups: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """``values`` ``k`` rows earlier within the same group (rows sorted by group)."""
    shifted = np.full(len(values), np.nan)
    if k < len(values):
        same = groups[k:] == groups[:-k]
        shifted[k:][same] = values[:-k][same]
    return shifted


def _last_rows(sorted_groups: np.ndarray, depth: int) -> np.ndarray:
    """Mask of the last ``depth`` rows of each group, for rows sorted by group."""
    if not len(sorted_groups):
        return np.zeros(0, dtype=bool)
    ends = np.r_[sorted_groups[1:] != sorted_groups[:-1], True]
    end_positions = np.flatnonzero(ends)
    group_end = np.repeat(end_positions, np.diff(np.r_[-1, end_positions]))
    return (group_end - np.arange(len(sorted_groups))) < depth
