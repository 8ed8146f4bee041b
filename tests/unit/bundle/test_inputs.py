"""The input checker on hand-written columns: every coercion, every message, every boundary.

No model: ``InputSchema`` is built from a schema.json document written here, so each expected
value (rows, counts, messages, dtype limits) is worked out by hand, not read from the code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from conveyor.bundle.inputs import (
    Checked,
    ColumnRule,
    InputSchema,
    Problem,
    column_kind,
    select,
)

NULL = "null/NaN is not allowed (the model saw none)"


def schema(*columns: dict[str, Any], **options: Any) -> InputSchema:
    return InputSchema.from_bundle({"columns": list(columns)}, **options)


def problems(checked: Checked) -> list[tuple[str | None, str, tuple[int, ...], int]]:
    return [(p.column, p.message, p.rows, p.count) for p in checked.problems]


def bad(checked: Checked) -> list[int]:
    return [int(i) for i in checked.bad_rows.nonzero()[0]]


# --- problems, rules, kinds ------------------------------------------------------------------


def test_a_problem_renders_its_column_and_rows() -> None:
    assert Problem(None, "the batch is empty").render() == "the batch is empty"
    assert Problem("x", "is missing").render() == "column 'x': is missing"
    assert Problem("x", "bad", (3,), 1).render() == "column 'x': bad at row 3"
    assert Problem("x", "bad", (0, 3), 2).render() == "column 'x': bad at rows 0, 3"
    assert Problem("", "bad", (0,), 1).render() == "bad at row 0"
    assert Problem("x", "bad").rows == ()
    assert Problem("x", "bad").count == 0


def test_a_rule_describes_itself_for_the_api() -> None:
    plain = ColumnRule("x", "float64", "numeric", False)
    assert plain.describe() == {"name": "x", "dtype": "float64", "nullable": False}
    ranged = ColumnRule("x", "int64", "numeric", True, minimum=0.0, maximum=9.0)
    assert ranged.describe() == {
        "name": "x",
        "dtype": "int64",
        "nullable": True,
        "min": 0.0,
        "max": 9.0,
    }
    zero = ColumnRule("x", "int64", "numeric", True, minimum=0, maximum=0)
    assert zero.describe()["min"] == 0
    assert zero.describe()["max"] == 0
    cats = ColumnRule("c", "category", "text", True, categories=frozenset({"b", "a", "c"}))
    assert cats.describe() == {
        "name": "c",
        "dtype": "category",
        "nullable": True,
        "categories": ["a", "b", "c"],
    }
    assert (
        ColumnRule("c", "object", "text", True, categories=frozenset()).describe()["categories"]
        == []
    )


@pytest.mark.parametrize(
    ("dtype", "kind"),
    [
        ("float64", "numeric"),
        ("Float32", "numeric"),
        ("int8", "numeric"),
        ("Int64", "numeric"),
        ("uint16", "numeric"),
        ("UInt8", "numeric"),
        ("bool", "bool"),
        ("boolean", "bool"),
        ("Boolean", "bool"),
        ("datetime64[ns]", "datetime"),
        ("datetime64[ns, UTC]", "datetime"),
        ("DateTime64", "datetime"),
        ("object", "text"),
        ("category", "text"),
        ("string", "text"),
        ("booleans", "text"),
        ("timedelta64[ns]", "text"),
    ],
)
def test_column_kinds(dtype: str, kind: str) -> None:
    assert column_kind(dtype) == kind


def test_rules_from_a_schema_document() -> None:
    document = {
        "columns": [
            {"name": "n", "dtype": "int64", "nullable": False, "min": 1, "max": 5},
            {"name": 7, "categories": [1, "b"]},
            {"name": "d", "dtype": "datetime64[ns]", "nullable": 0},
        ]
    }
    built = InputSchema.from_bundle(document, unknown_categories="allow")
    assert built.rules == (
        ColumnRule("n", "int64", "numeric", False, None, 1, 5),
        ColumnRule("7", "object", "text", True, frozenset({"1", "b"}), None, None),
        ColumnRule("d", "datetime64[ns]", "datetime", False, None, None, None),
    )
    assert built.names == ("n", "7", "d")
    assert built.unknown_categories == "allow"
    assert built.describe() == [rule.describe() for rule in built.rules]
    assert InputSchema.from_bundle({}).rules == ()
    assert InputSchema.from_bundle({}).unknown_categories == "error"
    assert InputSchema([]).unknown_categories == "error"


# --- the whole input ------------------------------------------------------------------------


def test_columns_of_different_lengths_are_one_problem() -> None:
    checked = schema({"name": "a", "dtype": "float64"}).check({"a": [1.0, 2.0], "b": [1.0]})
    assert problems(checked) == [(None, "columns have different numbers of rows", (), 0)]
    assert checked.n_rows == 0
    assert checked.arrays == {}
    assert len(checked.bad_rows) == 0
    assert not checked.ok()


def test_an_empty_batch_names_what_is_missing() -> None:
    inputs = schema({"name": "a", "dtype": "float64"}, {"name": "b", "dtype": "object"})
    checked = inputs.check({})
    assert problems(checked) == [
        (None, "the batch is empty: send at least one row", (), 0),
        ("a", "is missing", (), 0),
        ("b", "is missing", (), 0),
    ]
    assert checked.n_rows == 0
    assert checked.bad_rows.dtype == bool
    assert len(checked.bad_rows) == 0
    rows_zero = inputs.check({"a": [], "b": []})
    assert problems(rows_zero) == [(None, "the batch is empty: send at least one row", (), 0)]
    assert rows_zero.arrays == {}
    assert rows_zero.matrix is None


def test_unknown_columns_are_refused_with_a_hint_or_ignored() -> None:
    inputs = schema({"name": "age", "dtype": "float64"}, {"name": "income", "dtype": "float64"})
    checked = inputs.check({"age": [1.0], "income": [2.0], "agee": [3.0], "zzz": [4.0]})
    assert problems(checked) == [
        ("agee", "is not an input of this model (did you mean 'age'?)", (), 0),
        ("zzz", "is not an input of this model", (), 0),
    ]
    assert bad(checked) == [0]  # a column-level problem marks every row
    assert checked.arrays["age"].tolist() == [1.0]  # and the present columns are still checked
    ignored = inputs.check({"age": [1.0], "income": [2.0], "id": ["p0"]}, extra="ignore")
    assert ignored.ok()
    assert sorted(ignored.arrays) == ["age", "income"]
    assert ignored.matrix.tolist() == [[1.0, 2.0]]


def test_a_missing_column_marks_every_row_and_the_rest_is_still_checked() -> None:
    inputs = schema(
        {"name": "a", "dtype": "float64", "nullable": False},
        {"name": "b", "dtype": "float64"},
    )
    checked = inputs.check({"a": [1.0, None, 3.0]})
    assert problems(checked) == [("b", "is missing", (), 0), ("a", NULL, (1,), 1)]
    assert bad(checked) == [0, 1, 2]
    assert checked.matrix is None  # a matrix only holds every input
    assert checked.n_rows == 3


def test_a_good_numeric_batch_becomes_one_matrix_in_schema_order() -> None:
    inputs = schema({"name": "b", "dtype": "float64"}, {"name": "a", "dtype": "int64"})
    checked = inputs.check({"a": [1, 2], "b": [0.5, None]})
    assert checked.ok()
    assert checked.n_rows == 2
    assert list(checked.arrays) == ["b", "a"]
    np.testing.assert_array_equal(checked.matrix, [[0.5, 1.0], [np.nan, 2.0]])
    assert checked.arrays["a"].tolist() == [1.0, 2.0]
    assert bad(checked) == []
    assert len(checked.bad_rows) == 2


def test_a_mixed_batch_has_no_matrix() -> None:
    inputs = schema({"name": "a", "dtype": "float64"}, {"name": "t", "dtype": "object"})
    checked = inputs.check({"a": [1.0], "t": ["x"]})
    assert checked.ok()
    assert checked.matrix is None
    assert checked.arrays["t"].tolist() == ["x"]
    text_only = schema({"name": "t", "dtype": "object"}).check({"t": ["x"]})
    assert text_only.matrix is None


def test_twenty_rows_are_shown_and_all_are_counted() -> None:
    inputs = schema({"name": "a", "dtype": "float64", "nullable": False})
    checked = inputs.check({"a": [None] * 25 + [1.0]})
    assert problems(checked) == [("a", NULL, tuple(range(20)), 25)]
    assert bad(checked) == list(range(25))
    exactly = inputs.check({"a": [None] * 20})
    assert problems(exactly) == [("a", NULL, tuple(range(20)), 20)]


# --- numbers --------------------------------------------------------------------------------


def test_infinities_and_nulls_are_found_per_column() -> None:
    inputs = schema(
        {"name": "a", "dtype": "float64", "nullable": False},
        {"name": "b", "dtype": "float64", "nullable": True},
        {"name": "c", "dtype": "float64", "nullable": False},
    )
    inf = float("inf")
    checked = inputs.check({"a": [1.0, inf, None], "b": [None, -inf, 2.0], "c": [1.0, 2.0, 3.0]})
    assert problems(checked) == [
        ("a", "infinite values are not allowed", (1,), 1),
        ("b", "infinite values are not allowed", (1,), 1),
        ("a", NULL, (2,), 1),
    ]
    assert bad(checked) == [1, 2]


def test_numbers_parsed_from_text_and_from_json() -> None:
    inputs = schema(
        {"name": "a", "dtype": "float64", "nullable": False},
        {"name": "b", "dtype": "float64"},
    )
    text = inputs.check(
        {"a": ["1.5", " 2 ", "", "abc"], "b": ["x", "1e3", None, "-0"]}, from_text=True
    )
    assert problems(text) == [
        ("a", "expected a number, got 'abc' (str)", (3,), 1),
        ("b", "expected a number, got 'x' (str)", (0,), 1),
        ("a", NULL, (2,), 1),  # the unparseable row is not reported twice
    ]
    np.testing.assert_array_equal(text.arrays["a"], [1.5, 2.0, np.nan, np.nan])
    np.testing.assert_array_equal(text.arrays["b"], [np.nan, 1000.0, np.nan, -0.0])
    assert bad(text) == [0, 2, 3]
    json_rows = inputs.check({"a": ["1", True, [1], 2], "b": [1.0, 2.0, 3.0, {"x": 1}]})
    assert problems(json_rows) == [
        ("a", "expected a number, got '1' (str)", (0, 1, 2), 3),
        ("b", "expected a number, got {'x': 1} (dict)", (3,), 1),
    ]
    np.testing.assert_array_equal(json_rows.arrays["a"], [np.nan, np.nan, np.nan, 2.0])


def test_numpy_numbers_pass_as_they_are_and_other_arrays_are_parsed() -> None:
    inputs = schema({"name": "a", "dtype": "float64"}, {"name": "b", "dtype": "float64"})
    checked = inputs.check(
        {"a": np.array([1, 2], dtype=np.int32), "b": np.array(["3", "x"], dtype=object)},
        from_text=True,
    )
    assert problems(checked) == [("b", "expected a number, got 'x' (str)", (1,), 1)]
    np.testing.assert_array_equal(checked.matrix, [[1.0, 3.0], [2.0, np.nan]])
    unsigned = inputs.check({"a": np.array([7], dtype=np.uint8), "b": np.array([0.5])})
    assert unsigned.ok()
    assert unsigned.matrix.tolist() == [[7.0, 0.5]]
    floats = inputs.check({"a": [1.0], "b": (2.0,)})  # a tuple is not the plain-list path
    assert floats.matrix.tolist() == [[1.0, 2.0]]


def test_an_integer_no_float_can_hold_is_named_not_nulled() -> None:
    inputs = schema({"name": "a", "dtype": "float64", "nullable": False})
    huge = 10**400
    checked = inputs.check({"a": [1.0, huge]})
    shown = repr(huge)[:37] + "... (int)"
    assert problems(checked) == [("a", f"number too large for a 64-bit float: {shown}", (1,), 1)]
    assert bad(checked) == [1]
    mixed = inputs.check({"a": [huge, "x"]})
    assert problems(mixed)[0][1] == f"number too large for a 64-bit float: {shown}"
    assert problems(mixed)[0][2] == (0, 1)


@pytest.mark.parametrize(
    ("dtype", "value", "message"),
    [
        ("int8", 128, "128 is out of range for int8, the column's type (-128 to 127)"),
        ("int8", -129, "-129 is out of range for int8, the column's type (-128 to 127)"),
        ("uint8", 256, "256 is out of range for uint8, the column's type (0 to 255)"),
        ("uint8", -1, "-1 is out of range for uint8, the column's type (0 to 255)"),
        ("UInt16", 65536, "65536 is out of range for UInt16, the column's type (0 to 65535)"),
        (
            "int64",
            2**63,
            "9223372036854775808 is out of range for int64, the column's type "
            "(-9223372036854775808 to 9223372036854774784, as a 64-bit float holds it)",
        ),
        (
            "Int64",
            -(2**63) - 1,
            "-9223372036854775809 is out of range for Int64, the column's type "
            "(-9223372036854775808 to 9223372036854774784, as a 64-bit float holds it)",
        ),
        (
            "uint64",
            2**64,
            "18446744073709551616 is out of range for uint64, the column's type "
            "(0 to 18446744073709549568, as a 64-bit float holds it)",
        ),
        ("int8", 1.5e3, "1500.0 (float) is out of range for int8, the column's type (-128 to 127)"),
        (
            "int64",
            -(2.0**63),
            "-9.223372036854776e+18 (float) is out of range for int64, the column's type "
            "(-9223372036854775808 to 9223372036854774784, as a 64-bit float holds it)",
        ),
    ],
)
def test_an_integer_column_refuses_what_its_dtype_cannot_hold(
    dtype: str, value: Any, message: str
) -> None:
    inputs = schema({"name": "n", "dtype": dtype})
    checked = inputs.check({"n": [0, value]})
    assert problems(checked) == [("n", message, (1,), 1)]
    assert bad(checked) == [1]


@pytest.mark.parametrize(
    ("dtype", "values"),
    [
        ("int8", [-128, 127]),
        ("uint8", [0, 255]),
        ("int64", [-(2**63), 2**62]),
        ("int32", [-(2**31), 2**31 - 1]),
        ("float32", [1e300, -1e300]),
        ("intc", [5]),
        ("int_x", [10**10]),
    ],
)
def test_integers_at_the_edges_of_their_dtype_pass(dtype: str, values: list[Any]) -> None:
    assert schema({"name": "n", "dtype": dtype}).check({"n": values}).ok()


def test_text_at_the_low_edge_of_int64_is_read_exactly() -> None:
    inputs = schema({"name": "n", "dtype": "int64"})
    low = -(2**63)
    assert inputs.check({"n": [str(low), " -9.2e18 "]}, from_text=True).ok()
    over = inputs.check({"n": ["1", str(low - 1)]}, from_text=True)
    assert problems(over) == [
        (
            "n",
            "'-9223372036854775809' (str) is out of range for int64, the column's type "
            "(-9223372036854775808 to 9223372036854774784, as a 64-bit float holds it)",
            (1,),
            1,
        )
    ]
    assert inputs.check({"n": [low, low]}).ok()  # an int at the edge is exact


def test_an_integer_column_sent_as_an_array_shows_its_float() -> None:
    inputs = schema({"name": "n", "dtype": "int8"})
    checked = inputs.check({"n": np.array([1.0, 300.0, 400.0])})
    assert problems(checked) == [
        ("n", "300.0 (float) is out of range for int8, the column's type (-128 to 127)", (1, 2), 2)
    ]
    edge = schema({"name": "n", "dtype": "int64"}).check({"n": np.array([-(2.0**63)])})
    assert edge.ok()  # an array holds floats already: nothing to tell at the edge


def test_a_null_in_an_integer_column_is_a_null_not_out_of_range() -> None:
    inputs = schema({"name": "n", "dtype": "int8", "nullable": False})
    assert problems(inputs.check({"n": [None, 1]})) == [("n", NULL, (0,), 1)]


# --- booleans, dates, text ------------------------------------------------------------------


def test_booleans_from_json_and_from_text() -> None:
    inputs = schema({"name": "f", "dtype": "bool", "nullable": False})
    json_rows = inputs.check({"f": [True, False, None, 1, "true"]})
    assert problems(json_rows) == [
        ("f", "expected true or false, got 1 (int)", (3, 4), 2),
        ("f", NULL, (2,), 1),
    ]
    assert json_rows.arrays["f"].tolist() == [True, False, None, None, None]
    text = inputs.check(
        {"f": ["Yes", " no ", "1", "0", "TRUE", "false", " ", "maybe"]}, from_text=True
    )
    assert problems(text) == [
        ("f", "expected true or false, got 'maybe' (str)", (7,), 1),
        ("f", NULL, (6,), 1),
    ]
    assert text.arrays["f"].tolist() == [True, False, True, False, True, False, None, None]
    assert text.matrix is None


def test_a_boolean_array_passes_as_it_is() -> None:
    inputs = schema({"name": "f", "dtype": "boolean", "nullable": False})
    values = np.array([True, False])
    checked = inputs.check({"f": values})
    assert checked.ok()
    assert checked.arrays["f"] is values
    as_objects = inputs.check({"f": np.array([True, None], dtype=object)})
    assert problems(as_objects) == [("f", NULL, (1,), 1)]


def test_datetimes_parse_iso_text_and_refuse_the_rest() -> None:
    inputs = schema({"name": "t", "dtype": "datetime64[ns]", "nullable": False})
    checked = inputs.check({"t": ["2024-01-02", "2024-01-02T03:04:05", "", None, "soon", 5.5]})
    assert problems(checked) == [
        ("t", "expected an ISO date/time, got 'soon' (str)", (4, 5), 2),
        ("t", NULL, (2, 3), 2),
    ]
    assert checked.arrays["t"].dtype == np.dtype("datetime64[ns]")
    assert checked.arrays["t"][:2].tolist() == [
        np.datetime64("2024-01-02T00:00:00", "ns").item(),
        np.datetime64("2024-01-02T03:04:05", "ns").item(),
    ]
    nullable = schema({"name": "t", "dtype": "datetime64[ns]"}).check({"t": [None]})
    assert nullable.ok()


def test_a_datetime_array_is_cast_to_nanoseconds() -> None:
    inputs = schema({"name": "t", "dtype": "datetime64[ns]"})
    days = np.array(["2024-01-02"], dtype="datetime64[D]")
    checked = inputs.check({"t": days})
    assert checked.ok()
    assert checked.arrays["t"].dtype == np.dtype("datetime64[ns]")
    assert checked.arrays["t"][0] == np.datetime64("2024-01-02T00:00", "ns")
    objects = inputs.check({"t": np.array(["2024-01-02", None], dtype=object)})
    assert objects.ok()
    assert np.isnat(objects.arrays["t"][1])


def test_text_and_categories() -> None:
    inputs = schema(
        {"name": "c", "dtype": "category", "categories": ["b", "a"], "nullable": False},
        {"name": "t", "dtype": "object"},
    )
    checked = inputs.check({"c": ["a", "z", None, 3, "y"], "t": ["", 1.5, None, "x", "y"]})
    assert problems(checked) == [
        ("c", "expected text, got 3 (int)", (3,), 1),
        ("c", "unknown category 'z' (str) (known: a, b)", (1, 4), 2),
        ("c", NULL, (2,), 1),
        ("t", "expected text, got 1.5 (float)", (1,), 1),
    ]
    assert checked.arrays["c"].tolist() == ["a", "z", None, None, "y"]
    assert checked.arrays["t"].tolist() == ["", None, None, "x", "y"]  # JSON's "" is text
    from_text = inputs.check({"c": ["a", "a"], "t": ["", "x"]}, from_text=True)
    assert from_text.arrays["t"].tolist() == [None, "x"]  # a CSV's empty cell is null
    assert from_text.ok()
    empty_cell = inputs.check({"c": ["", "a"], "t": ["x", "x"]}, from_text=True)
    assert problems(empty_cell) == [("c", NULL, (0,), 1)]


def test_unknown_categories_may_be_allowed() -> None:
    allowed = schema({"name": "c", "categories": ["a"]}, unknown_categories="allow")
    assert allowed.check({"c": ["a", "z"]}).ok()
    free = schema({"name": "c"})
    assert free.check({"c": ["anything"]}).ok()


def test_known_categories_are_listed_ten_at_most() -> None:
    ten = [f"k{i:02d}" for i in range(10)]
    inputs = schema({"name": "c", "categories": ten})
    assert problems(inputs.check({"c": ["z"]}))[0][1] == (
        "unknown category 'z' (str) (known: " + ", ".join(ten) + ")"
    )
    eleven = schema({"name": "c", "categories": [*ten, "k10"]})
    assert problems(eleven.check({"c": ["z"]}))[0][1] == (
        "unknown category 'z' (str) (known: " + ", ".join(ten) + ", ...)"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("a" * 38, "'" + "a" * 38 + "' (str)"),  # 40 characters with the quotes
        ("a" * 39, "'" + "a" * 36 + "... (str)"),
        ([1] * 13, "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1] (list)"),  # 39 characters
        ([1] * 14, "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ... (list)"),  # 42: 37 kept
    ],
)
def test_a_shown_value_is_cut_at_forty_characters(value: Any, shown: str) -> None:
    inputs = schema({"name": "t", "dtype": "object", "categories": ["a"]})
    message = problems(inputs.check({"t": [value]}))[0][1]
    assert message in (f"expected text, got {shown}", f"unknown category {shown} (known: a)")
    assert len(shown.rsplit(" (", 1)[0]) <= 40


# --- selecting rows -------------------------------------------------------------------------


def test_select_keeps_the_chosen_rows_and_no_problems() -> None:
    inputs = schema(
        {"name": "a", "dtype": "float64", "nullable": False}, {"name": "b", "dtype": "int64"}
    )
    checked = inputs.check({"a": [1.0, None, 3.0], "b": [1, 2, 3]})
    kept = select(checked, ~checked.bad_rows)
    assert kept.n_rows == 2
    assert kept.problems == ()
    assert kept.ok()
    assert kept.arrays["a"].tolist() == [1.0, 3.0]
    assert kept.matrix.tolist() == [[1.0, 1.0], [3.0, 3.0]]
    assert kept.bad_rows.tolist() == [False, False]
    mixed = schema({"name": "t", "dtype": "object"}).check({"t": ["x", "y"]})
    assert select(mixed, np.array([False, True])).matrix is None
    assert select(mixed, np.array([False, True])).arrays["t"].tolist() == ["y"]


# --- what mutation testing found unpinned ---------------------------------------------------


RANGE = "is outside the range of datetime64[ns], the column's type (1677-09-21 to 2262-04-11)"


def test_a_date_outside_the_nanosecond_range_is_refused_not_wrapped() -> None:
    """numpy's cast wraps silently: 3000-01-01 reached the model as 1830-11-23 before."""
    import datetime

    inputs = schema({"name": "t", "dtype": "datetime64[ns]"})
    checked = inputs.check(
        {"t": ["3000-01-01", "2262-04-11", datetime.date(1600, 1, 1), "1677-09-22", None]}
    )
    assert problems(checked) == [("t", f"'3000-01-01' (str) {RANGE}", (0, 2), 2)]
    assert np.isnat(checked.arrays["t"][[0, 2, 4]]).all()
    assert checked.arrays["t"][1] == np.datetime64("2262-04-11", "ns")
    assert checked.arrays["t"][3] == np.datetime64("1677-09-22", "ns")
    days = np.array(["2024-01-02", "3000-01-01", "NaT"], dtype="datetime64[D]")
    as_array = inputs.check({"t": days})
    assert problems(as_array) == [("t", f"datetime.date(3000, 1, 1) (date) {RANGE}", (1,), 1)]
    assert as_array.arrays["t"][0] == np.datetime64("2024-01-02", "ns")
    assert np.isnat(as_array.arrays["t"][1:]).all()
    finer = np.array(["2024-01-02T00:00:00.000000001"], dtype="datetime64[ps]")
    assert inputs.check({"t": finer}).ok()
    # picoseconds span 1970 +- 106 days: their stamps fit in nanoseconds, losing digits only
    finer = np.array(["1970-01-02T00:00:00.000000001002"], dtype="datetime64[ps]")
    as_finer = inputs.check({"t": finer})
    assert as_finer.ok()
    assert as_finer.arrays["t"][0] == np.datetime64("1970-01-02T00:00:00.000000001", "ns")


