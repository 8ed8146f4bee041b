"""One small abstract class per plugin kind. A plugin subclasses one and declares ``Params``.

Components import their heavy libraries (scikit-learn, xgboost, pandas) inside methods, so that
loading a component class for ``conveyor compile`` costs no more than its pydantic ``Params``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict

from conveyor.spec import TASKS, Task

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from pathlib import Path

    import numpy as np
    import pandas as pd
    import pyarrow as pa


class NoParams(BaseModel):
    """The ``Params`` of a component that takes no arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)


P = TypeVar("P", bound=BaseModel)


class Component(ABC, Generic[P]):
    """Base of every component: validated ``params`` in, behaviour out."""

    Params: ClassVar[type[BaseModel]] = NoParams
    tasks: ClassVar[tuple[Task, ...]] = TASKS
    """The ``project.task`` values this component supports."""

    def __init__(self, params: P) -> None:
        self.params = params

    @classmethod
    def params_model(cls, task: Task | None = None) -> type[BaseModel]:
        """The pydantic model that checks ``params:`` for ``task`` (``Params`` by default)."""
        del task
        return cls.Params

    @classmethod
    def from_config(cls, params: dict[str, Any], task: Task | None = None) -> Component[Any]:
        """Validate ``params`` for ``task`` and build the component."""
        return cls(cast("Any", cls.params_model(task).model_validate(params)))

    def explicit_params(self) -> dict[str, Any]:
        """The params the user wrote, so that library defaults apply to everything else."""
        return self.params.model_dump(exclude_unset=True)


SNAPSHOT_SCHEMA = "conveyor.arrow_schema"
"""``frame.attrs`` key where a source may put the ``pyarrow.Schema`` of its rows: ingest then
writes ``data/raw/<source>.parquet`` with exactly those column types (an all-NULL column keeps
its declared type, an integer column with NULLs stays int64, whatever pandas infers)."""


@dataclass(frozen=True)
class Scan:
    """A source's rows as Arrow record batches, for ingest above the memory budget.

    Converting each batch to pandas gives the rows ``Source.read`` returns, in the same order,
    so ingest can write them a row group at a time instead of holding them all.
    """

    schema: pa.Schema
    """The rows' Arrow schema (with the pandas metadata ``read`` converts them by)."""
    size: int
    """About what the rows take in memory: their uncompressed size, in bytes."""
    batches: Callable[[Sequence[str] | None], Iterator[pa.RecordBatch]]
    """The rows in order, of only the given columns (all with None); may be called again."""
    frame: Callable[[pa.Table], pd.DataFrame]
    """Some consecutive rows as ``read`` would return them (its index handling, say)."""


@dataclass(frozen=True)
class FrameScan:
    """A source's rows as pandas frames, a chunk at a time, for ingest above the memory budget.

    For a source whose rows have no Arrow types of their own (a CSV file: pandas decides each
    column's dtype from all of it), the frames hold ``read``'s dtypes already: concatenated,
    they are the frame ``read`` returns, value for value.
    """

    size: int
    """About what the rows take in memory (a CSV file's size), in bytes."""
    chunks: Callable[[int], Iterator[pd.DataFrame] | str]
    """The rows in order, in frames of the given number of rows (the last one fewer) that are
    ``read``'s rows at those positions; or why they cannot be (ingest then reads the source
    whole). Settles the dtypes first, reading all the data if it must, so it returns the
    reason, or raises ``read``'s error for bad data, before a frame is made."""


class Source(Component[P]):
    """Reads one table of raw rows (``conveyor.sources``)."""

    @abstractmethod
    def read(self, root: Path) -> pd.DataFrame:
        """Load the rows; relative paths are resolved against the project ``root``."""

    def local_files(self) -> list[str]:
        """Project-relative files this source reads; they become DVC dependencies of ingest."""
        return []

    def snapshot_record(self) -> dict[str, Any] | None:
        """For a source outside the project (a database): what ingest records beside its rows.

        Not None: ingest writes ``data/raw/<source>.snapshot.json`` (kept in git) with this,
        the row count, the column types and the sha256 of the snapshot, and DVC tracks the
        snapshot itself, since it cannot track the database. Known without reading the source.
        """
        return None

    def always_changed(self) -> bool:
        """Whether every ``dvc repro`` must read the source again (dvc.yaml ``always_changed``)."""
        return False

    def scan(self, root: Path) -> Scan | FrameScan | None:
        """The rows as Arrow batches or frames, without reading them; None (the default): ``read``.

        Ingest uses it when the rows exceed the memory budget (``CONVEYOR_MEMORY_BUDGET``).
        """
        del root
        return None


