"""ProjectFacts: the one typed reading of a project's facts from params.yaml's content."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from conveyor.errors import SpecError, UnknownComponentError
from conveyor.runtime.facts import higher_is_better, primary_higher_is_better, read_facts
from conveyor.spec import EvaluateSpec, ProjectFacts
from conveyor.spec.evaluate import primary_metric
from tests.conftest import REPO

PARAMS: dict[str, Any] = yaml.safe_load((REPO / "params.yaml").read_text())


def _params(**evaluate: Any) -> dict[str, Any]:
    params = copy.deepcopy(PARAMS)
    params["evaluate"].update(evaluate)
    return params


def test_the_facts_of_the_repos_own_params_yaml() -> None:
    facts = ProjectFacts.from_params(PARAMS)
    assert facts == ProjectFacts(
        name="diagnostics",
        task="binary_classification",
        target="diagnosis",
        metrics=("roc_auc", "pr_auc", "accuracy", "f1", "precision", "recall", "log_loss", "brier"),
        primary="roc_auc",
        seed=42,
        champion_stage="prod",
    )
    assert facts.model_dir == "models/diagnostics"
    assert read_facts(REPO) == facts


@pytest.mark.parametrize(
    ("primary", "expected"),
    [("log_loss", "log_loss"), ("brier", "brier"), (None, "roc_auc")],
)
def test_the_primary_metric_is_evaluate_primary_else_the_first_metric(
    primary: str | None, expected: str
) -> None:
    facts = ProjectFacts.from_params(_params(primary=primary))
    assert facts.primary == primary
    assert facts.primary_metric == expected
    evaluate = EvaluateSpec.model_validate(_params(primary=primary)["evaluate"])
    assert evaluate.primary_metric == expected  # the pipeline's spec asks the same rule
    assert primary_metric(["rmse", "mae"], None) == "rmse"
    assert primary_metric(["rmse", "mae"], "mae") == "mae"


def test_without_the_key_the_first_metric_ranks() -> None:
    params = copy.deepcopy(PARAMS)
    del params["evaluate"]["primary"]
    params["evaluate"]["metrics"] = ["log_loss", "roc_auc"]
    facts = ProjectFacts.from_params(params)
    assert (facts.primary, facts.primary_metric) == (None, "log_loss")
    assert primary_higher_is_better(facts) is False


def test_the_direction_is_the_metric_components() -> None:
    assert higher_is_better("roc_auc", where="evaluate.primary") is True
    assert higher_is_better("log_loss", where="evaluate.primary") is False
    assert primary_higher_is_better(ProjectFacts.from_params(_params(primary="brier"))) is False
    assert primary_higher_is_better(ProjectFacts.from_params(_params(primary=None))) is True
    with pytest.raises(UnknownComponentError, match=r"^evaluate.primary: unknown metric 'roc_uac'"):
        higher_is_better("roc_uac", where="evaluate.primary")


def test_a_missing_champion_stage_is_prod() -> None:
    params = copy.deepcopy(PARAMS)
    del params["evaluate"]["champion_stage"]
    assert ProjectFacts.from_params(params).champion_stage == "prod"
    assert ProjectFacts.from_params(_params(champion_stage="staging")).champion_stage == "staging"


@pytest.mark.parametrize("seed", [0, 2**32 - 1])
def test_a_seed_at_either_limit_is_kept(seed: int) -> None:
    params = copy.deepcopy(PARAMS)
    params["seed"] = seed
    assert ProjectFacts.from_params(params).seed == seed


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda p: p["data"].pop("target"),
            r"^params.yaml: 'data.target' is missing from params.yaml$",
        ),
        (lambda p: p.pop("project"), r"^params.yaml: 'project' is missing from params.yaml$"),
        (
            lambda p: p.__setitem__("seed", -1),
            r"^params.yaml: 'seed' in params.yaml is invalid: Input should be greater than or "
            r"equal to 0$",
        ),
        (
            lambda p: p.__setitem__("seed", 2**32),
            r"^params.yaml: 'seed' in params.yaml is invalid: Input should be less than or equal",
        ),
        (
            lambda p: p["project"].__setitem__("task", "ranking"),
            r"^params.yaml: 'project.task' in params.yaml is invalid: Input should be "
            r"'binary_classification'",
        ),
        (
            lambda p: p["evaluate"].__setitem__("metrics", []),
            r"^params.yaml: 'evaluate.metrics' in params.yaml is invalid: List should have at "
            r"least 1 item",
        ),
        (
            lambda p: p["evaluate"].__setitem__("primary", "rmse"),
            r"^params.yaml: 'evaluate.primary' in params.yaml is invalid: primary metric 'rmse' "
            r"is not computed; choose one of: roc_auc, pr_auc, ",
        ),
        (
            lambda p: p["evaluate"].__setitem__("champion_stage", "Prod Stage"),
            r"^params.yaml: 'evaluate.champion_stage' in params.yaml is invalid: String should "
            r"match pattern",
        ),
    ],
)
def test_a_missing_or_invalid_fact_is_a_located_spec_error(edit: Any, message: str) -> None:
    params = copy.deepcopy(PARAMS)
    edit(params)
    with pytest.raises(SpecError, match=message) as caught:
        ProjectFacts.from_params(params)
    assert caught.value.fix is not None
    assert "conveyor compile" in caught.value.fix


def test_params_that_are_not_a_mapping_miss_every_fact() -> None:
    with pytest.raises(SpecError, match=r"'project' is missing from params.yaml"):
        ProjectFacts.from_params([])  # type: ignore[arg-type]
