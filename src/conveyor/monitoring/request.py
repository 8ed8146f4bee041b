"""One monitoring run's request: the batch, what it is compared with, and how it is judged.

The ``monitor`` stage, ``conveyor monitor`` and ``conveyor ct`` each build one
:class:`MonitorRequest` and hand it to :func:`conveyor.monitoring.monitor.run_monitor`. The
project's ``monitor:`` settings become a request in one place, :meth:`MonitorRequest.from_spec`,
so the three callers cannot drift apart on which key means what::

    request = MonitorRequest.from_spec(
        spec.monitor, current=["data/batches/week-47.parquet"], reference=profile,
        predictor=predictor, out_dir=Path("reports"), target="diagnosis", metric="roc_auc",
    )
    result = run_monitor(root, request)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor._paths import PROFILE_FILE

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from conveyor.bundle.predictor import Predictor
    from conveyor.monitoring.drift import DriftOptions
    from conveyor.monitoring.profile import Profile
    from conveyor.spec import DriftSpec, MonitorSpec, QualitySpec

__all__ = ["MonitorRequest", "drift_options"]


@dataclass(frozen=True)
class MonitorRequest:
    """Everything one monitoring run reads, built once by its caller."""

    current: tuple[str, ...]
    """Files, folders or globs of the batch (relative to the root); a prediction-log directory
    works too."""
    reference: Profile
    """The reference profile (``reports/profile.json``)."""
    predictor: Predictor | None
    """The model, to score the batch (unless it holds ``_score``) and to measure performance;
    None (or a classifier without probabilities) compares the features only."""
    out_dir: Path
    """Where ``drift.json`` and ``drift.html`` go (created if needed)."""
    options: DriftOptions | None = None
    """Tests, thresholds and quality limits (None: the documented defaults)."""
    labels: tuple[str, ...] = ()
    """Files with ``id_column`` and ``target``, joined to the batch on ``id_column``."""
    id_column: str | None = None
    """The join key of ``labels``."""
    target: str | None = None
    """The label column (None: the model's target); in the batch, it is used as is."""
    metric: str | None = None
    """A ``conveyor.metrics`` name (None: by task, see ``DEFAULT_METRICS``)."""
    max_drop: float = 0.05
    """The tolerated worsening of ``metric`` against ``reference_metrics``."""
    relative: bool = True
    """True: ``max_drop`` is a fraction of the reference value; false: the metric's units."""
    reference_metrics: Mapping[str, Any] | None = None
    """The model's metrics on its test split (``reports/metrics.json``)."""
    reference_name: str = PROFILE_FILE
    """How the reports name the reference."""
    where: str = "monitor.current"
    """How errors name the batch (``monitor.current``, ``CURRENT``)."""
    labels_where: str = "monitor.labels"
    """How errors name the labels (``monitor.labels``, ``--labels``)."""

    @classmethod
    def from_spec(
        cls,
        monitor: MonitorSpec,
        *,
        current: Sequence[str],
        reference: Profile,
        predictor: Predictor | None,
        out_dir: Path,
        target: str | None,
        metric: str | None,
        reference_metrics: Mapping[str, Any] | None,
        reference_name: str = PROFILE_FILE,
        where: str = "monitor.current",
    ) -> MonitorRequest:
        """The request that ``monitor:`` (params.yaml) makes for the batch ``current``.

        Args:
            monitor: ``monitor:``: its tests, quality limits, labels, id column and performance.
            current: The batch.
            reference: The reference profile.
            predictor: The model (None: the features only).
            out_dir: Where the reports go.
            target: ``data.target``.
            metric: The project's primary metric; ``monitor.performance.metric`` wins over it.
            reference_metrics: The model's metrics on its test split.
            reference_name: How the reports name the reference.
            where: How errors name the batch.

        Returns:
            The request.
        """
        return cls(
            current=tuple(current),
            reference=reference,
            predictor=predictor,
            out_dir=out_dir,
            options=drift_options(monitor.drift, monitor.quality),
            labels=(monitor.labels,) if monitor.labels else (),
            id_column=monitor.id_column,
            target=target,
            metric=monitor.performance.metric or metric,
            max_drop=monitor.performance.max_drop,
            relative=monitor.performance.relative,
            reference_metrics=reference_metrics,
            reference_name=reference_name,
            where=where,
        )


def drift_options(drift: DriftSpec, quality: QualitySpec) -> DriftOptions:
    """The statistics' options from ``monitor.drift`` and ``monitor.quality``."""
    from conveyor.monitoring.drift import ColumnTest, DriftOptions

    return DriftOptions(
        default=ColumnTest(drift.method, drift.threshold),
        columns={name: ColumnTest(t.method, t.threshold) for name, t in drift.columns.items()},
        dataset_share=drift.dataset_share,
        ignore=tuple(drift.ignore),
        null_rate_increase=quality.null_rate_increase,
        out_of_range_share=quality.out_of_range_share,
        new_category_share=quality.new_category_share,
    )