class Model(Component[P]):
    """Builds an unfitted scikit-learn-compatible estimator (``conveyor.models``)."""

    unsupported_args: ClassVar[frozenset[str]] = frozenset()
    """Estimator arguments that cannot come from YAML (callables, fit-time objects)."""
    trusted_types: ClassVar[frozenset[str]] = frozenset()
    """Exact ``module.Class`` names of the types a fitted estimator holds, which a bundle may
    rebuild (the estimator classes, trees, boosters, losses). Declare every one: a bundle
    holding any other type is refused. ``estimator_class`` results are trusted without it."""
    fit_settings: ClassVar[frozenset[str]] = frozenset()
    """The ``model.fit`` settings the train stage can honour for this model besides the
    defaults: ``distributed`` (``mode``, on a Dask executor), ``external`` (``memory``). The
    training code lives in conveyor (built for xgboost); any other model refuses them."""

    @abstractmethod
    def estimator_class(self, task: Task) -> type[Any]:
        """The estimator class used for ``task`` (a classifier or a regressor)."""

    def build(self, task: Task, seed: int) -> Any:  # noqa: ANN401 - any sklearn estimator
        """An unfitted estimator, seeded with ``seed`` when it takes a ``random_state``."""
        from conveyor.plugins.target import estimator_params

        estimator_cls = self.estimator_class(task)
        params = self.explicit_params()
        if "random_state" in estimator_params(estimator_cls):
            params.setdefault("random_state", seed)
        return estimator_cls(**params)


class Transform(Component[P]):
    """Builds an unfitted scikit-learn transformer (``conveyor.transforms``)."""

    trusted_types: ClassVar[frozenset[str]] = frozenset()
    """Exact ``module.Class`` names of the types the fitted transformer holds, which a bundle
    may rebuild. A bundle holding a type no installed component declares is refused."""

    @abstractmethod
    def build(self) -> Any:  # noqa: ANN401 - any sklearn transformer
        """An unfitted transformer that keeps pandas column names (``set_output``)."""

    def required_columns(self) -> list[str]:
        """Columns the transformer reads besides those ``columns:`` selects (none by default).

        The training pipeline adds them to this transform's selection even when ``columns:``
        does not name them (the time and group keys of ``lag``); the transformer should pass
        them through unchanged, since they leave the remainder that skips the transform.
        """
        return []


class Metric(Component[NoParams]):
    """Scores predictions on held-out rows (``conveyor.metrics``)."""

    needs: ClassVar[Literal["label", "score"]] = "label"
    """``label``: predicted classes/values; ``score``: class probabilities."""
    higher_is_better: ClassVar[bool] = True

    @abstractmethod
    def compute(self, y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray | None) -> float:
        """The metric value; ``y_score`` is (n, classes) probabilities for classifiers."""


@dataclass(frozen=True)
class DeployContext:
    """What a deploy target gets when its ``deploy-<target>`` stage runs.

    The stage has already checked that the gate blessed the model and that the bundle passes
    its sha256 manifest; paths are absolute, in the order the target declared them.
    """

    root: Path
    """The project root."""
    target: str
    """The target's name under ``deploy:`` (``rest``)."""
    model: str
    """The model's name (``project.name``)."""
    bundle_dir: Path
    """The verified bundle, ``models/<project.name>/``."""
    blessing: Mapping[str, Any]
    """The ``reports/blessing.json`` document (blessed: true)."""
    outs: tuple[Path, ...]
    """What :meth:`DeployTarget.outs` declared, resolved against ``root``."""
    reports: tuple[Path, ...] = ()
    """What :meth:`DeployTarget.reports` declared, resolved against ``root``."""
    trusted: frozenset[str] = frozenset()
    """Types the project's params vouch for in the bundle: pass them to ``load_bundle``."""


class DeployTarget(Component[P]):
    """Ships a blessed model somewhere (``conveyor.targets``): a build context, predictions...

    The compiler makes one ``deploy-<name>`` stage per configured target, with the bundle, the
    blessing and :meth:`deps` as dependencies and :meth:`outs`/:meth:`reports` as outputs.
    """

    @abstractmethod
    def outs(self, name: str) -> tuple[str, ...]:
        """Project-relative outputs (DVC-cached) of the target called ``name``."""

    def reports(self, name: str) -> tuple[str, ...]:
        """Project-relative outputs kept in git (``cache: false``), e.g. a JSON summary."""
        del name
        return ()

    def deps(self) -> tuple[str, ...]:
        """Project-relative files the target reads besides the bundle (a batch input)."""
        return ()

    @abstractmethod
    def run(self, ctx: DeployContext) -> None:
        """Write every declared output; raise a ConveyorError with the fix on failure."""
