"""Conformance suites that every conveyor component passes, built-in or third-party.

A plugin author subclasses the suite of the component's kind in a test module, names the class
under test, its entry-point name and a few small ``params``, and runs pytest with the plugin
installed (``pip install -e .``)::

    # tests/test_contract.py of the distribution that provides myplug.catboost
    from typing import Any, ClassVar

    from conveyor.testing import ModelContract
    from myplug.models import CatBoostModel


    class TestCatBoostModel(ModelContract):
        component = CatBoostModel
        name = "myplug.catboost"  # the entry point in group conveyor.models
        params: ClassVar[dict[str, Any]] = {"iterations": 5}

Every ``test_`` method of the suite then runs; those that take ``task`` run once per task in
``component.tasks``. ``SourceContract`` and ``TransformContract`` have fixtures to override
(``root``: a project directory holding the files the source reads; ``frame``: the rows a
transform is fitted on); ``DeployTargetContract`` runs the target in a tmp project holding a
tiny blessed bundle (``run_params``, ``run_tasks`` and ``populate`` adjust that run);
``DriftTestContract`` compares small and large columns of each kind the test supports;
``ExecutorContract`` opens the executor once and maps, fails and submits on it.
conveyor runs the same suites on its own components.

This package needs pytest (not a dependency of conveyor itself) and never imports Hydra.
"""

from __future__ import annotations

import pytest

# Before the suites are imported, so that a failing check shows the values it compared.
pytest.register_assert_rewrite(
    *(
        f"conveyor.testing.{m}"
        for m in (
            "_contract",
            "_drift",
            "_executor",
            "_metric",
            "_model",
            "_source",
            "_target",
            "_transform",
        )
    )
)

from conveyor.testing._contract import ComponentContract  # noqa: E402
from conveyor.testing._drift import DriftTestContract  # noqa: E402
from conveyor.testing._executor import ExecutorContract  # noqa: E402
from conveyor.testing._metric import MetricContract  # noqa: E402
from conveyor.testing._model import ModelContract  # noqa: E402
from conveyor.testing._signature import estimator_params  # noqa: E402
from conveyor.testing._source import SourceContract  # noqa: E402
from conveyor.testing._target import DeployTargetContract  # noqa: E402
from conveyor.testing._transform import TransformContract  # noqa: E402

__all__ = [
    "ComponentContract",
    "DeployTargetContract",
    "DriftTestContract",
    "ExecutorContract",
    "MetricContract",
    "ModelContract",
    "SourceContract",
    "TransformContract",
    "estimator_params",
]
