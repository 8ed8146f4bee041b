"""What one input column must hold, and how values are coerced to it (numpy arrays, no raising).

:mod:`conveyor.bundle.inputs` checks whole inputs with these: :func:`numeric_block` makes the
numeric columns one float64 matrix and :func:`coerce` one column of any other kind; both return
the rows each problem touches instead of raising.
"""

from __future__ import annotations

import datetime
import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import numpy as np

ColumnKind = Literal["numeric", "bool", "datetime", "text"]
UnknownCategories = Literal["error", "allow"]
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


@dataclass(frozen=True)
class ColumnRule:
    """What one input column must hold, read from ``schema.json``."""

    name: str
    dtype: str
    kind: ColumnKind
    nullable: bool
    categories: frozenset[str] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def describe(self) -> dict[str, Any]:
        """A JSON-able description for API docs and model metadata."""
        entry: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "nullable": self.nullable}
        if self.minimum is not None:
            entry["min"], entry["max"] = self.minimum, self.maximum
        if self.categories is not None:
            entry["categories"] = sorted(self.categories)
        return entry


def column_kind(dtype: str) -> ColumnKind:
    """How values of a pandas ``dtype`` (as schema.json spells it) are checked."""
    lowered = dtype.lower()
    if lowered.startswith(("float", "int", "uint")):
        return "numeric"
    if lowered in {"bool", "boolean"}:
        return "bool"
    if lowered.startswith("datetime"):
        return "datetime"
    return "text"


Found = list[tuple["np.ndarray", str]]


def numeric_block(
    rules: list[ColumnRule],
    columns: Mapping[str, Sequence[Any] | np.ndarray],
    from_text: bool,
    arrays: dict[str, np.ndarray],
    found: list[tuple[ColumnRule, np.ndarray, str]],
) -> np.ndarray | None:
    """Parse every numeric column into one (rows, columns) matrix and check it in a few calls.

    One matrix instead of a loop of per-column numpy calls is what keeps a 1-row request with
    dozens of columns in the tens of microseconds.
    """
    import numpy as np

    if not rules:
        return None
    wrong: dict[int, list[int]] = {}
    matrix = _plain_numbers(rules, columns)
    if matrix is None:
        matrix = _parsed_numbers(rules, columns, from_text, wrong, found)
    for index, rule in enumerate(rules):
        arrays[rule.name] = matrix[:, index]
    infinite = np.isinf(matrix)
    if infinite.any():
        for index in infinite.any(axis=0).nonzero()[0]:
            rows = infinite[:, index].nonzero()[0]
            found.append((rules[index], rows, "infinite values are not allowed"))
    _check_int_ranges(rules, columns, matrix, found)
    required = np.fromiter((not rule.nullable for rule in rules), dtype=bool, count=len(rules))
    null = np.isnan(matrix) & required
    for index, positions in wrong.items():
        null[positions, index] = False  # already reported as the wrong type
    if null.any():
        for index in null.any(axis=0).nonzero()[0]:
            rows = null[:, index].nonzero()[0]
            found.append((rules[index], rows, _NULL_MESSAGE))
    return matrix


def _check_int_ranges(
    rules: list[ColumnRule],
    columns: Mapping[str, Sequence[Any] | np.ndarray],
    matrix: np.ndarray,
    found: list[tuple[ColumnRule, np.ndarray, str]],
) -> None:
    """Values an integer column's dtype cannot hold: cast back to it, they would wrap around.

    The model gets the training dtype (``int64``, ``uint8``...), cast from the float64 matrix;
    past its range that cast is undefined (2**63 became -2**63, 256 in a uint8 column 0).
    """
    for index, rule in enumerate(rules):
        bounds = _int_bounds(rule.dtype)
        if bounds is None:
            continue
        low, high = bounds
        column = matrix[:, index]
        outside = (column < low) | (column > high)  # NaN is neither: a null, checked elsewhere
        values = columns[rule.name]
        if low != 0 and isinstance(values, list) and (edge := column == low).any():
            # -2**63 - 1 and its neighbours round to -2**63 as floats: the values sent tell
            for row in edge.nonzero()[0]:
                outside[row] = _below(values[int(row)], int(low))
        if not outside.any():
            continue
        rows = outside.nonzero()[0]
        first = values[int(rows[0])] if isinstance(values, list) else column[rows[0]].item()
        shown = first if type(first) is int else _show(first)
        wide = ", as a 64-bit float holds it" if rule.dtype.lower().endswith("64") else ""
        message = (
            f"{shown} is out of range for {rule.dtype}, the column's type "
            f"({int(low)} to {int(high)}{wide})"
        )
        found.append((rule, rows, message))


