"""The default thresholds pinned: a shift whose oracle statistic lies just either side of 0.1.

Evidently 0.7's defaults for a reference of more than 1000 values (../shared/reference): W1 /
std(reference) >= 0.1 for numeric columns, Jensen-Shannon distance (natural log) >= 0.1 for
categorical ones. The oracles are scipy's own functions on the raw values; each case is chosen
so that a threshold of 0.09 or 0.15 would decide it the other way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from conveyor.monitoring import build_profile, compare


@pytest.mark.parametrize(("shift", "drifted"), [(0.095, False), (0.12, True), (0.14, True)])
def test_default_wasserstein_threshold_is_one_tenth_of_the_reference_std(
    shift: float, drifted: bool
) -> None:
    ref = np.random.default_rng(7).normal(50.0, 4.0, 20_000)
    cur = ref + shift * ref.std()  # the same distribution moved: W1 is the shift itself
    oracle = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert oracle == pytest.approx(shift, rel=1e-9)
    assert 0.09 < oracle < 0.15
    drift = compare(build_profile(pd.DataFrame({"x": ref})), pd.DataFrame({"x": cur})).columns[0]
    assert drift.method == "wasserstein"
    assert drift.threshold == 0.1
    assert drift.statistic == pytest.approx(oracle, rel=1e-3)
    assert drift.drifted is drifted


@pytest.mark.parametrize(("moved", "drifted"), [(330, False), (400, True), (450, True)])
def test_default_jensen_shannon_threshold_is_one_tenth(moved: int, drifted: bool) -> None:
    ref = ["a"] * 1000 + ["b"] * 1000 + ["c"] * 1000
    cur = ["a"] * (1000 + moved) + ["b"] * 1000 + ["c"] * (1000 - moved)
    oracle = distance.jensenshannon([1000, 1000, 1000], [1000 + moved, 1000, 1000 - moved])
    assert 0.09 < oracle < 0.15
    assert bool(oracle >= 0.1) is drifted
    drift = compare(build_profile(pd.DataFrame({"c": ref})), pd.DataFrame({"c": cur})).columns[0]
    assert drift.method == "jensenshannon"
    assert drift.threshold == 0.1
    assert drift.statistic == pytest.approx(oracle, rel=1e-12)
    assert drift.drifted is drifted
