"""Check rows to score against a bundle's input schema, and coerce them to typed arrays.

One checker serves a 1-row REST request and a 65k-row batch chunk alike, so it works column by
column on numpy arrays and never raises for bad data: it returns every problem it finds, each
naming the column, what is wrong and which rows, and a mask of the bad rows so a batch job can
skip them. Out-of-range values are not problems here: they are what drift monitoring watches.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from conveyor.bundle._columns import (
    ColumnKind,
    ColumnRule,
    UnknownCategories,
    coerce,
    column_kind,
    numeric_block,
)

__all__ = [
    "Checked",
    "ColumnKind",
    "ColumnRule",
    "ExtraColumns",
    "InputSchema",
    "Problem",
    "UnknownCategories",
    "column_kind",
    "select",
]

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import numpy as np

ExtraColumns = Literal["error", "ignore"]
_MAX_ROWS_SHOWN = 20


@dataclass(frozen=True)
class Problem:
    """One problem with the input: a column (or the whole input), what is wrong, which rows."""

    column: str | None
    message: str
    rows: tuple[int, ...] = ()
    """Affected row positions, the first 20 at most; empty means the whole column or input."""
    count: int = 0
    """How many rows are affected, all of them; 0 for the whole column or input."""

    def render(self) -> str:
        """``column 'x': expected a number, got 'abc' (str) at rows 0, 3``."""
        head = f"column '{self.column}': {self.message}" if self.column else self.message
        if not self.rows:
            return head
        word = "row" if len(self.rows) == 1 else "rows"
        return f"{head} at {word} {', '.join(map(str, self.rows))}"


@dataclass(frozen=True)
class Checked:
    """Coerced columns in schema order, with every problem found and the rows they touch."""

    arrays: dict[str, np.ndarray]
    n_rows: int
    problems: tuple[Problem, ...]
    bad_rows: np.ndarray
    """Boolean mask of rows with a problem; a column-level problem marks every row."""
    matrix: np.ndarray | None = None
    """All columns as one (rows, columns) float64 matrix, when every column is numeric."""

    def ok(self) -> bool:
        """Whether the input has no problem at all."""
        return not self.problems


class InputSchema:
    """The columns a model takes, and the checks rows must pass before it sees them."""

    def __init__(
        self, rules: Sequence[ColumnRule], *, unknown_categories: UnknownCategories = "error"
    ) -> None:
        self.rules = tuple(rules)
        self.names = tuple(rule.name for rule in self.rules)
        self.unknown_categories = unknown_categories
        self._by_name = {rule.name: rule for rule in self.rules}

    @classmethod
    def from_bundle(
        cls, schema: Mapping[str, Any], *, unknown_categories: UnknownCategories = "error"
    ) -> InputSchema:
        """Rules from a bundle's ``schema.json`` document."""
        rules = []
        for column in schema.get("columns", []):
            dtype = str(column.get("dtype", "object"))
            categories = column.get("categories")
            rules.append(
                ColumnRule(
                    name=str(column["name"]),
                    dtype=dtype,
                    kind=column_kind(dtype),
                    nullable=bool(column.get("nullable", True)),
                    categories=frozenset(map(str, categories)) if categories is not None else None,
                    minimum=column.get("min"),
                    maximum=column.get("max"),
                )
            )
        return cls(rules, unknown_categories=unknown_categories)

    def describe(self) -> list[dict[str, Any]]:
        """Every column's description, in schema order."""
        return [rule.describe() for rule in self.rules]

    def check(
        self,
        columns: Mapping[str, Sequence[Any] | np.ndarray],
        *,
        from_text: bool = False,
        extra: ExtraColumns = "error",
    ) -> Checked:
        """Coerce ``columns`` to typed arrays and find every problem.

        ``from_text`` accepts strings for every kind (CSV cells; an empty cell is null).
        ``extra="ignore"`` lets columns the model does not take pass (a batch file's id column).
        """
        import numpy as np

        lengths = {len(values) for values in columns.values()}
        n_rows = lengths.pop() if len(lengths) == 1 else 0
        bad = np.zeros(n_rows, dtype=bool)
        if lengths:
            problem = Problem(None, "columns have different numbers of rows")
            return Checked({}, 0, (problem,), np.zeros(0, dtype=bool))
        problems: list[Problem] = []
        if not columns or n_rows == 0:
            problems.append(Problem(None, "the batch is empty: send at least one row"))
        missing = [name for name in self.names if name not in columns]
        if missing:
            problems.extend(Problem(name, "is missing") for name in missing)
        if extra == "error":
            for name in columns:
                if name not in self._by_name:
                    problems.append(Problem(str(name), self._unknown_column(str(name))))
        if n_rows == 0:
            return Checked({}, n_rows, tuple(problems), bad)
        # Whole-column problems make every row bad, but the present columns are still checked,
        # so one answer names every problem rather than the first kind found.
        whole_column = bool(problems)
        present = [rule for rule in self.rules if rule.name in columns]
        arrays: dict[str, np.ndarray] = {}
        found: list[tuple[ColumnRule, np.ndarray, str]] = []
        numeric = [rule for rule in present if rule.kind == "numeric"]
        matrix = numeric_block(numeric, columns, from_text, arrays, found)
        for rule in present:
            if rule.kind != "numeric":
                array, messages = coerce(
                    rule, columns[rule.name], from_text, self.unknown_categories
                )
                arrays[rule.name] = array
                found.extend((rule, rows, message) for rows, message in messages)
        for rule, rows, message in found:
            bad[rows] = True
            shown = tuple(int(r) for r in rows[:_MAX_ROWS_SHOWN])
            problems.append(Problem(rule.name, message, shown, len(rows)))
        if whole_column:
            bad[:] = True
        if len(numeric) != len(self.rules):
            matrix = None
        return Checked(arrays, n_rows, tuple(problems), bad, matrix)

    def _unknown_column(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"is not an input of this model{hint}"


def select(checked: Checked, keep: np.ndarray) -> Checked:
    """The rows of ``checked`` where ``keep`` is True, with no problems left."""
    import numpy as np

    arrays = {name: array[keep] for name, array in checked.arrays.items()}
    n_rows = int(keep.sum())
    matrix = checked.matrix[keep] if checked.matrix is not None else None
    return Checked(arrays, n_rows, (), np.zeros(n_rows, dtype=bool), matrix)
