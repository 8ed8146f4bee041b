"""A batch above COUNT_ROWS: counted file by file into the reference grid, never one table.

The counted path must give the count-based tests (PSI, chi-square, Jensen-Shannon, z) exactly
the numbers the values give, keep KS and Wasserstein within their documented bounds of scipy
on the exact data, never concatenate the batch in process, and hand a plugin test that cannot
work from counts the exact values.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conveyor.components.drift import ks_counts, wasserstein_counts
from conveyor.errors import UsageError
from conveyor.monitoring import MonitorRequest, run_monitor
from conveyor.monitoring import _batch as batch_module
from conveyor.monitoring._grid import (
    COUNT_ROWS,
    COUNT_ROWS_VARIABLE,
    count_rows,
    grid_edges,
    is_large,
)
from conveyor.monitoring._stats import numeric_reference
from conveyor.monitoring.drift import ColumnTest, DriftOptions
from conveyor.monitoring.profile import build_profile
from conveyor.plugins import GROUPS, NoParams, Plugins, Registry
from conveyor.plugins.drift import ColumnSample, DriftTest, GridCounts, Outcome

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.monitoring.profile import Profile
    from conveyor.plugins.drift import NumericReference

PARTS = (0, 900, 2100, 2500, 4000)


def _counted(reference: NumericReference, values: np.ndarray) -> GridCounts:
    """The batch ``values`` counted as one file is (side="right" bins of the grid's edges)."""
    ordered = np.sort(values)
    edges = grid_edges(reference)
    below = np.searchsorted(ordered, edges, side="right")
    counts = np.diff(np.concatenate(([0], below, [len(ordered)])))
    return GridCounts(edges, counts, len(ordered), float(ordered[0]), float(ordered[-1]))


def _reference(values: np.ndarray) -> NumericReference:
    profile = build_profile(pd.DataFrame({"x": values}))
    return numeric_reference(profile.column("x"))


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5, 2.0])
def test_ks_from_counts_is_within_its_bound_of_scipy(shift: float) -> None:
    rng = np.random.default_rng(3)
    sample = rng.normal(0.0, 1.0, 800)  # <= 1000: the profile keeps the values
    current = rng.normal(shift, 1.2, 50_000)
    reference = _reference(sample)
    grid = _counted(reference, current)
    exact = stats.ks_2samp(sample, current).statistic
    found = ks_counts(reference, grid).statistic
    bound = float(grid.bin_shares().max())  # a kept sample's values are edges: r_i = 0
    assert exact - bound - 1e-12 <= found <= exact + 1e-12
    if shift < 1:  # small where the batch lies in the reference's range (fine bins)
        assert bound < 0.01


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.3, 1.0])
def test_wasserstein_from_counts_is_within_its_bound_of_scipy(shift: float) -> None:
    rng = np.random.default_rng(4)
    population = rng.normal(0.0, 1.0, 20_000)  # > 1000: the profile keeps the grid only
    current = rng.normal(shift, 1.1, 50_000)
    reference = _reference(population)
    grid = _counted(reference, current)
    found = wasserstein_counts(reference, grid).statistic
    exact = stats.wasserstein_distance(population, current) / population.std()
    widths = np.diff(np.concatenate(([grid.minimum], grid.edges, [grid.maximum])))
    widths = np.clip(widths, 0.0, None)
    bound = float(np.sum((grid.bin_shares() + 0.001) * widths)) / reference.std
    assert abs(found - exact) <= bound + 0.01  # 0.01: the 1001-point trapezoid, as on values
    if shift < 1:
        assert bound < 0.05


