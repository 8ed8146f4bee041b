"""A plugin is checked when it loads and refused naming itself, its entry point and its
distribution (pluggy's ``_verify_hook``), not left for its contract suite to find.

Each case is a real distribution: a ``*.dist-info`` with ``entry_points.txt`` next to its module
on ``sys.path``, found by ``importlib.metadata`` as an installed plugin is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from conveyor.errors import PluginError
from conveyor.plugins import GROUPS, DriftTest, Plugins, Registry

if TYPE_CHECKING:
    from pathlib import Path

HEADER = """\
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from conveyor.plugins import DriftTest, Metric, Model, NoParams, Outcome


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alpha: float = 0.5


class Loose(BaseModel):
    alpha: float = 0.5


class Good(DriftTest[Strict]):
    Params = Strict
    default_threshold: ClassVar[float] = 0.2

    def run(self, *, sample):
        return Outcome(0.0)
"""

CASES = {
    # name: (class body, what the refusal says)
    "positional": (
        "class Positional(Good):\n    def run(self, sample):\n        return Outcome(0.0)\n",
        "run(self, sample) must take 'sample' as keyword-only (after '*'); "
        "conveyor calls run(self, *, sample)",
    ),
    "renamed": (
        "class Renamed(Good):\n    def run(self, *, column):\n        return Outcome(0.0)\n",
        "run(self, *, column) cannot be called so (missing a required argument: 'column'); "
        "conveyor calls run(self, *, sample)",
    ),
    "verdict": (
        "class Verdict(Good):\n    def drifted(self, outcome, threshold):\n        return True\n",
        "drifted(self, outcome, threshold) must take 'outcome' as keyword-only (after '*'); "
        "conveyor calls drifted(self, *, outcome, threshold)",
    ),
    "abstract": (
        "class Abstract(DriftTest[NoParams]):\n    default_threshold = 0.1\n",
        "does not implement run()",
    ),
    "loose": (
        "class LooseTest(Good):\n    Params = Loose\n",
        "Params (Loose) accepts unknown keys; set model_config = ConfigDict(extra='forbid')",
    ),
    "notamodel": (
        "class NotAModel(Good):\n    Params = dict\n",
        "Params is <class 'dict'>, not a pydantic model",
    ),
    "clustering": (
        "class Clustering(Good):\n    tasks = ('regression', 'clustering')\n",
        "declares unknown tasks 'clustering'; known tasks are: binary_classification, "
        "multiclass_classification, regression",
    ),
    "notasks": (
        "class NoTasks(Good):\n    tasks = ()\n",
        "declares tasks (); it needs a non-empty tuple of: binary_classification, "
        "multiclass_classification, regression",
    ),
    "metric": (
        "class AMetric(Metric):\n    def compute(self, y_true, y_pred, y_score):\n"
        "        return 0.0\n",
        "is not a subclass of conveyor.plugins.DriftTest",
    ),
}


def install(site: Path, dist: str, module: str, source: str, entries: dict[str, str]) -> None:
    """A distribution ``dist`` whose ``module`` registers ``entries`` as drift tests."""
    (site / f"{module}.py").write_text(source)
    info = site / f"{dist.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    lines = [f"{name} = {value}" for name, value in entries.items()]
    (info / "entry_points.txt").write_text("[conveyor.drift_tests]\n" + "\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    site = tmp_path_factory.mktemp("site")
    classes = {name: body.split("(")[0].removeprefix("class ") for name, (body, _) in CASES.items()}
    source = HEADER + "\n\n" + "\n\n".join(body for body, _ in CASES.values())
    entries = {f"broken.{name}": f"broken_drift:{cls}" for name, cls in classes.items()}
    entries["broken.good"] = "broken_drift:Good"
    install(site, "conveyor-broken-drift", "broken_drift", source, entries)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(site))
        yield Registry.discover("drift_test")


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_broken_plugin_is_refused_naming_itself_and_its_distribution(
    broken: Registry, name: str
) -> None:
    body, problem = CASES[name]
    cls = body.split("(")[0].removeprefix("class ")
    with pytest.raises(PluginError, match="drift test 'broken") as caught:
        broken.load(f"broken.{name}", where="monitor.drift.method")
    error = caught.value
    assert str(error) == (
        f"monitor.drift.method: drift test 'broken.{name}' (broken_drift:{cls}) {problem}"
    )
    assert error.fix == "report this to the plugin's authors (conveyor-broken-drift 0.1.0)"
    assert error.exit_code == 3


def test_a_conforming_plugin_loads(broken: Registry) -> None:
    loaded = broken.load("broken.good", where="monitor.drift.method")
    assert issubclass(loaded, DriftTest)
    assert loaded.__name__ == "Good"
    assert broken.provider("broken.good") == "conveyor-broken-drift 0.1.0"


def test_every_builtin_component_passes_the_load_checks() -> None:
    plugins = Plugins.discover()
    loaded = [
        plugins[kind].load(name, where=kind)
        for kind in GROUPS
        for name in plugins[kind].names()
        if plugins[kind].provider(name).startswith("conveyor-mlops ")
    ]
    assert len(loaded) == sum(1 for _ in _builtin_entry_points())


def _builtin_entry_points() -> list[str]:
    from importlib.metadata import distribution

    groups = set(GROUPS.values())
    return [ep.name for ep in distribution("conveyor-mlops").entry_points if ep.group in groups]
