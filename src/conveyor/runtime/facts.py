"""Read a project's facts from its root, and a metric's direction from its component.

:class:`~conveyor.spec.facts.ProjectFacts` is pure (a mapping in); this is the reading that
needs the disk and the plugins, for the commands that work on a project root: ``conveyor
sweep``, ``conveyor monitor`` and ``conveyor ct``. The stages of ``conveyor run`` read their
params through the params view instead, which holds them to what dvc.yaml declares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.runtime.params import load_params
from conveyor.spec.facts import ProjectFacts

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.plugins import Plugins

__all__ = ["ProjectFacts", "higher_is_better", "primary_higher_is_better", "read_facts"]


def read_facts(root: Path) -> ProjectFacts:
    """The facts of the project at ``root``, from its params.yaml.

    Raises:
        StageError: There is no params.yaml, or it is not a YAML mapping.
        SpecError: A fact in it is missing or invalid.
    """
    return ProjectFacts.from_params(load_params(root))


def higher_is_better(metric: str, *, where: str, plugins: Plugins | None = None) -> bool:
    """Whether a larger value of ``metric`` is better, as its component declares.

    Args:
        metric: A ``conveyor.metrics`` entry-point name (``roc_auc``, ``rmse``).
        where: How an error names the setting (``evaluate.primary``).
        plugins: The plugin registry (default: the installed one).

    Raises:
        UnknownComponentError: No installed metric has that name.
    """
    if plugins is None:
        from conveyor.plugins import Plugins

        plugins = Plugins.discover()
    component = plugins["metric"].load(metric, where=where)
    return bool(getattr(component, "higher_is_better", True))


def primary_higher_is_better(facts: ProjectFacts, *, plugins: Plugins | None = None) -> bool:
    """The direction of the project's primary metric (the sweep ranks and Optuna optimises so)."""
    where = "evaluate.primary" if facts.primary is not None else "evaluate.metrics"
    return higher_is_better(facts.primary_metric, where=where, plugins=plugins)
