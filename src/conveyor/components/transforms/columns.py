"""Column transforms: ``drop`` columns, and derive new ones from ``expression`` s."""

from __future__ import annotations

import ast
import re
from typing import Any

from pydantic import Field, field_validator

from conveyor.components.transforms._params import TransformParams
from conveyor.plugins.base import NoParams, Transform

_QUOTED_NAME = re.compile(r"`[^`]*`")
# Valid Python that DataFrame.eval refuses anyway, or that reaches beyond the frame's columns.
_REFUSED_NODES = (
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.NamedExpr,
    ast.JoinedStr,
    ast.Await,
    ast.Yield,
    ast.YieldFrom,
    ast.Starred,
    ast.IfExp,
)


class Drop(Transform[NoParams]):
    """``kind: drop`` — remove the columns ``columns:`` names (ids, leaky columns)."""

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


def expression_problem(expression: str) -> str | None:
    """Why ``expression`` cannot be a ``DataFrame.eval`` expression, or None if it may be.

    A syntax check only (no pandas): names are checked against the columns at fit time.
    """
    if not expression.strip():
        return "the expression is empty"
    if "@" in expression:
        return f"'{expression}' refers to a variable with '@'; use column names only"
    try:
        tree = ast.parse(_QUOTED_NAME.sub("_quoted_name", expression).strip(), mode="eval")
    except SyntaxError as exc:
        return f"'{expression}' is not a valid expression: {exc.msg}"
    refused = sorted({type(n).__name__ for n in ast.walk(tree) if isinstance(n, _REFUSED_NODES)})
    if refused:
        return f"'{expression}' uses {', '.join(refused)}, which expressions cannot contain"
    return None


class Expression(Transform[ExpressionParams]):
    """``kind: expression`` — add columns computed from the input columns, row by row."""

    Params = ExpressionParams

    def build(self) -> Any:  # noqa: ANN401 - a scikit-learn transformer
        """An ``ExpressionColumns`` transformer."""
        from conveyor.components.transformers.columns import ExpressionColumns

        return ExpressionColumns(dict(self.params.columns_out))
