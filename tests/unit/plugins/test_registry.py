from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from conveyor.errors import PluginError, UnknownComponentError
from conveyor.plugins import GROUPS, Registry


def _registry(**refs: str) -> Registry:
    return Registry(
        "model", {name: EntryPoint(name, value, GROUPS["model"]) for name, value in refs.items()}
    )


def test_names_are_sorted_and_nothing_is_imported() -> None:
    registry = _registry(
        zeta="nowhere.at.all:Missing", alpha="conveyor.components.models:XGBoostModel"
    )
    assert registry.names() == ["alpha", "zeta"]


def test_unknown_name_suggests_close_matches_and_lists_all() -> None:
    registry = _registry(xgboost="conveyor.components.models:XGBoostModel", random_forest="x:y")
    with pytest.raises(UnknownComponentError, match="unknown model 'xgbost'") as info:
        registry.load("xgbost", where="model.kind (conf/model/x.yaml)")
    assert info.value.fix == "did you mean 'xgboost'? available: random_forest, xgboost"
    assert info.value.exit_code == 2


def test_import_failure_is_a_plugin_error() -> None:
    registry = _registry(broken="nowhere_at_all.models:Missing")
    with pytest.raises(PluginError, match=r"model 'broken' .* failed to import") as info:
        registry.load("broken", where="model.kind")
    assert info.value.exit_code == 3


def test_wrong_base_class_is_a_plugin_error() -> None:
    registry = _registry(odd="conveyor.components.metrics:Accuracy")
    with pytest.raises(PluginError, match=r"is not a subclass of conveyor.plugins.Model"):
        registry.load("odd", where="model.kind")


def test_builtins_are_discovered_from_our_own_entry_points() -> None:
    for kind, expected in {
        "model": "xgboost",
        "source": "sklearn_dataset",
        "metric": "roc_auc",
        "transform": "impute",
        "drift_test": "ks",
    }.items():
        registry = Registry.discover(kind)
        assert expected in registry.names()
        assert registry.provider(expected).startswith("conveyor-mlops ")