def test_grid_counts_cdf_is_exact_at_the_edges_and_quantiles_invert_it() -> None:
    rng = np.random.default_rng(5)
    reference = _reference(rng.normal(0.0, 1.0, 5000))
    current = np.concatenate((rng.normal(0.3, 1.0, 9000), np.full(1000, 0.25)))  # an atom
    grid = _counted(reference, current)
    exact = np.searchsorted(np.sort(current), grid.edges, side="right") / len(current)
    assert np.array_equal(grid.cdf(grid.edges), exact)
    shares = np.linspace(0.0, 1.0, 101)
    assert np.allclose(grid.cdf(grid.quantiles(shares)), shares, atol=1e-9)
    assert grid.quantiles(np.array([0.0]))[0] == grid.minimum
    assert grid.quantiles(np.array([1.0]))[0] == grid.maximum


def _frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "big": rng.normal(shift, 1.0, rows),
            "few": rng.integers(0, 4, rows).astype("int64"),
            "holes": np.where(rng.random(rows) < 0.1 + shift / 4, np.nan, rng.random(rows)),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "_score": rng.beta(2 + shift, 2, rows),
        }
    )
    if shift:
        frame.loc[frame.index[::7], "colour"] = "mauve"
        frame.loc[frame.index[::11], "few"] = 9  # a value the reference never had
    return frame


def _profile(rows: int) -> Profile:
    frame = _frame(rows, seed=1)
    return build_profile(
        frame.drop(columns="_score"),
        kinds={"few": "numeric", "colour": "categorical"},
        prediction=frame["_score"].to_numpy(),
    )


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """A batch of 5000 rows in four Parquet parts and one CSV."""
    current = _frame(5000, seed=2, shift=0.3)
    for index, (start, stop) in enumerate(zip(PARTS, [*PARTS[1:], 5000], strict=True)):
        part = current.iloc[start:stop]
        if index == 2:
            part.to_csv(tmp_path / f"part-{index}.csv", index=False)
        else:
            part.to_parquet(tmp_path / f"part-{index}.parquet", index=False)
    return tmp_path


def _monitor(
    root: Path,
    reference: Profile,
    out: str,
    options: DriftOptions | None = None,
    plugins: Plugins | None = None,
) -> dict[str, Any]:
    request = MonitorRequest(
        current=("part-*",),
        reference=reference,
        predictor=None,
        out_dir=root / out,
        options=options,
    )
    return run_monitor(root, request, plugins=plugins).document


