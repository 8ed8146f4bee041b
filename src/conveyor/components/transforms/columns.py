"""Column transforms: ``drop`` columns, and derive new ones from ``expression`` s."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from conveyor.components._expression import expression_problem
from conveyor.components.transforms._params import TransformParams
from conveyor.plugins.base import NoParams, Transform


class Drop(Transform[NoParams]):
    """``kind: drop`` — remove the columns ``columns:`` names (ids, leaky columns)."""

    trusted_types = frozenset({"conveyor.components.transformers.columns.DropColumns"})

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """A transformer that outputs none of its columns."""
        from conveyor.components.transformers.columns import DropColumns

        return DropColumns()


class ExpressionParams(TransformParams):
    """``columns_out``: new column name -> expression over the input columns.

    Expressions use ``DataFrame.eval`` syntax: arithmetic, comparisons, ``&``/``|``, and
    functions such as ``log``, ``exp``, ``sqrt``, ``abs``; quote column names that are not
    identifiers in backticks. No Python objects are reachable.
    """

    columns_out: dict[str, str] = Field(min_length=1)

    @field_validator("columns_out")
    @classmethod
    def _expressions_parse(cls, columns_out: dict[str, str]) -> dict[str, str]:
        problems = [
            f"{name}: {problem}"
            for name, expression in columns_out.items()
            if (problem := expression_problem(expression))
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return columns_out


class Expression(Transform[ExpressionParams]):
    """``kind: expression`` — add columns computed from the input columns, row by row."""

    Params = ExpressionParams
    trusted_types = frozenset({"conveyor.components.transformers.columns.ExpressionColumns"})

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """An ``ExpressionColumns`` transformer."""
        from conveyor.components.transformers.columns import ExpressionColumns

        return ExpressionColumns(dict(self.params.columns_out))