def test_the_first_and_last_whole_seconds_of_the_nanosecond_range_are_accepted() -> None:
    inputs = schema({"name": "t", "dtype": "datetime64[ns]"})
    edges = ["1677-09-21T00:12:44", "2262-04-11T23:47:16"]
    for values in (edges, np.array(edges, dtype="datetime64[s]")):
        checked = inputs.check({"t": values})
        assert checked.ok(), problems(checked)
        assert checked.arrays["t"].tolist() == [np.datetime64(e, "ns").item() for e in edges]
    beyond = ["1677-09-21T00:12:43", "2262-04-11T23:47:17"]
    assert problems(inputs.check({"t": beyond}))[0][2] == (0, 1)


def test_numbers_from_numpy_arrays_are_shown_as_plain_values() -> None:
    flag = schema({"name": "f", "dtype": "bool"})
    assert problems(flag.check({"f": np.array([1, 0])}))[0][1] == (
        "expected true or false, got 1 (int)"
    )
    text = schema({"name": "t", "dtype": "object"})
    assert problems(text.check({"t": np.array([7])}))[0][1] == "expected text, got 7 (int)"
    when = schema({"name": "t", "dtype": "datetime64[ns]"})
    assert when.check({"t": np.array([5])}).arrays["t"][0] == np.datetime64(5, "ns")
    number = schema({"name": "n", "dtype": "float64"})
    assert problems(number.check({"n": np.array([True])}))[0][1] == (
        "expected a number, got True (bool)"
    )
    parsed = number.check({"n": np.array(["1.5", " 2"])}, from_text=True)
    assert parsed.ok()
    assert parsed.arrays["n"].tolist() == [1.5, 2.0]