def _columns(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {column["column"]: column for column in document["columns"]}


@pytest.mark.parametrize("rows", [400, 3000], ids=["sample", "grid"])
def test_counted_batch_gives_the_count_tests_the_same_numbers(
    log: Path, monkeypatch: pytest.MonkeyPatch, rows: int
) -> None:
    reference = _profile(rows)
    options = DriftOptions(columns={"big": ColumnTest("psi"), "holes": ColumnTest("chisquare")})
    exact = _monitor(log, reference, "exact", options)
    monkeypatch.setenv(COUNT_ROWS_VARIABLE, "4999")

    def no_concat(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the counted path read the batch as one table")

    monkeypatch.setattr(batch_module, "read_batch", no_concat)
    counted = _monitor(log, reference, "counted", options)
    for key in ("rows", "quality_issues", "dataset_drift", "drifted_columns"):
        assert counted[key] == exact[key], key
    assert counted["quality"] == exact["quality"]  # out of range, new values, null rate: exact
    before, after = _columns(exact), _columns(counted)
    for name, column in before.items():
        assert after[name]["psi"] == column["psi"], name  # the 10 PSI bins are sums of bins
        assert after[name]["method"] == column["method"], name
        assert after[name]["current_rows"] == column["current_rows"], name
        if column["method"] in {"psi", "chisquare", "jensenshannon", "ztest"}:
            assert after[name] == column, name
        else:
            assert after[name]["statistic"] == pytest.approx(column["statistic"], abs=0.01)


def test_at_the_threshold_nothing_is_counted(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """5000 rows with a threshold of 5000: the batch is read whole, as always."""
    monkeypatch.setenv(COUNT_ROWS_VARIABLE, "5000")
    calls: list[int] = []
    read = batch_module.read_batch

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return read(*args, **kwargs)

    monkeypatch.setattr(batch_module, "read_batch", counting)
    _monitor(log, _profile(3000), "whole")
    assert calls == [1]


def test_threshold_is_a_named_constant_with_a_checked_override(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(COUNT_ROWS_VARIABLE, raising=False)
    assert count_rows() == COUNT_ROWS == 1_000_000
    monkeypatch.setenv(COUNT_ROWS_VARIABLE, "12")
    assert count_rows() == 12
    monkeypatch.setenv(COUNT_ROWS_VARIABLE, "lots")
    with pytest.raises(UsageError, match=COUNT_ROWS_VARIABLE):
        count_rows()


class _Seen:
    samples: ClassVar[list[ColumnSample]] = []


class ValuesOnly(DriftTest[NoParams]):
    """A plugin test that needs the batch's values (``from_counts`` left False)."""

    kinds = frozenset({"numeric"})
    default_threshold: ClassVar[float] = 0.5

    def run(self, *, sample: ColumnSample) -> Outcome:
        """The batch's mean, from its values."""
        _Seen.samples.append(sample)
        assert sample.current is not None
        return Outcome(float(np.mean(sample.current)))


class FromCounts(ValuesOnly):
    """The same test, declared able to work from grid counts."""

    from_counts = True

    def run(self, *, sample: ColumnSample) -> Outcome:
        """The batch's mean, from the middle of its bins (or from its values)."""
        _Seen.samples.append(sample)
        if sample.current is not None:
            return Outcome(float(np.mean(sample.current)))
        grid = sample.current_grid
        assert grid is not None
        middle = grid.quantiles(np.linspace(0.005, 0.995, 100))
        return Outcome(float(middle.mean()))


def _plugins(name: str, cls: type[DriftTest[Any]]) -> Plugins:
    group = GROUPS["drift_test"]
    entries = {entry.name: entry for entry in entry_points(group=group)}  # the built-ins
    entries[name] = EntryPoint(name, f"{__name__}:{cls.__qualname__}", group)
    return Plugins({"drift_test": Registry("drift_test", entries)})


@pytest.mark.parametrize(
    ("name", "cls", "counted"), [("t.values", ValuesOnly, False), ("t.counts", FromCounts, True)]
)
def test_a_plugin_gets_counts_only_when_it_says_it_can(
    log: Path, monkeypatch: pytest.MonkeyPatch, name: str, cls: type[DriftTest[Any]], counted: bool
) -> None:
    reference = _profile(3000)
    options = DriftOptions(columns={"big": ColumnTest(name)}, ignore=("few", "holes", "colour"))
    exact = _monitor(log, reference, "exact", options, _plugins(name, cls))
    _Seen.samples.clear()
    monkeypatch.setenv(COUNT_ROWS_VARIABLE, "1000")
    found = _monitor(log, reference, "counted", options, _plugins(name, cls))
    (sample,) = _Seen.samples
    assert (sample.current is None) is counted
    assert (sample.current_grid is not None) is counted
    (before,), (after,) = exact["columns"], found["columns"]
    if counted:
        assert after["statistic"] == pytest.approx(before["statistic"], abs=0.02)
    else:
        assert after == before  # today's values path, exactly


def test_rows_come_from_parquet_footers_and_csv_files_counted_when_they_could_matter(
    log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = sorted(log.glob("part-*"))  # 4600 rows in Parquet, 400 in one CSV
    parquet = [file for file in files if file.suffix == ".parquet"]
    monkeypatch.setenv(COUNT_ROWS_VARIABLE, "4599")
    assert is_large(parquet)
    monkeypatch.setenv(COUNT_ROWS_VARIABLE, "4600")
    assert not is_large(parquet)
    assert is_large(files)  # the CSV's 400 rows take it over
    monkeypatch.setenv(COUNT_ROWS_VARIABLE, "5000")
    assert not is_large(files)
    (log / "broken.parquet").write_bytes(b"not parquet")  # left to the reader to report
    assert not is_large([*files, log / "broken.parquet"])