def _below(value: Any, low: int) -> bool:  # noqa: ANN401 - a JSON value or a CSV cell
    """Whether a value whose float is ``low`` (-2**63) was sent as a smaller integer.

    orjson reads a JSON integer beyond 64 bits as a float, so an integral float there is most
    likely such an integer (the OIP datatype check reasons the same way); text is exact.
    """
    if type(value) is float:
        return True
    if type(value) is str:
        try:
            return int(value.strip()) < low
        except ValueError:
            return False  # '-9.2e18': a float spelled out, at the edge, in range
    return type(value) is int and value < low


@functools.cache
def _int_bounds(dtype: str) -> tuple[float, float] | None:
    """The float64 values that cast exactly into integer ``dtype``; None for other dtypes."""
    import numpy as np

    if not dtype.lower().startswith(("int", "uint")):
        return None
    try:
        info = np.iinfo(dtype.lower())
    except (TypeError, ValueError):
        return None
    low, high = float(info.min), float(info.max)  # -2**k is exact; 2**63 - 1 rounds up
    if int(high) > info.max:
        high = float(np.nextafter(high, -math.inf))
    return low, high


_PLAIN = frozenset({int, float, type(None)})


def _plain_numbers(
    rules: list[ColumnRule], columns: Mapping[str, Sequence[Any] | np.ndarray]
) -> np.ndarray | None:
    """The matrix in one numpy call when every value is a JSON number or null; else None."""
    import numpy as np

    lists = [columns[rule.name] for rule in rules]
    if not all(type(values) is list for values in lists):
        return None
    if any(type(value) not in _PLAIN for values in lists for value in values):
        return None
    try:
        return np.array(lists, dtype=np.float64).T
    except OverflowError:  # an integer beyond float64: the slow path names it
        return None


def _parsed_numbers(
    rules: list[ColumnRule],
    columns: Mapping[str, Sequence[Any] | np.ndarray],
    from_text: bool,
    wrong: dict[int, list[int]],
    found: list[tuple[ColumnRule, np.ndarray, str]],
) -> np.ndarray:
    """Column by column: numpy arrays as they are, lists parsed with wrong values reported."""
    import numpy as np

    parsed: list[Any] = []
    for index, rule in enumerate(rules):
        values = columns[rule.name]
        if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
            parsed.append(values)
            continue
        items = values.tolist() if isinstance(values, np.ndarray) else list(values)
        numbers, bad_positions = _parse_numbers(items, from_text)
        parsed.append(numbers)
        if bad_positions:
            wrong[index] = bad_positions
            first = items[bad_positions[0]]
            message = (
                f"number too large for a 64-bit float: {_show(first)}"
                if type(first) is int
                else f"expected a number, got {_show(first)}"
            )
            found.append((rule, np.asarray(bad_positions), message))
    return np.array(parsed, dtype=np.float64).T


_NULL_MESSAGE = "null/NaN is not allowed (the model saw none)"


def coerce(
    rule: ColumnRule,
    values: Sequence[Any] | np.ndarray,
    from_text: bool,
    unknown_categories: UnknownCategories,
) -> tuple[np.ndarray, Found]:
    """A non-numeric column, coerced, with its problems."""
    if rule.kind == "bool":
        array, found = _boolean(values, from_text)
    elif rule.kind == "datetime":
        array, found = _datetime(values)
    else:
        array, found = _text(rule, values, from_text, unknown_categories)
    if not rule.nullable:
        null = _null_mask(array, rule.kind)
        for rows, _ in found:
            null[rows] = False  # already reported as the wrong type
        if null.any():
            found.append((null.nonzero()[0], _NULL_MESSAGE))
    return array, found


def _parse_numbers(items: list[Any], from_text: bool) -> tuple[list[float], list[int]]:
    """Numbers as floats (None -> NaN); positions of values that are not numbers."""
    parsed: list[float] = []
    wrong: list[int] = []
    for position, value in enumerate(items):
        kind = type(value)
        if kind is float:
            parsed.append(value)
        elif kind is int:
            try:
                parsed.append(float(value))
            except OverflowError:  # JSON allows integers no float64 can hold
                parsed.append(math.nan)
                wrong.append(position)
        elif value is None:
            parsed.append(math.nan)
        elif from_text and kind is str:
            text = value.strip()
            try:
                parsed.append(float(text) if text else math.nan)
            except ValueError:
                parsed.append(math.nan)
                wrong.append(position)
        else:  # a bool, a string in JSON, a list, a dict
            parsed.append(math.nan)
            wrong.append(position)
    return parsed, wrong


