"""Which drift tests travel to a worker with counted sides (``Tests.for_worker``)."""

from __future__ import annotations

import pickle

import pytest

from conveyor.components.drift import KolmogorovSmirnov
from conveyor.monitoring import _compare
from conveyor.monitoring._compare import AUTO_METHODS
from conveyor.monitoring.drift import ColumnTest, DriftOptions
from conveyor.plugins import Registry
from tests.unit.monitoring.test_grid import FromCounts, _plugins


def _tests() -> _compare.Tests:
    return _compare.Tests(Registry.discover("drift_test"))


def test_conveyors_own_tests_travel_loaded_with_every_one_auto_can_pick() -> None:
    options = DriftOptions(columns={"a": ColumnTest("psi", 0.2)})
    shipped = _tests().for_worker(options)
    assert shipped is not None
    assert shipped.registry is None  # a worker looks nothing up
    for name in (*AUTO_METHODS, "psi"):
        assert shipped.get(name, where="w").from_counts
    with pytest.raises(KeyError, match="'nope' was not loaded"):
        shipped.get("nope", where="w")
    again = pickle.loads(pickle.dumps(shipped))  # noqa: S301 - as a task argument travels
    assert type(again.get("ks", where="w")) is KolmogorovSmirnov


def test_the_configured_test_is_loaded_even_when_auto_would_not_pick_it() -> None:
    shipped = _tests().for_worker(DriftOptions(default=ColumnTest("psi")))
    assert shipped is not None
    assert shipped.get("psi", where="w").from_counts


def test_a_plugins_test_stays_here_even_from_counts() -> None:
    registry = _plugins("t.counts", FromCounts)["drift_test"]
    options = DriftOptions(columns={"big": ColumnTest("t.counts")})
    assert _compare.Tests(registry).for_worker(options) is None
    assert _compare.Tests(registry).for_worker(DriftOptions()) is not None  # not used


def test_a_test_that_needs_values_stays_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(KolmogorovSmirnov, "from_counts", False)
    assert _tests().for_worker(DriftOptions()) is None  # auto may pick ks


def test_an_unknown_test_stays_here_to_be_reported_where_it_is_configured() -> None:
    assert _tests().for_worker(DriftOptions(columns={"a": ColumnTest("kss")})) is None
