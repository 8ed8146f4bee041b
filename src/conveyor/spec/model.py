"""``model:`` — a registered model by ``kind:``, or any scikit-learn estimator by ``_target_:``.

``trusted_types`` lists the exact classes (``module.Class``, as skops records them) that the
fitted model holds besides what installed components declare: a ``_target_`` ensemble's inner
estimators, for example. It is part of the reviewed conf/, and it can only name classes: no
wildcard, no module prefix, and nothing from the standard library or the few third-party
modules whose types open files or call what they are given (:func:`untrustable`).

``fit`` says how the booster is trained, and both keys change the model, so they are model
params (docs/scaling.md): ``mode: distributed`` trains on the project's Dask executor
(``xgboost.dask``), ``memory: external`` trains from the training split in batches
(``xgboost.ExtMemQuantileDMatrix``), never holding it whole: transforms with ``partial_fit``
learn from every batch, the others from an evenly strided sample of at most ``sample_rows``
rows. Left at their defaults they are absent from params.yaml, so a project that never sets
them reruns nothing.
"""

from __future__ import annotations

import re
import sys
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from conveyor.spec._base import StrictModel

TARGET_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"
_EXACT = re.compile(TARGET_PATTERN)
UNTRUSTABLE_MODULES = (
    *sorted(sys.stdlib_module_names),  # builtins, os, subprocess, importlib, functools, ...
    "cloudpickle",
    "dill",
    "joblib",
    "numpy.ctypeslib",
    "numpy.f2py",
    "numpy.lib.npyio",
    "numpy.memmap",
    "numpy.testing",
    "numpy.vectorize",
)
"""Modules (and classes) whose types are never trusted, even when conf/ declares them.

The standard library holds ``exec``, ``getattr``, ``os.system``, ``subprocess.Popen``,
``importlib``, ``functools.partial`` and ``operator.attrgetter``: what a skops payload calls.
The plain-data types a model needs from it (containers, numbers) are trusted already.
"""


def untrustable(name: str) -> str | None:
    """Why ``name`` can never be a trusted type, or None when it may be declared."""
    if not _EXACT.match(name):
        return f"'{name}' is not an exact 'module.Class' name"
    for module in UNTRUSTABLE_MODULES:
        if name.startswith(f"{module}.") or name == module:
            return f"'{name}' is in '{module}', which can run code or reach the system"
    return None


def _trustable(name: str) -> str:
    problem = untrustable(name)
    if problem is None:
        return name
    fix = (
        "remove it: standard-library types a model needs are trusted already, and nothing "
        "that calls code can be"
        if "which can run code" in problem
        else "write the full name skops records, e.g. sklearn.tree._classes.DecisionTreeRegressor "
        "(no wildcards, no module prefixes)"
    )
    raise PydanticCustomError("value_error", "{message}", {"message": problem, "fix": fix})


TrustedType = Annotated[str, AfterValidator(_trustable)]


class FitSpec(StrictModel):
    """``model.fit``: where and from what the model is trained; the defaults fit in memory here."""

    mode: Literal["local", "distributed"] = "local"
    memory: Literal["in_memory", "external"] = "in_memory"
    sample_rows: int = Field(default=100_000, ge=1, le=100_000_000)
    """``memory: external`` only: the most rows a transform without ``partial_fit`` (an
    imputer, an encoder) is fitted on: every ``ceil(rows / sample_rows)``-th row of the
    training split, from the first. Scalers (``partial_fit``) learn from every row, in
    batches. A split of at most this many rows is fitted whole, as in memory."""

    @model_validator(mode="after")
    def _one_of_the_two(self) -> FitSpec:
        if self.mode == "distributed" and self.memory == "external":
            msg = (
                "'mode: distributed' and 'memory: external' do not combine: a Dask cluster "
                "holds the data in its workers' memory; choose one"
            )
            raise ValueError(msg)
        return self

    @property
    def settings(self) -> tuple[str, ...]:
        """The non-default values (``distributed``, ``external``), as ``Model.fit_settings``."""
        return tuple(
            value
            for value, default in ((self.mode, "local"), (self.memory, "in_memory"))
            if value != default
        )


class ModelSpec(StrictModel):
    """Exactly one of ``kind`` (a ``conveyor.models`` name) or ``_target_`` (``pkg.Class``)."""

    kind: str | None = Field(default=None, min_length=1)
    # Hydra's spelling, so users can paste instantiate-style configs.
    target: str | None = Field(default=None, alias="_target_", pattern=TARGET_PATTERN)
    params: dict[str, Any] = Field(default_factory=dict)
    trusted_types: list[TrustedType] = Field(default_factory=list, max_length=1000)
    fit: FitSpec = Field(default_factory=FitSpec)

    @model_validator(mode="after")
    def _exactly_one_source(self) -> ModelSpec:
        if (self.kind is None) == (self.target is None):
            msg = (
                "give exactly one of 'kind' (a registered model, e.g. kind: xgboost) "
                "or '_target_' (an estimator class, e.g. _target_: sklearn.svm.SVC)"
            )
            raise ValueError(msg)
        return self

    @property
    def label(self) -> str:
        """The registered kind, or the ``_target_`` path."""
        return self.kind or str(self.target)
