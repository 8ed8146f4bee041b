"""``TextStats``: counts that describe free-text columns."""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from conveyor.components.transformers.base import FrameTransformer

STATS = ("length", "words", "digits", "uppercase")
DEFAULT_STATS = ("length", "words")


class TextStats(FrameTransformer):
    """Per text column: ``<column>_length`` (characters), ``_words``, ``_digits``, ``_uppercase``.

    Words are runs of non-whitespace; uppercase counts any Unicode capital letter. Missing text
    gives NaN counts. With ``keep=False`` the raw text columns are dropped.
    """

    kind: ClassVar[str] = "text_stats"

    def __init__(self, stats: tuple[str, ...] = DEFAULT_STATS, keep: bool = False) -> None:
        self.stats = stats
        self.keep = keep

    def _fit(self, frame: pd.DataFrame, y: Any) -> list[str]:  # noqa: ANN401
        unknown = sorted(set(self.stats) - set(STATS))
        if unknown:
            raise self.error(f"unknown stats {unknown}", fix=f"choose from {list(STATS)}")
        for column in frame.columns:
            self._text(frame[column])  # refuses numeric columns
        names = [f"{column}_{stat}" for column in frame.columns for stat in self.stats]
        return [*map(str, frame.columns), *names] if self.keep else names

    def _output(self, frame: pd.DataFrame) -> pd.DataFrame:
        stats = {
            f"{column}_{stat}": _count(self._text(frame[column]), stat)
            for column in frame.columns
            for stat in self.stats
        }
        derived = pd.DataFrame(stats, index=frame.index, dtype="float64")
        return pd.concat([frame, derived], axis=1) if self.keep else derived

    def _text(self, column: pd.Series) -> pd.Series:
        if is_numeric_dtype(column) or is_bool_dtype(column):
            raise self.error(
                f"column '{column.name}' is {column.dtype}, not text",
                fix="select text columns in 'columns:', e.g. columns: [description]",
            )
        return column.astype("str")


def _count(text: pd.Series, stat: str) -> pd.Series:
    if stat == "length":
        counts = text.str.len()
    elif stat == "words":
        counts = text.str.count(r"\S+")
    elif stat == "digits":
        counts = text.str.count(r"\d")
    else:  # uppercase; str.isupper per character also counts non-ASCII capitals
        counts = text.map(lambda value: sum(c.isupper() for c in value), na_action="ignore")
    return counts.astype("float64")
