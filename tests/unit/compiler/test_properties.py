"""Hypothesis properties of the compiler over generated projects."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.compiler import compile_files
from conveyor.config import flatten

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
CLASSIFICATION_METRICS = ["roc_auc", "accuracy", "f1", "log_loss", "precision", "recall", "pr_auc"]
REGRESSION_METRICS = ["rmse", "mae", "r2", "mape"]


@st.composite
def projects(draw: st.DrawFn) -> dict[str, Any]:
    task = draw(
        st.sampled_from(["binary_classification", "multiclass_classification", "regression"])
    )
    classification = task != "regression"
    model_kinds = ["xgboost", "random_forest", "hist_gradient_boosting"]
    model_kind = draw(
        st.sampled_from(model_kinds + (["logistic_regression"] if classification else []))
    )
    params: dict[str, Any] = {}
    if model_kind in {"xgboost", "random_forest"}:
        params = draw(
            st.fixed_dictionaries(
                {}, optional={"n_estimators": st.integers(1, 500), "max_depth": st.integers(1, 12)}
            )
        )
    metrics = draw(
        st.lists(
            st.sampled_from(CLASSIFICATION_METRICS if classification else REGRESSION_METRICS),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    transforms = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "kind": st.sampled_from(["impute", "standard_scaler"]),
                    "columns": st.sampled_from(["numeric", "all"]),
                }
            ),
            max_size=3,
        )
    )
    valid = draw(st.sampled_from([0.0, 0.1]))
    return {
        "project": {"name": draw(NAMES), "task": task},
        "seed": draw(st.integers(0, 2**31)),
        "data": {
            "sources": {draw(NAMES): {"kind": "sklearn_dataset", "params": {"name": "iris"}}},
            "target": "target",
            "split": {
                "strategy": draw(
                    st.sampled_from(["random", "stratified"] if classification else ["random"])
                ),
                "test_size": draw(st.sampled_from([0.1, 0.2, 0.3])),
                "valid_size": valid,
            },
        },
        "features": {"transforms": transforms},
        "model": {"kind": model_kind, "params": params},
        "evaluate": {"metrics": metrics},
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=projects())
def test_compile_is_deterministic_and_every_param_key_exists(config: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "conf").mkdir()
        (root / "conf" / "config.yaml").write_text(yaml.safe_dump(config))
        first = compile_files(root)
        second = compile_files(root)
        assert first.files == second.files
        params = yaml.safe_load(first.files["params.yaml"])
        leaves = flatten(params)
        dvc = yaml.safe_load(first.files["dvc.yaml"])
        assert dvc == first.pipeline.to_dict()
        outs = [o for s in first.pipeline.stages for o in s.produces]
        assert len(outs) == len(set(outs))
        for stage in first.pipeline.stages:
            for key in stage.params:
                assert any(leaf == key or leaf.startswith(f"{key}.") for leaf in leaves), (
                    stage.name,
                    key,
                )
        # every leaf of params.yaml is read by some stage
        assert all(first.pipeline.readers(leaf) for leaf in leaves)
