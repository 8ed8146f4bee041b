"""``DriftTestContract``: the suite every ``conveyor.drift_tests`` component passes."""

from __future__ import annotations

import inspect
import math
from importlib.metadata import EntryPoint
from typing import TYPE_CHECKING, Any, ClassVar

from conveyor.plugins import GROUPS, Registry
from conveyor.testing._contract import ComponentContract

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from conveyor.monitoring import ColumnDrift
    from conveyor.plugins import DriftTest
    from conveyor.plugins.drift import ColumnKind

SIZES = (300, 3000)
"""Reference rows: a profile keeps the values of the first, only a quantile grid of the second."""


class DriftTestContract(ComponentContract):
    """The suite of a ``conveyor.drift_tests`` component.

    Subclass with ``component = MyTest`` and ``name = "myplug.mytest"``. For each column kind
    in ``component.kinds`` and for a small and a large reference (raw values, then only a
    quantile grid), it profiles a column, compares a batch with it through
    ``conveyor.monitoring.compare`` as ``monitor.drift.method: <name>`` does, and checks that
    an identical batch does not drift, that a clearly shifted one does, that the statistic is a
    finite float (with a p-value in [0, 1] exactly when ``p_value`` says so), and that the
    same data gives the same result. The same two verdicts hold for a batch above
    ``COUNT_ROWS``, counted file by file into the reference grid: a test that declares
    ``from_counts`` gets the counts, any other the batch's values (the same result as small).
    """

    kind = "drift_test"
    component: ClassVar[type[DriftTest[Any]]]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Run each test that takes ``column_kind`` once per kind the test supports."""
        super().pytest_generate_tests(metafunc)
        if "column_kind" in metafunc.fixturenames:
            metafunc.parametrize("column_kind", sorted(self.component.kinds), ids=str)
        if "rows" in metafunc.fixturenames:
            metafunc.parametrize("rows", SIZES, ids=lambda n: f"{n}rows")

    def compare(self, column_kind: ColumnKind, rows: int, *, shifted: bool) -> ColumnDrift:
        """Profile a column of ``rows`` values and test a batch of 2000 against it."""
        from conveyor.monitoring import ColumnTest, DriftOptions, build_profile, compare

        reference, current = self.tables(column_kind, rows, shifted=shifted)
        profile = build_profile(reference, kinds={"x": column_kind})
        options = DriftOptions(default=ColumnTest(self.name))
        (column,) = compare(profile, current, options=options, tests=self.registry()).columns
        assert column.method == self.name, f"the column was tested with '{column.method}'"
        return column

    def registry(self) -> Registry:
        """A ``conveyor.drift_tests`` registry holding only this test."""
        value = f"{self.component.__module__}:{self.component.__qualname__}"
        return Registry(self.kind, {self.name: EntryPoint(self.name, value, GROUPS[self.kind])})

    def compare_counted(
        self,
        column_kind: ColumnKind,
        rows: int,
        *,
        shifted: bool,
        folder: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> ColumnDrift:
        """:meth:`compare` on a batch above ``COUNT_ROWS`` (lowered to 0): counted, per file.

        A test whose ``from_counts`` is true gets the batch counted into the reference grid
        (``sample.current_grid``); one whose ``from_counts`` is false its values, as before.
        """
        import pyarrow.parquet as pq

        from conveyor.monitoring import (
            COUNT_ROWS_VARIABLE,
            ColumnTest,
            DriftOptions,
            MonitorRequest,
            build_profile,
            run_monitor,
        )
        from conveyor.plugins import Plugins

        reference, current = self.tables(column_kind, rows, shifted=shifted)
        pq.write_table(current.slice(0, len(current) // 2), folder / "part-0.parquet")
        pq.write_table(current.slice(len(current) // 2), folder / "part-1.parquet")
        monkeypatch.setenv(COUNT_ROWS_VARIABLE, "0")
        request = MonitorRequest(
            current=("part-*.parquet",),
            reference=build_profile(reference, kinds={"x": column_kind}),
            predictor=None,
            out_dir=folder / "reports",
            options=DriftOptions(default=ColumnTest(self.name)),
        )
        plugins = Plugins({self.kind: self.registry()})
        (column,) = run_monitor(folder, request, plugins=plugins).report.columns
        assert column.method == self.name, f"the column was tested with '{column.method}'"
        return column

    def tables(self, column_kind: ColumnKind, rows: int, *, shifted: bool) -> tuple[Any, Any]:
        """The reference (``rows`` values) and the batch (2000, or the reference itself)."""
        import numpy as np
        import pyarrow as pa

        rng = np.random.default_rng(7)
        if column_kind == "numeric":
            reference = pa.table({"x": rng.normal(0.0, 1.0, rows)})
            current = pa.table({"x": rng.normal(1.5 if shifted else 0.0, 1.0, 2000)})
        else:
            labels = np.array(["a", "b", "c"])
            reference = pa.table({"x": rng.choice(labels, rows, p=[0.5, 0.3, 0.2])})
            shares = [0.2, 0.3, 0.5] if shifted else [0.5, 0.3, 0.2]
            current = pa.table({"x": rng.choice(labels, 2000, p=shares)})
        if not shifted:
            current = reference  # the same data: nothing may drift
        return reference, current

    def test_declares_its_columns_and_threshold(self) -> None:
        """``kinds`` names column kinds; ``default_threshold`` fits what it is compared with."""
        kinds = self.component.kinds
        assert kinds, f"{self.component.__name__}.kinds is empty"
        assert set(kinds) <= {"numeric", "categorical"}, f"unknown column kinds in {kinds}"
        threshold = self.component.default_threshold
        assert isinstance(threshold, float), f"default_threshold is {threshold!r}, not a float"
        assert math.isfinite(threshold), f"default_threshold is {threshold}"
        assert threshold > 0, f"default_threshold is {threshold}; drift needs a positive one"
        if self.component.p_value:
            assert threshold < 1, f"a p-value threshold must lie below 1, not {threshold}"

    def test_run_takes_keyword_arguments_only(self) -> None:
        """``run(*, sample)``: conveyor passes its arguments by name."""
        parameters = list(inspect.signature(self.component.run).parameters.values())[1:]
        assert [p.name for p in parameters] == ["sample"], parameters
        assert all(p.kind is p.KEYWORD_ONLY for p in parameters), "write run(self, *, sample)"

    def test_the_same_data_does_not_drift(self, column_kind: ColumnKind, rows: int) -> None:
        """A batch identical to the reference is never drift."""
        column = self.compare(column_kind, rows, shifted=False)
        assert not column.drifted, f"identical data drifted: {column}"

    def test_shifted_data_drifts(self, column_kind: ColumnKind, rows: int) -> None:
        """A 1.5 sigma shift (numbers) or reversed shares (categories) is drift."""
        column = self.compare(column_kind, rows, shifted=True)
        assert column.drifted, f"a clear shift did not drift: {column}"

    def test_outcome_is_finite(self, column_kind: ColumnKind, rows: int) -> None:
        """A finite ``float`` statistic; a p-value in [0, 1] exactly for p-value tests."""
        column = self.compare(column_kind, rows, shifted=True)
        statistic, p_value = column.statistic, column.p_value
        assert type(statistic) is float, f"statistic is {type(statistic).__name__}, not float"
        assert math.isfinite(statistic), f"statistic is {statistic}"
        if self.component.p_value:
            assert isinstance(p_value, float), f"a p-value test returned p_value={p_value!r}"
            assert 0.0 <= p_value <= 1.0, f"p_value {p_value} lies outside [0, 1]"
        else:
            assert p_value is None, f"a distance returned p_value={p_value!r}; set p_value"

    def test_same_data_same_result(self, column_kind: ColumnKind) -> None:
        """The same reference and batch give the same statistic (reports are reproducible)."""
        first = self.compare(column_kind, SIZES[0], shifted=True)
        second = self.compare(column_kind, SIZES[0], shifted=True)
        assert (first.statistic, first.p_value) == (second.statistic, second.p_value)

    def test_a_counted_batch_drifts_as_its_values_do(
        self, column_kind: ColumnKind, rows: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Above ``COUNT_ROWS`` (counts, if ``from_counts``): same data stays, a shift drifts."""
        for shifted in (False, True):
            folder = tmp_path / f"shifted-{shifted}"
            folder.mkdir()
            column = self.compare_counted(
                column_kind, rows, shifted=shifted, folder=folder, monkeypatch=monkeypatch
            )
            assert column.drifted is shifted, f"a counted batch (shifted={shifted}): {column}"
            if not self.component.from_counts or column_kind == "categorical":
                exact = self.compare(column_kind, rows, shifted=shifted)
                assert (column.statistic, column.p_value) == (exact.statistic, exact.p_value), (
                    "a test without from_counts must see the batch's values, as for a small one"
                )
