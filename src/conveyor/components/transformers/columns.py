"""Column-level transformers: ``drop`` and ``expression``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from conveyor.components._expression import expression_problem
from conveyor.components.transformers.base import FrameTransformer, quoted


class DropColumns(FrameTransformer):
    """Outputs none of its input columns (ids, leaky columns); the rest pass by."""

    kind: ClassVar[str] = "drop"

    def _fit(self, frame: pd.DataFrame, y: Any) -> list[str]:  # noqa: ANN401
        return []

    def _output(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.iloc[:, :0]


class ExpressionColumns(FrameTransformer):
    """Adds one column per ``{name: expression}``, computed with ``DataFrame.eval``.

    Expressions see the input columns by name (backticks quote names with spaces) and the
    functions ``DataFrame.eval`` knows (``log``, ``sqrt``, ``abs``, ...), never Python objects:
    ``@name`` lookups get an empty namespace. Input columns pass through unchanged.
    """

    kind: ClassVar[str] = "expression"

    def __init__(self, columns_out: dict[str, str] | None = None) -> None:
        self.columns_out = columns_out

    def _fit(self, frame: pd.DataFrame, y: Any) -> list[str]:  # noqa: ANN401
        outputs = dict(self.columns_out or {})
        taken = [name for name in outputs if name in frame.columns]
        if taken:
            raise self.error(
                f"expression outputs {quoted(taken)} would overwrite input columns",
                fix="give the derived columns new names in params.columns_out",
            )
        self._evaluate(frame)  # a bad expression fails at fit time, not at serving
        return [*map(str, frame.columns), *outputs]

    def _output(self, frame: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([frame, self._evaluate(frame)], axis=1)

    def _evaluate(self, frame: pd.DataFrame) -> pd.DataFrame:
        derived: list[pd.Series] = []
        for name, expression in (self.columns_out or {}).items():
            problem = expression_problem(expression) if isinstance(expression, str) else "?"
            if problem is not None:  # a bundle carries its expressions: check them every time
                raise self.error(
                    f"refusing to evaluate {name}: {problem}",
                    fix="retrain the model from a conf/ whose expressions pass 'conveyor compile'",
                )
            try:
                value = frame.eval(expression, local_dict={}, global_dict={})
            except Exception as exc:  # pandas raises many kinds for one bad expression
                raise self.error(
                    f"cannot evaluate {name}: '{expression}': {type(exc).__name__}: {exc}",
                    fix=(
                        "fix the expression in params.columns_out; it can use the columns "
                        f"{quoted([str(c) for c in frame.columns])} (quote names with spaces "
                        "in backticks)"
                    ),
                ) from exc
            derived.append(self._as_column(name, expression, value, frame.index))
        if not derived:
            return frame.iloc[:, :0]
        return pd.concat(derived, axis=1)

    def _as_column(self, name: str, expression: str, value: Any, index: pd.Index) -> pd.Series:  # noqa: ANN401
        if isinstance(value, pd.Series) and value.index.equals(index):
            return value.rename(name)
        if np.ndim(value) == 0:  # a constant expression: one value for every row
            return pd.Series(value, index=index, name=name)
        raise self.error(
            f"{name}: '{expression}' gives a {type(value).__name__}, not one value per row",
            fix="write one expression per output column, e.g. 'a / b'",
        )
