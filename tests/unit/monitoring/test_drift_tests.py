"""The built-in drift tests on hand-sized inputs, against values worked out by hand.

Each expected number comes from the test's textbook formula evaluated here on a few counts
(chi-square's one-degree survival is erfc(sqrt(x/2)), the normal's two-sided p erfc(|z|/sqrt 2)),
or from scipy called directly where the module's docstring says it is scipy's test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from conveyor.components import drift
from conveyor.plugins import NoParams
from conveyor.plugins.drift import ColumnSample, NumericReference, Outcome


def numeric(grid: list[float], std: float, current: list[float], **more: object) -> ColumnSample:
    reference = NumericReference(
        quantiles=np.array(grid, dtype=float),
        sample=more.get("sample"),  # type: ignore[arg-type]
        count=int(more.get("count", len(grid))),  # type: ignore[arg-type]
        std=std,
    )
    return ColumnSample(
        kind="numeric",
        keys=("a", "b"),
        reference_counts=np.array([1.0, 1.0]),
        current_counts=np.array([1.0, 1.0]),
        reference=reference,
        current=np.array(current, dtype=float),
    )


def counts(reference: list[float], current: list[float], first: int = 0) -> ColumnSample:
    return ColumnSample(
        kind="categorical",
        keys=tuple(str(i) for i in range(len(reference))),
        reference_counts=np.array(reference, dtype=float),
        current_counts=np.array(current, dtype=float),
        first=first,
    )


def test_the_tests_declare_their_kinds_rules_and_defaults() -> None:
    table = {
        drift.KolmogorovSmirnov: ({"numeric"}, True, 0.05),
        drift.ChiSquare: ({"numeric", "categorical"}, True, 0.05),
        drift.ZTest: ({"numeric", "categorical"}, True, 0.05),
        drift.Wasserstein: ({"numeric"}, False, 0.1),
        drift.JensenShannon: ({"numeric", "categorical"}, False, 0.1),
        drift.PopulationStability: ({"numeric", "categorical"}, False, 0.25),
    }
    for cls, (kinds, p_value, threshold) in table.items():
        assert set(cls.kinds) == kinds, cls
        assert cls.p_value is p_value, cls
        assert cls.default_threshold == threshold, cls
    assert drift.EPSILON == 1e-4
    assert drift.MIN_STD == 0.001


def test_ks_drifts_at_or_below_its_threshold_others_strictly_below() -> None:
    ks, chi = drift.KolmogorovSmirnov(NoParams()), drift.ChiSquare(NoParams())
    assert ks.drifted(outcome=Outcome(0.3, 0.05), threshold=0.05)
    assert not ks.drifted(outcome=Outcome(0.3, 0.0500001), threshold=0.05)
    assert ks.drifted(outcome=Outcome(0.3, 0.0), threshold=0.05)
    assert not ks.drifted(outcome=Outcome(0.3, None), threshold=0.05)
    assert not chi.drifted(outcome=Outcome(3.0, 0.05), threshold=0.05)
    assert chi.drifted(outcome=Outcome(3.0, 0.0499), threshold=0.05)


def test_shares() -> None:
    assert drift.shares(np.array([1.0, 3.0])).tolist() == [0.25, 0.75]
    assert drift.shares(np.array([0.0, 0.0])).tolist() == [0.0, 0.0]
    assert drift.shares(np.array([0.0, 2.0])).tolist() == [0.0, 1.0]


def test_psi_by_hand() -> None:
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
    assert drift.psi(np.array([0.5, 0.5]), np.array([0.25, 0.75])) == pytest.approx(
        0.2746530721670274, rel=1e-12
    )
    # an empty reference share becomes 1e-4: (0.5 - 1) ln 0.5 + (0.5 - 1e-4) ln(0.5 / 1e-4)
    assert drift.psi(np.array([1.0, 0.0]), np.array([0.5, 0.5])) == pytest.approx(
        4.60431846666895, rel=1e-12
    )
    # and an empty current share too: (1e-4 - 0.5) ln(1e-4 / 0.5) + (1 - 0.5) ln(1 / 0.5)
    both = (1e-4 - 0.5) * math.log(1e-4 / 0.5) + 0.5 * math.log(2)
    assert drift.psi(np.array([0.5, 0.5]), np.array([0.0, 1.0])) == pytest.approx(both, rel=1e-12)
    assert drift.psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0
    sample = counts([2, 2], [1, 3])
    assert drift.PopulationStability(NoParams()).run(sample=sample).statistic == pytest.approx(
        0.2746530721670274, rel=1e-12
    )
    assert drift.PopulationStability(NoParams()).run(sample=sample).p_value is None


@pytest.mark.parametrize(
    ("grid", "std", "current", "expected"),
    [
        ([0, 1, 2], 2.0, [1, 2, 3], 0.5),  # gaps 1, 1, 1: W1 = (3 - 1) / 2 = 1, over std 2
        ([0, 1, 2], 0.5, [0, 1, 4], 1.0),  # gaps 0, 0, 2: W1 = (2 - 1) / 2 = 0.5, over 0.5
        ([0, 1, 2, 3, 4], 1.0, [0, 1, 2, 3, 8], 0.5),  # gaps 0 0 0 0 4: (4 - 2) / 4
        ([0, 1, 2, 3, 4], 1.0, [4, 1, 2, 3, 4], 0.5),  # unsorted: only the grid's ends count half
        ([0, 0, 0], 0.0, [0, 0, 0.003], 0.75),  # W1 0.00075 over the 0.001 floor
        ([0, 0, 0], 0.0005, [0, 0, 0.003], 0.75),  # a std under the floor: the floor
        ([0, 0, 0], 0.002, [0, 0, 0.003], 0.375),  # a std over it: the std
    ],
)
def test_wasserstein_is_the_trapezoid_w1_over_the_reference_std(
    grid: list[float], std: float, current: list[float], expected: float
) -> None:
    sample = numeric(grid, std, current)
    outcome = drift.Wasserstein(NoParams()).run(sample=sample)
    assert outcome.statistic == pytest.approx(expected, rel=1e-12)
    assert outcome.p_value is None


def test_ks_on_kept_reference_values_is_scipys_ks_2samp() -> None:
    reference = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    current = np.array([2.5, 3.5, 4.5, 5.5])
    sample = numeric([0, 2, 4], 1.0, current.tolist(), sample=reference, count=5)
    outcome = drift.KolmogorovSmirnov(NoParams()).run(sample=sample)
    expected = stats.ks_2samp(reference, current)
    assert outcome.statistic == expected.statistic
    assert outcome.p_value == expected.pvalue
    assert type(outcome.statistic) is float
    assert type(outcome.p_value) is float


def test_ks_on_a_quantile_grid_is_the_sup_distance_with_kstwo_at_the_effective_size() -> None:
    # reference grid 0, 1, 2 (its CDF linear between them), batch ten 0.5s and ten 1.5s: the
    # largest gap is at 0.5 and at 1.5 (F_cur 0.5 vs F_ref 0.25, then 1 vs 0.75): 0.25.
    # n*m/(n+m) = 1000 * 20 / 1020 = 19.6, so kstwo with 20 samples.
    sample = numeric([0, 1, 2], 1.0, [0.5] * 10 + [1.5] * 10, count=1000)
    outcome = drift.KolmogorovSmirnov(NoParams()).run(sample=sample)
    assert outcome.statistic == pytest.approx(0.25, abs=1e-12)
    assert outcome.p_value == pytest.approx(stats.kstwo.sf(0.25, 20), rel=1e-12)
    assert not math.isclose(stats.kstwo.sf(0.25, 20), stats.kstwo.sf(0.25, 19), rel_tol=1e-3)
    assert type(outcome.p_value) is float


def test_ks_on_a_grid_counts_ties_at_a_point_on_the_batch_side() -> None:
    # batch all at 1: F_cur(1) = 1 (ties count, side='right'), F_ref(1) = 0.5 -> 0.5; at 0 both 0
    sample = numeric([0, 1, 2], 1.0, [1.0, 1.0, 1.0, 1.0], count=4000)
    outcome = drift.KolmogorovSmirnov(NoParams()).run(sample=sample)
    assert outcome.statistic == pytest.approx(0.5, abs=1e-12)
    assert outcome.p_value == pytest.approx(stats.kstwo.sf(0.5, 4), rel=1e-12)  # 16000/4004


def test_chisquare_by_hand() -> None:
    # expected 50 / 50, observed 30 / 70: (20^2 / 50) * 2 = 16 on one degree of freedom
    outcome = drift.ChiSquare(NoParams()).run(sample=counts([50, 50], [30, 70]))
    assert outcome.statistic == pytest.approx(16.0, rel=1e-12)
    assert outcome.p_value == pytest.approx(math.erfc(math.sqrt(16 / 2)), rel=1e-9)
    # expected shares from a reference of another size: 1 / 1 of 100 rows is still 50 / 50
    assert drift.chisquare(np.array([1.0, 1.0]), np.array([30.0, 70.0])).statistic == (
        pytest.approx(16.0, rel=1e-12)
    )


def test_chisquare_drops_a_key_neither_side_has() -> None:
    # the middle key is empty on both sides: 5 and 15 against 10 and 10 on one degree
    outcome = drift.chisquare(np.array([10.0, 0.0, 10.0]), np.array([5.0, 0.0, 15.0]))
    assert outcome.statistic == pytest.approx(5.0, rel=1e-12)
    assert outcome.p_value == pytest.approx(math.erfc(math.sqrt(5 / 2)), rel=1e-9)


def test_chisquare_gives_an_unseen_category_a_tiny_share_not_an_infinite_statistic() -> None:
    # shares 1 and 1e-4, rescaled by 1.0001, times 10 rows: observed 5 and 5
    e1, e2 = 10 / 1.0001, 10 * 1e-4 / 1.0001
    statistic = (5 - e1) ** 2 / e1 + (5 - e2) ** 2 / e2
    outcome = drift.chisquare(np.array([10.0, 0.0]), np.array([5.0, 5.0]))
    assert outcome.statistic == pytest.approx(statistic, rel=1e-9)
    assert statistic == pytest.approx(24995.00025, rel=1e-9)
    # an unseen key the batch does not have either is dropped, not given a share
    kept = drift.chisquare(np.array([10.0, 0.0, 10.0]), np.array([10.0, 0.0, 10.0]))
    assert kept.statistic == 0.0
    assert kept.p_value == 1.0


def test_ztest_by_hand() -> None:
    # shares not the first key: 0.7 of 100 and 0.5 of 100; pooled 0.6
    # z = 0.2 / sqrt(0.6 * 0.4 * (1/100 + 1/100))
    outcome = drift.ZTest(NoParams()).run(sample=counts([30, 70], [50, 50]))
    assert outcome.statistic == pytest.approx(2.886751345948129, rel=1e-12)
    assert outcome.p_value == pytest.approx(0.003892417122778627, rel=1e-9)
    other = drift.ZTest(NoParams()).run(sample=counts([70, 30], [50, 50], first=1))
    assert other.statistic == pytest.approx(2.886751345948129, rel=1e-12)
    flipped = drift.ztest(0, np.array([70.0, 30.0]), np.array([50.0, 50.0]))
    assert flipped.statistic == pytest.approx(-2.886751345948129, rel=1e-12)
    assert flipped.p_value == pytest.approx(0.003892417122778627, rel=1e-9)


def test_ztest_with_unequal_sizes_and_three_keys() -> None:
    # 0.8 of 100 vs 0.75 of 40 not the first key; pooled 110 / 140
    outcome = drift.ztest(0, np.array([20.0, 50.0, 30.0]), np.array([10.0, 25.0, 5.0]))
    assert outcome.statistic == pytest.approx(0.6513389472789302, rel=1e-12)
    assert outcome.p_value == pytest.approx(0.5148277121984438, rel=1e-9)


@pytest.mark.parametrize(
    ("reference", "current"),
    [([10.0, 0.0], [5.0, 0.0]), ([0.0, 10.0], [0.0, 5.0])],
    ids=["only the first key", "never the first key"],
)
def test_ztest_of_one_value_on_both_sides_is_no_drift(
    reference: list[float], current: list[float]
) -> None:
    outcome = drift.ztest(0, np.array(reference), np.array(current))
    assert (outcome.statistic, outcome.p_value) == (0.0, 1.0)


def test_jensen_shannon_is_the_natural_log_distance() -> None:
    outcome = drift.JensenShannon(NoParams()).run(sample=counts([1, 0], [0, 1]))
    assert outcome.statistic == pytest.approx(math.sqrt(math.log(2)), rel=1e-12)
    assert outcome.p_value is None
    assert drift.jensenshannon(np.array([3.0, 1.0]), np.array([6.0, 2.0])).statistic == (
        pytest.approx(0.0, abs=1e-7)
    )


@pytest.mark.parametrize("test", [drift.KolmogorovSmirnov, drift.Wasserstein])
def test_a_numeric_test_on_a_categorical_column_is_a_type_error(test: type) -> None:
    with pytest.raises(TypeError, match=r"^a numeric test got a categorical column$"):
        test(NoParams()).run(sample=counts([1, 1], [1, 1]))
    half = numeric([0, 1], 1.0, [0.5])
    no_current = ColumnSample(
        "numeric", half.keys, half.reference_counts, half.current_counts, reference=half.reference
    )
    with pytest.raises(TypeError, match=r"^a numeric test got a numeric column$"):
        test(NoParams()).run(sample=no_current)


def test_shares_of_fractional_counts() -> None:
    """Binned counts may be fractional: a total under one still divides."""
    assert drift.shares(np.array([0.25, 0.5])).tolist() == [1 / 3, 2 / 3]


def test_chisquare_keeps_a_key_the_batch_lacks_and_rescales_for_one_it_alone_has() -> None:
    # expected 5 / 5, observed 10 / 0: 25/5 + 25/5 = 10 on one degree of freedom
    lacking = drift.chisquare(np.array([5.0, 5.0]), np.array([10.0, 0.0]))
    assert lacking.statistic == pytest.approx(10.0, rel=1e-12)
    assert lacking.p_value == pytest.approx(math.erfc(math.sqrt(10 / 2)), rel=1e-9)
    # shares 0.5, 0.5, 0 -> 0.5, 0.5, 1e-4 over 1.0001; one row in the unseen key
    e = np.array([0.5, 0.5, 1e-4]) / 1.0001 * 10
    observed = np.array([5.0, 4.0, 1.0])
    unseen = drift.chisquare(np.array([5.0, 5.0, 0.0]), observed)
    assert unseen.statistic == pytest.approx(float(((observed - e) ** 2 / e).sum()), rel=1e-9)
    assert math.isfinite(unseen.statistic)


def test_ks_on_a_grid_reads_the_batch_cdf_just_below_a_step() -> None:
    # reference grid 0, 1 (F_ref(x) = x), batch 0, 1, 1, 1: F_cur is 0.25 on [0, 1). The batch's
    # own 1001-point grid reaches 0.999 below the step (u = 333/1000 of 3 positions): 0.749.
    sample = numeric([0, 1], 1.0, [0.0, 1.0, 1.0, 1.0], count=5000)
    outcome = drift.KolmogorovSmirnov(NoParams()).run(sample=sample)
    assert outcome.statistic == pytest.approx(0.749, abs=1e-12)


def test_ks_on_a_grid_counts_a_batch_value_at_its_own_point() -> None:
    # grid 0, 0.5, 1, 4: F_ref(1) = 2/3; a batch all at 1 has F_cur(1) = 1, so |2/3 - 1| = 1/3
    # (0.5 gives 1/3 too); counting ties on the left would give 2/3.
    sample = numeric([0, 0.5, 1, 4], 1.0, [1.0, 1.0, 1.0, 1.0], count=5000)
    outcome = drift.KolmogorovSmirnov(NoParams()).run(sample=sample)
    assert outcome.statistic == pytest.approx(1 / 3, abs=1e-12)
