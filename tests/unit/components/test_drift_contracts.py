"""The built-in drift tests pass the conveyor.testing suite that drift-test plugins pass."""

from __future__ import annotations

from conveyor.components import drift
from conveyor.testing import DriftTestContract


class TestKolmogorovSmirnov(DriftTestContract):
    component = drift.KolmogorovSmirnov
    name = "ks"


class TestChiSquare(DriftTestContract):
    component = drift.ChiSquare
    name = "chisquare"


class TestZTest(DriftTestContract):
    component = drift.ZTest
    name = "ztest"


class TestWasserstein(DriftTestContract):
    component = drift.Wasserstein
    name = "wasserstein"


class TestJensenShannon(DriftTestContract):
    component = drift.JensenShannon
    name = "jensenshannon"


class TestPopulationStability(DriftTestContract):
    component = drift.PopulationStability
    name = "psi"
