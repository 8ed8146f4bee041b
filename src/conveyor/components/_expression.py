"""What a ``kind: expression`` column may compute: the one check, before compile and evaluation.

The spec side (``conveyor.components.transforms.columns``) runs it when ``conveyor compile``
validates ``columns_out``, and the transformer (``conveyor.components.transformers.columns``)
again before it evaluates, because a model bundle carries its expressions and a bundle is not
trusted. Both import it from here, so neither imports the other for it. No pandas.
"""

from __future__ import annotations

import ast
import re

_QUOTED_NAME = re.compile(r"`[^`]*`")
# What an expression may contain: arithmetic, comparisons and logic over column names and
# constants, and calls of DataFrame.eval's math functions by name. Anything else (attribute
# access such as 'a.__class__', subscripts, comprehensions, lambdas) is refused: DataFrame.eval
# resolves attributes and calls methods, so 'col.__class__.__init__.__globals__[...]' would
# reach any Python object. The transformer checks again before it evaluates, because a model
# bundle carries its expressions and a bundle is not trusted.
_ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Call,
    ast.List,
    ast.Tuple,
    ast.operator,
    ast.unaryop,
    ast.boolop,
    ast.cmpop,
)
MATH_FUNCTIONS = frozenset(
    {
        "abs", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh",
        "ceil", "cos", "cosh", "exp", "expm1", "floor", "log", "log10", "log1p", "sin",
        "sinh", "sqrt", "tan", "tanh",
    }
)  # fmt: skip


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
    refused = sorted(
        {type(n).__name__ for n in ast.walk(tree) if not isinstance(n, _ALLOWED_NODES)}
    )
    if refused:
        return f"'{expression}' uses {', '.join(refused)}, which expressions cannot contain"
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    if any(not isinstance(c.func, ast.Name) or c.func.id not in MATH_FUNCTIONS for c in calls):
        return (
            f"'{expression}' calls something other than the math functions "
            f"{', '.join(sorted(MATH_FUNCTIONS))}"
        )
    if any(c.keywords for c in calls):
        return f"'{expression}' passes a keyword argument; functions take columns only"
    return None
