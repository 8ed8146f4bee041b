"""The plugin's components. scikit-learn and pandas are imported inside methods, as conveyor's own
components do, so that discovering the plugin stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from conveyor.plugins import DriftTest, Model, NoParams, Outcome, Source

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from conveyor.plugins import ColumnSample
    from conveyor.spec import Task


class NearestCentroidParams(BaseModel):
    """``sklearn.neighbors.NearestCentroid`` arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: Literal["euclidean"] = "euclidean"
    """'manhattan' is left out: with it NearestCentroid has no predict_proba, which the
    score metrics (roc_auc, log_loss, ...) of a classifier need."""
    shrink_threshold: float | None = Field(default=None, gt=0)
    priors: Literal["uniform", "empirical"] | list[float] = "uniform"


class NearestCentroidModel(Model[NearestCentroidParams]):
    """``kind: dummy.nearest_centroid`` — each class is the mean of its rows (classification)."""

    Params = NearestCentroidParams
    tasks: ClassVar[tuple[Task, ...]] = ("binary_classification", "multiclass_classification")

    def estimator_class(self, task: Task) -> type[Any]:
        """``NearestCentroid``, for either classification task."""
        del task
        from sklearn.neighbors import NearestCentroid

        return NearestCentroid

    def build(self, task: Task, seed: int) -> Any:
        """NearestCentroid is deterministic and takes no ``random_state``: the seed is unused."""
        del seed
        return self.estimator_class(task)(**self.explicit_params())


class BlobsParams(BaseModel):
    """Size and seed of the synthetic table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_rows: int = Field(default=200, ge=10)
    n_features: int = Field(default=4, ge=2, le=50)
    seed: int = Field(default=0, ge=0)


class BlobsSource(Source[BlobsParams]):
    """``kind: dummy.blobs`` — a seeded two-class table: ``x0..x{n-1}`` and ``label``."""

    Params = BlobsParams

    def read(self, root: Path) -> pd.DataFrame:
        """Generate the rows; the same params always give the same table."""
        del root
        import pandas as pd
        from sklearn.datasets import make_classification

        x, y = make_classification(
            n_samples=self.params.n_rows,
            n_features=self.params.n_features,
            n_informative=2,
            n_redundant=0,
            n_clusters_per_class=1,
            random_state=self.params.seed,
        )
        frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(self.params.n_features)])
        frame["label"] = y
        return frame


class TotalVariation(DriftTest[NoParams]):
    """``method: dummy.total_variation`` — half the L1 distance between the two sides' shares.

    It works on the counts every column comes with (categories, distinct values or quantile
    bins), so it tests numeric and categorical columns alike.
    """

    default_threshold: ClassVar[float] = 0.1

    def run(self, *, sample: ColumnSample) -> Outcome:
        """0 for identical shares, 1 for disjoint ones."""
        import numpy as np

        reference = sample.reference_counts / max(float(sample.reference_counts.sum()), 1.0)
        current = sample.current_counts / max(float(sample.current_counts.sum()), 1.0)
        return Outcome(float(np.abs(reference - current).sum() / 2))
