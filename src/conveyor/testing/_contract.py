"""What every component owes conveyor, whatever its kind: strict params, known tasks, a name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from pydantic import ValidationError

from conveyor.plugins import Registry
from conveyor.spec import TASKS

if TYPE_CHECKING:
    from conveyor.plugins import Component
    from conveyor.spec import Task

UNKNOWN_KEY = "surely_not_a_param"


class ComponentContract:
    """Base of the suites. Subclasses set ``component``, ``name`` and, if needed, ``params``.

    A test method that takes a ``task`` argument runs once per task in ``component.tasks``.
    """

    kind: ClassVar[str]
    """The registry kind (``model``, ``source``, ...); set by each suite."""
    component: ClassVar[type[Component[Any]]]
    """The component class under test."""
    name: ClassVar[str]
    """The entry-point name the distribution registers ``component`` under."""
    params: ClassVar[dict[str, Any]] = {}
    """The ``params:`` a user would write; keep them small so that tests stay quick."""

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Run each test that takes ``task`` once per task the component supports."""
        for attribute in ("component", "name"):
            if not hasattr(self, attribute):
                msg = f"{type(self).__name__} must set the class attribute '{attribute}'"
                raise TypeError(msg)
        if "task" in metafunc.fixturenames:
            metafunc.parametrize("task", self.component.tasks, ids=str)

    def make(self, task: Task | None = None, params: dict[str, Any] | None = None) -> Any:  # noqa: ANN401
        """The component, built from ``params`` (the class's ``params`` by default)."""
        return self.component.from_config(dict(self.params if params is None else params), task)

    def test_declares_known_tasks(self) -> None:
        """``tasks`` is a non-empty subset of conveyor's tasks."""
        tasks = self.component.tasks
        assert tasks, f"{self.component.__name__}.tasks is empty"
        unknown = sorted(set(tasks) - set(TASKS))
        assert not unknown, f"{self.component.__name__}.tasks has unknown tasks {unknown}"

    def test_params_validate(self, task: Task) -> None:
        """The configured ``params`` validate, and only they count as explicit."""
        component = self.make(task)
        assert set(component.explicit_params()) == set(self.params)

    def test_params_model_forbids_unknown_keys(self, task: Task) -> None:
        """A typo in ``params:`` fails at ``conveyor compile`` instead of being ignored."""
        params_model = self.component.params_model(task)
        with pytest.raises(ValidationError, match=UNKNOWN_KEY):
            params_model.model_validate({**self.params, UNKNOWN_KEY: 1})

    def test_registered_under_name(self) -> None:
        """The installed entry point ``name`` loads exactly ``component``."""
        registry = Registry.discover(self.kind)
        assert self.name in registry, (
            f"no {self.kind} '{self.name}' is installed; registered: {registry.names()}. "
            "Is the distribution installed, and is the entry point in the right group?"
        )
        loaded = registry.load(self.name, where=f"{type(self).__name__}.name")
        assert loaded is self.component, f"'{self.name}' loads {loaded}, not {self.component}"
