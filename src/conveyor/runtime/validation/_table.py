"""What the checks read a dataset through: a table of columns, each computing a rule's evidence.

:class:`FrameTable` is a DataFrame in memory; ``_sharded`` implements the same protocols over
per-file counts merged from an executor's tasks, so one set of checks serves both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.runtime.validation import dtypes
from conveyor.runtime.validation._evidence import Evidence, find

if TYPE_CHECKING:
    import pandas as pd

    from conveyor.spec.schema import DType


class Column(Protocol):
    """What the rules see of one column: its dtype, and each rule's evidence in its rows."""

    @property
    def kind(self) -> DType | None:
        """The schema dtype (``dtypes.classify``)."""

    @property
    def shown(self) -> str:
        """The dtype as a user reads it (``dtypes.describe``)."""

    @property
    def floating(self) -> bool:
        """Whether it is a float column (the finite check's)."""

    def evidence(self, check: str, arg: Any = None) -> Evidence:  # noqa: ANN401
        """What rule ``check`` (with the rule's value ``arg``) finds in the column."""


class Table(Protocol):
    """What the rules see of the dataset: its columns, rows and each column."""

    @property
    def names(self) -> list[str]:
        """The column names, as strings."""

    @property
    def rows(self) -> int:
        """The row count."""

    def has(self, name: str) -> bool:
        """Whether column ``name`` exists."""

    def column(self, name: str) -> Column:
        """Column ``name`` (it exists)."""

    def series(self, name: str) -> pd.Series:
        """Column ``name`` in full (for the time rules, which read its order)."""


@dataclass(frozen=True)
class SeriesColumn:
    """A column in memory: each rule's evidence computed on it when asked."""

    values: pd.Series

    @cached_property
    def kind(self) -> DType | None:
        """The schema dtype."""
        return dtypes.classify(self.values)

    @cached_property
    def shown(self) -> str:
        """The dtype as a user reads it."""
        return dtypes.describe(self.values)

    @property
    def floating(self) -> bool:
        """Whether it is a float column."""
        return bool(self.values.dtype.kind == "f")

    def evidence(self, check: str, arg: Any = None) -> Evidence:  # noqa: ANN401
        """What ``check`` finds in the column."""
        return find(self.values, check, arg, self.kind)


@dataclass(frozen=True)
class FrameTable:
    """The dataset as one DataFrame in memory."""

    frame: pd.DataFrame

    @property
    def names(self) -> list[str]:
        """The column names, as strings."""
        return [str(c) for c in self.frame.columns]

    @property
    def rows(self) -> int:
        """The row count."""
        return len(self.frame)

    def has(self, name: str) -> bool:
        """Whether column ``name`` exists."""
        return name in self.frame.columns

    def column(self, name: str) -> Column:
        """Column ``name``."""
        return SeriesColumn(self.frame[name])

    def series(self, name: str) -> pd.Series:
        """Column ``name`` in full."""
        return self.frame[name]
