"""The plugin passes conveyor's conformance suites, like conveyor's own components."""

from __future__ import annotations

from typing import Any, ClassVar

from dummy_plugin.components import BlobsSource, NearestCentroidModel, TotalVariation

from conveyor.testing import DriftTestContract, ModelContract, SourceContract


class TestNearestCentroid(ModelContract):
    component = NearestCentroidModel
    name = "dummy.nearest_centroid"
    params: ClassVar[dict[str, Any]] = {"priors": "empirical"}


class TestBlobs(SourceContract):
    component = BlobsSource
    name = "dummy.blobs"
    params: ClassVar[dict[str, Any]] = {"n_rows": 50, "n_features": 3, "seed": 7}


class TestTotalVariation(DriftTestContract):
    component = TotalVariation
    name = "dummy.total_variation"
