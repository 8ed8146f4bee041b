"""Library versions in lineage: recorded under the name the code imports, whatever wheel."""

from __future__ import annotations

from importlib.metadata import version

import xgboost

from conveyor.runtime.lineage import LIBRARIES, distribution_version, library_versions


def test_xgboost_is_recorded_as_xgboost_whichever_wheel_installed_it() -> None:
    # The default install is the xgboost-cpu wheel; a GPU user installs xgboost. Both import as
    # 'xgboost', and lineage must say so, or the same model would get another identity.
    versions = library_versions()
    assert versions["xgboost"] == xgboost.__version__
    assert "xgboost-cpu" not in versions
    assert list(versions) == ["python", *LIBRARIES]


def test_the_first_installed_distribution_gives_the_version() -> None:
    assert distribution_version(("conveyor-no-such-dist", "numpy")) == version("numpy")
    assert distribution_version(("numpy", "conveyor-no-such-dist")) == version("numpy")
    assert distribution_version(("conveyor-no-such-dist",)) is None
