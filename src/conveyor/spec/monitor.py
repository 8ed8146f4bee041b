"""``monitor:`` — drift tests against the training profile, quality checks, the retrain policy.

The ``profile`` stage always runs (each trained model carries the profile of its training
data); ``current:`` naming a batch adds the ``monitor`` stage, which compares that batch with
the profile and writes ``reports/drift.json`` and ``reports/drift.html``::

    current: data/batches/*.parquet     # a file, a folder or a glob inside the project
    drift: {method: auto, columns: {worst area: {method: psi, threshold: 0.2}}}
    retrain: {triggers: [dataset_drift, performance]}
    alerts: [{kind: webhook, url_env: SLACK_WEBHOOK_URL, format: slack}]
"""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from conveyor.spec._base import StrictModel
from conveyor.spec.alert import AlertSpec, target_names
from conveyor.spec.data import Column

RetrainTrigger = Literal["dataset_drift", "prediction_drift", "performance", "schedule"]
_WILDCARDS = frozenset("*?[")


class ColumnTestSpec(StrictModel):
    """The test of one column (or the default of all): a method and its drift threshold.

    ``method`` names a ``conveyor.drift_tests`` plugin (built in: ks, chisquare, ztest,
    wasserstein, jensenshannon, psi) or ``auto``; ``conveyor compile`` checks that it is
    installed, and that a p-value test's threshold lies below 1. ``threshold: null`` takes the
    test's default: p-value 0.05 for ks/chisquare/ztest, 0.1 for wasserstein/jensenshannon, 0.25
    for psi. With ``method: auto`` a threshold applies to whichever test the sample size picks,
    so name the method when you set a threshold.
    """

    method: str = "auto"
    threshold: float | None = Field(default=None, gt=0)


class DriftSpec(ColumnTestSpec):
    """``drift:`` — the default test, per-column overrides, and when the dataset drifted."""

    dataset_share: float = Field(default=0.5, gt=0, le=1)
    """Dataset drift when at least this share of the tested columns drifted."""
    columns: dict[Column, ColumnTestSpec] = Field(default_factory=dict)
    """Per-column method and threshold: ``{worst area: {method: psi, threshold: 0.2}}``."""
    ignore: list[Column] = Field(default_factory=list)
    """Columns never tested (ids, timestamps)."""

    @model_validator(mode="after")
    def _ignored_columns_are_not_configured(self) -> DriftSpec:
        both = sorted(set(self.ignore) & set(self.columns))
        if both:
            msg = (
                f"{', '.join(map(repr, both))} are both ignored and given a test under columns; "
                "drop them from one of the two"
            )
            raise ValueError(msg)
        return self


class QualitySpec(StrictModel):
    """``quality:`` — data-quality checks of the batch against the reference profile."""

    null_rate_increase: float = Field(default=0.1, ge=0, le=1)
    """An issue when a column's null rate rises by more than this (0.1 = 10 points)."""
    out_of_range_share: float = Field(default=0.05, ge=0, le=1)
    """An issue when more than this share of a numeric column lies outside the training range."""
    new_category_share: float = Field(default=0.01, ge=0, le=1)
    """An issue when more than this share of rows hold a category training never saw."""


class PerformanceSpec(StrictModel):
    """``performance:`` — the metric on a labelled batch against ``reports/metrics.json``.

    ``max_drop`` is a fraction of the reference value by default (``relative: true``): 0.05
    flags an rmse 5% above the test split's, or a roc_auc 5% below it, whatever the metric's
    scale. ``relative: false`` reads it in the metric's units.
    """

    metric: str | None = None
    """A metric of ``evaluate.metrics``; null: ``evaluate.primary`` (or the first metric)."""
    max_drop: float = Field(default=0.05, ge=0)
    """A performance drop when the metric worsens by more than this (see ``relative``)."""
    relative: bool = True
    """True: ``max_drop`` is a fraction of the reference value; false: the metric's units."""

    @model_validator(mode="after")
    def _units_are_explicit_past_one(self) -> PerformanceSpec:
        # Before relative existed, max_drop was in the metric's units; a value of 1 or more
        # (a 100% drop) almost surely still means units, so it must say which.
        if self.max_drop >= 1 and "relative" not in self.model_fields_set:
            message = (
                f"max_drop {self.max_drop:g} is a fraction of the reference value unless "
                "relative: false says it is in the metric's units; add relative: false to keep "
                f"units, or write the fraction (e.g. 0.1 for 10% worse) with relative: true"
            )
            raise _field_error(self, "max_drop", message)
        return self