def _boolean(values: Sequence[Any] | np.ndarray, from_text: bool) -> tuple[np.ndarray, Found]:
    import numpy as np

    if isinstance(values, np.ndarray) and values.dtype.kind == "b":
        return values, []
    items = values.tolist() if isinstance(values, np.ndarray) else list(values)
    out = np.empty(len(items), dtype=object)
    wrong = []
    for position, value in enumerate(items):
        if value is None or isinstance(value, bool):
            out[position] = value
        elif from_text and isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            out[position] = value.strip().lower() in _TRUE
        elif from_text and isinstance(value, str) and not value.strip():
            out[position] = None
        else:
            out[position] = None
            wrong.append(position)
    found: Found = []
    if wrong:
        found.append((np.asarray(wrong), f"expected true or false, got {_show(items[wrong[0]])}"))
    return out, found


def _datetime(values: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, Found]:
    import numpy as np

    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        out, outside = _as_ns(values)
        found: Found = []
        if outside.any():
            out[outside] = np.datetime64("NaT")
            rows = outside.nonzero()[0]
            found.append((rows, _out_of_range(values[rows[0]].item())))
        return out, found
    items = values.tolist() if isinstance(values, np.ndarray) else list(values)
    out = np.full(len(items), np.datetime64("NaT"), dtype=_NS)
    wrong, beyond = [], []
    for position, value in enumerate(items):
        if value is None or value == "":
            continue
        try:
            if isinstance(value, (str, datetime.date)):
                stamp, outside = _as_ns(np.array([np.datetime64(value)]))
                if outside[0]:
                    beyond.append(position)
                    continue
                value = stamp[0]  # the value as stored
            out[position] = value
        except (ValueError, TypeError):
            wrong.append(position)
    found = []
    if wrong:
        message = f"expected an ISO date/time, got {_show(items[wrong[0]])}"
        found.append((np.asarray(wrong), message))
    if beyond:
        found.append((np.asarray(beyond), _out_of_range(items[beyond[0]])))
    return out, found


_NS = "datetime64[ns]"
_AT_MOST_NS = frozenset({"Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "generic"})
_FIRST, _LAST = "1677-09-21T00:12:44", "2262-04-11T23:47:16"
"""The whole seconds datetime64[ns] holds; compared in the finer of their unit and a stamp's."""


def _as_ns(stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``stamps`` as datetime64[ns], and which of them lie outside its range (1677 to 2262).

    numpy's cast wraps around silently there (3000-01-01 became 1830-11-23). Units finer than
    nanoseconds span less than that range, so their stamps only lose digits.
    """
    import numpy as np

    converted = stamps.astype(_NS)
    if np.datetime_data(stamps.dtype)[0] not in _AT_MOST_NS:
        return converted, np.zeros(len(stamps), dtype=bool)
    return converted, (stamps < np.datetime64(_FIRST)) | (stamps > np.datetime64(_LAST))


def _out_of_range(value: Any) -> str:  # noqa: ANN401 - a JSON value, a CSV cell, a datetime
    return (
        f"{_show(value)} is outside the range of datetime64[ns], the column's type "
        "(1677-09-21 to 2262-04-11)"
    )


def _text(
    rule: ColumnRule,
    values: Sequence[Any] | np.ndarray,
    from_text: bool,
    unknown_categories: UnknownCategories,
) -> tuple[np.ndarray, Found]:
    import numpy as np

    items = values.tolist() if isinstance(values, np.ndarray) else list(values)
    out = np.empty(len(items), dtype=object)
    wrong, unknown = [], []
    known = rule.categories if unknown_categories == "error" else None
    for position, value in enumerate(items):
        if value is None or (from_text and value == ""):
            out[position] = None
        elif isinstance(value, str):
            out[position] = value
            if known is not None and value not in known:
                unknown.append(position)
        else:
            out[position] = None
            wrong.append(position)
    found: Found = []
    if wrong:
        found.append((np.asarray(wrong), f"expected text, got {_show(items[wrong[0]])}"))
    if unknown and known is not None:
        listed = ", ".join(sorted(known)[:10]) + (", ..." if len(known) > 10 else "")
        message = f"unknown category {_show(items[unknown[0]])} (known: {listed})"
        found.append((np.asarray(unknown), message))
    return out, found


def _null_mask(array: np.ndarray, kind: ColumnKind) -> np.ndarray:
    import numpy as np

    if kind == "datetime":
        mask: np.ndarray = np.isnat(array)
        return mask
    if array.dtype.kind == "b":
        return np.zeros(len(array), dtype=bool)
    return np.fromiter((v is None for v in array), dtype=bool, count=len(array))


def _show(value: Any) -> str:  # noqa: ANN401 - any JSON value
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    text = text if len(text) <= 40 else f"{text[:37]}..."
    return f"{text} ({type(value).__name__})"