def test_an_object_array_of_dates_is_parsed_value_by_value() -> None:
    inputs = schema({"name": "t", "dtype": "datetime64[ns]"})
    checked = inputs.check({"t": np.array(["2024-01-02", "soon", None], dtype=object)})
    assert problems(checked) == [("t", "expected an ISO date/time, got 'soon' (str)", (1,), 1)]


def test_strings_are_never_numbers_without_from_text() -> None:
    inputs = schema({"name": "n", "dtype": "float64"})
    checked = inputs.check({"n": ["1", "2"]})
    assert problems(checked) == [("n", "expected a number, got '1' (str)", (0, 1), 2)]


def test_a_matrix_of_integer_arrays_is_float64() -> None:
    inputs = schema({"name": "a", "dtype": "int32"}, {"name": "b", "dtype": "uint8"})
    checked = inputs.check(
        {"a": np.array([1, 2], dtype=np.int32), "b": np.array([3, 4], dtype=np.uint8)}
    )
    assert checked.matrix.dtype == np.float64
    assert checked.matrix.tolist() == [[1.0, 3.0], [2.0, 4.0]]


def test_each_integer_column_is_range_checked_after_others() -> None:
    inputs = schema(
        {"name": "f", "dtype": "float64"},
        {"name": "a", "dtype": "int8"},
        {"name": "b", "dtype": "int8"},
    )
    checked = inputs.check({"f": [1.0], "a": [1], "b": [200]})
    assert problems(checked) == [
        ("b", "200 is out of range for int8, the column's type (-128 to 127)", (0,), 1)
    ]


def test_the_low_edges_of_unsigned_and_signed_columns() -> None:
    assert schema({"name": "u", "dtype": "uint8"}).check({"u": [0.0, 0, 1]}).ok()
    spelled = schema({"name": "n", "dtype": "int64"})
    assert spelled.check({"n": ["-9.223372036854775808e18"]}, from_text=True).ok()


def test_a_shown_string_is_quoted_as_sent() -> None:
    inputs = schema({"name": "c", "categories": ["a"]})
    assert problems(inputs.check({"c": ["it's"]}))[0][1] == (
        "unknown category 'it's' (str) (known: a)"
    )


def test_bad_row_masks_are_boolean() -> None:
    inputs = schema({"name": "a", "dtype": "float64"})
    uneven = inputs.check({"a": [1.0], "b": [1.0, 2.0]})
    assert uneven.bad_rows.dtype == bool
    kept = select(inputs.check({"a": [1.0, 2.0]}), np.array([True, False]))
    assert kept.bad_rows.dtype == bool