def _default_triggers() -> list[RetrainTrigger]:
    return ["dataset_drift", "performance"]


class RetrainSpec(StrictModel):
    """``retrain:`` — when ``conveyor ct`` retrains: on any of the listed triggers.

    (Not ``on:``, which YAML 1.1 — what Hydra reads — parses as the boolean ``true``.)
    """

    triggers: list[RetrainTrigger] = Field(default_factory=_default_triggers)
    every_days: int | None = Field(default=None, ge=1)
    """With ``schedule`` in ``triggers``: retrain once the champion is this many days old."""

    @model_validator(mode="after")
    def _schedule_has_a_period(self) -> RetrainSpec:
        if "schedule" in self.triggers and self.every_days is None:
            message = "triggers lists 'schedule' but every_days is not set; add every_days: 7"
            raise _field_error(self, "every_days", message)
        if self.every_days is not None and "schedule" not in self.triggers:
            message = "every_days is set but triggers does not list 'schedule'; add it"
            raise _field_error(self, "triggers", message)
        return self


class MonitorSpec(StrictModel):
    """The whole ``monitor:`` section; its defaults monitor nothing but still profile."""

    current: str | None = None
    """A file, folder or glob (inside the project) of the batch to compare: adds ``monitor``."""
    id_column: Column | None = None
    """The column that joins ``labels`` to the batch."""
    labels: str | None = None
    """A file, folder or glob with ``id_column`` and the target: performance on the batch."""
    drift: DriftSpec = Field(default_factory=DriftSpec)
    quality: QualitySpec = Field(default_factory=QualitySpec)
    performance: PerformanceSpec = Field(default_factory=PerformanceSpec)
    retrain: RetrainSpec = Field(default_factory=RetrainSpec)
    alerts: list[AlertSpec] = Field(default_factory=list)
    """Where findings go (webhooks, Prometheus); no stage reads it, so it reruns nothing."""

    @field_validator("current", "labels")
    @classmethod
    def _inside_the_project(cls, value: str | None) -> str | None:
        return None if value is None else project_path(value)

    @model_validator(mode="after")
    def _labels_join_a_batch(self) -> MonitorSpec:
        if self.labels is not None and self.current is None:
            message = "labels describe the batch named by current, which is not set; set current"
            raise _field_error(self, "labels", message)
        if self.labels is not None and self.id_column is None:
            message = "labels are joined to the batch on id_column, which is not set; set it"
            raise _field_error(self, "id_column", message)
        names = target_names(self.alerts)
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            message = (
                f"alert targets {', '.join(map(repr, twice))} share a name; give each its own "
                "name: key"
            )
            raise _field_error(self, "alerts", message)
        return self


def _field_error(model: StrictModel, field: str, message: str) -> ValidationError:
    """An error located at ``field`` (not the whole section), so it names its YAML key."""
    error = PydanticCustomError("value_error", "{message}", {"message": message})
    details = InitErrorDetails(type=error, loc=(field,), input=getattr(model, field))
    return ValidationError.from_exception_data(type(model).__name__, [details])


def project_path(value: str) -> str:
    """``value`` as a normalised project-relative POSIX path or glob.

    Raises:
        ValueError: the path is absolute, leaves the project, is empty, or is a glob with no
            fixed folder before its first wildcard (DVC must be able to track that folder).
    """
    if any(flavour(value).is_absolute() for flavour in (PurePosixPath, PureWindowsPath)):
        msg = f"'{value}' is absolute; write it relative to the project root (e.g. data/new.csv)"
        raise ValueError(msg)
    path = PurePosixPath(value)
    if ".." in path.parts:
        msg = f"'{value}' leaves the project; name data inside the project"
        raise ValueError(msg)
    if path.as_posix() == ".":
        msg = "the path is empty; name a file, folder or glob inside the project"
        raise ValueError(msg)
    if any(char in _WILDCARDS for char in path.parts[0]):
        msg = (
            f"'{value}' starts with a wildcard; put the files in a folder and glob inside it "
            "(e.g. data/batches/*.parquet), so that DVC can track that folder"
        )
        raise ValueError(msg)
    return path.as_posix()
