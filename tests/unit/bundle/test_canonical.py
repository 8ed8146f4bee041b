"""Canonical skops archives: the same fitted pipeline always gives the same bytes."""

from __future__ import annotations

import io
import json
import zipfile
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

from conveyor.bundle import load_bundle, save_bundle
from conveyor.bundle._canonical import DATE_TIME, canonical_skops
from conveyor.bundle.bundle import PIPELINE_FILE, dump_pipeline
from conveyor.plugins import Plugins
from conveyor.runtime.estimator import build_model, build_pipeline
from conveyor.spec import FeaturesSpec, ModelSpec
from conveyor.testing._data import task_data

if TYPE_CHECKING:
    from pathlib import Path

PLUGINS = Plugins.discover()
STANDARD = [
    {"kind": "impute", "columns": "numeric", "params": {"strategy": "median"}},
    {"kind": "standard_scaler", "columns": "numeric"},
]
MODELS = [  # every built-in model, small, with threads where the model takes n_jobs
    ("binary_classification", {"kind": "xgboost", "params": {"n_estimators": 5, "n_jobs": 2}}),
    ("regression", {"kind": "xgboost", "params": {"n_estimators": 5, "n_jobs": 2}}),
    ("multiclass_classification", {"kind": "random_forest", "params": {"n_estimators": 4}}),
    ("regression", {"kind": "random_forest", "params": {"n_estimators": 4, "n_jobs": 2}}),
    ("binary_classification", {"kind": "hist_gradient_boosting", "params": {"max_iter": 5}}),
    ("regression", {"kind": "hist_gradient_boosting", "params": {"max_iter": 5}}),
    ("multiclass_classification", {"kind": "logistic_regression"}),
    ("regression", {"_target_": "sklearn.linear_model.Ridge"}),
]


def fit(task: str, model: dict[str, Any], transforms: list[dict[str, Any]] = STANDARD) -> Any:
    """A Pipeline as the train stage builds and fits it, on the tiny contract dataset."""
    x, y = task_data(task)  # type: ignore[arg-type]
    estimator = build_model(ModelSpec.model_validate(model), task, 42, PLUGINS)  # type: ignore[arg-type]
    features = FeaturesSpec.model_validate({"transforms": transforms})
    return build_pipeline(features, estimator, PLUGINS).fit(x, y)


def members(data: bytes) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.infolist()


def schema_of(data: bytes) -> Any:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return json.loads(archive.read("schema.json"))


def values(node: Any, key: str) -> list[Any]:
    """Every value of ``key`` in the parsed schema, in document order."""
    if isinstance(node, list):
        return [v for item in node for v in values(item, key)]
    if not isinstance(node, dict):
        return []
    found = []
    for k, v in node.items():
        found.extend([v] if k == key and not isinstance(v, dict) else values(v, key))
    return found


def label(case: tuple[str, dict[str, Any]]) -> str:
    task, model = case
    return f"{model.get('kind') or model['_target_'].rsplit('.', 1)[1]}-{task.split('_')[0]}"


@pytest.mark.parametrize("case", MODELS, ids=map(label, MODELS))
def test_equal_pipelines_fitted_separately_give_identical_bytes(
    case: tuple[str, dict[str, Any]],
) -> None:
    first, second = fit(*case), fit(*case)
    assert first is not second
    assert dump_pipeline(first) == dump_pipeline(second)


def test_the_threads_a_fit_ran_on_leave_the_bytes_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh clone on a machine with another core count (or OMP_NUM_THREADS) must reproduce
    the committed dvc.lock: histogram gradient boosting kept its fit's thread count."""
    import sklearn.ensemble  # noqa: F401 - its OpenMP library loaded, for the limits to reach it
    from threadpoolctl import threadpool_limits

    # with the variable set, scikit-learn takes OpenMP's thread count as it is, whatever the cores
    monkeypatch.setenv("OMP_NUM_THREADS", "3")

    def digests(threads: int) -> list[bytes]:
        with threadpool_limits(limits=threads, user_api="openmp"):
            return [dump_pipeline(fit(task, model)) for task, model in MODELS]

    assert digests(1) == digests(3)


def test_one_pipeline_dumped_twice_gives_identical_bytes() -> None:
    pipeline = fit(*MODELS[0])
    assert dump_pipeline(pipeline) == dump_pipeline(pipeline)


def test_another_seed_gives_other_bytes() -> None:
    task, model = MODELS[0]
    x, y = task_data(task)  # type: ignore[arg-type]
    features = FeaturesSpec.model_validate({"transforms": STANDARD})
    dumps = []
    for seed in (42, 43):
        estimator = build_model(ModelSpec.model_validate(model), task, seed, PLUGINS)  # type: ignore[arg-type]
        dumps.append(dump_pipeline(build_pipeline(features, estimator, PLUGINS).fit(x, y)))
    assert dumps[0] != dumps[1]


def customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "city": ["Oslo", "Lima", None, "Oslo", "Pune", "Lima", "Oslo", "Pune"] * 3,
            "plan": ["basic", "pro", "pro", "basic", "basic", "pro", "team", "basic"] * 3,
            "amount": np.linspace(1.0, 9.0, 24),
            "day": list(range(12)) * 2,
            "store": ["a"] * 12 + ["b"] * 12,
            "review": ["Great value", "ARRIVED late, 2 days", None, "ok"] * 6,
            "ordered": pd.date_range("2024-02-27 10:00", periods=24, freq="17h"),
        },
        index=range(100, 124),
    )


TRANSFORMS = [
    {"kind": "impute", "columns": "categorical", "params": {"strategy": "most_frequent"}},
    {"kind": "one_hot", "columns": ["city", "plan"]},
    {"kind": "ordinal", "columns": ["city", "plan"], "params": {"unknown_value": "nan"}},
    {"kind": "target_encoding", "columns": ["plan"], "params": {"cv": 3}},
    {"kind": "standard_scaler", "columns": ["amount"]},
    {"kind": "minmax_scaler", "columns": ["amount"]},
    {"kind": "robust_scaler", "columns": ["amount"]},
    {"kind": "datetime_parts", "columns": ["ordered"], "params": {"parts": ["year", "hour"]}},
    {
        "kind": "lag",
        "columns": ["amount"],
        "params": {"time": "day", "group_by": ["store"], "lags": [1]},
    },
    {
        "kind": "rolling",
        "columns": ["amount"],
        "params": {"time": "day", "group_by": ["store"], "windows": [2], "aggs": ["mean"]},
    },
    {"kind": "text_stats", "columns": ["review"], "params": {"stats": ["length", "words"]}},
    {"kind": "expression", "params": {"columns_out": {"half": "amount / 2"}}},
    {"kind": "drop", "columns": ["review"]},
]


def test_every_builtin_transform_is_covered() -> None:
    assert sorted({t["kind"] for t in TRANSFORMS}) == PLUGINS["transform"].names()


@pytest.mark.parametrize("transform", TRANSFORMS, ids=[t["kind"] for t in TRANSFORMS])
def test_each_transform_fitted_twice_gives_identical_bytes(transform: dict[str, Any]) -> None:
    frame, y = customers(), np.arange(24) % 2
    features = FeaturesSpec.model_validate({"transforms": [transform]})
    first = build_pipeline(features, "passthrough", PLUGINS).fit(frame, y)
    second = build_pipeline(features, "passthrough", PLUGINS).fit(frame, y)
    assert dump_pipeline(first) == dump_pipeline(second)


def test_members_are_renamed_in_order_with_fixed_zip_metadata() -> None:
    data = dump_pipeline(fit(*MODELS[0]))  # xgboost: .npy arrays and a .bin Booster
    infos = members(data)
    names = [info.filename for info in infos]
    assert names[-1] == "schema.json"
    assert [name.split(".")[0] for name in names[:-1]] == [str(i) for i in range(len(names) - 1)]
    assert {name.split(".")[1] for name in names[:-1]} == {"npy", "bin"}
    assert list(dict.fromkeys(values(schema_of(data), "file"))) == names[:-1]
    for info in infos:
        assert info.date_time == DATE_TIME == (1980, 1, 1, 0, 0, 0)
        assert info.compress_type == zipfile.ZIP_STORED
        assert info.external_attr == 0o100644 << 16
        assert info.create_system == 3


def test_ids_are_renumbered_from_one_by_first_appearance() -> None:
    schema = schema_of(dump_pipeline(fit(*MODELS[0])))
    ids = values(schema, "__id__")
    first_seen = list(dict.fromkeys(ids))
    assert first_seen == list(range(1, len(first_seen) + 1))
    assert len(ids) > len(first_seen)  # some objects (None, small ints) are shared


def test_canonical_form_is_a_fixed_point() -> None:
    data = dump_pipeline(fit(*MODELS[2]))
    assert canonical_skops(data) == data


def test_a_shared_object_is_rebuilt_once() -> None:
    import skops.io as sio

    shared = np.arange(5.0)
    data = canonical_skops(sio.dumps({"a": shared, "b": shared, "c": np.ones(3)}))
    assert [info.filename for info in members(data)] == ["0.npy", "1.npy", "schema.json"]
    content = schema_of(data)["content"]
    assert content["a"]["file"] == content["b"]["file"] == "0.npy"
    assert content["a"]["__id__"] == content["b"]["__id__"] != content["c"]["__id__"]
    loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    assert loaded["a"] is loaded["b"]  # the memo id survived renumbering (skops skips id 0)
    assert loaded["a"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert loaded["c"].tolist() == [1.0, 1.0, 1.0]


def test_a_user_key_named_file_or_id_is_left_alone() -> None:
    import skops.io as sio

    data = canonical_skops(sio.dumps({"file": "x.npy", "__id__": 7, "n": np.ones(2)}))
    loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    assert loaded["file"] == "x.npy"
    assert loaded["__id__"] == 7
    assert loaded["n"].tolist() == [1.0, 1.0]


def test_an_unreferenced_member_is_an_error() -> None:
    import skops.io as sio

    raw = io.BytesIO(sio.dumps({"n": np.ones(2)}))
    with zipfile.ZipFile(raw, "a") as archive:
        archive.writestr("stray.npy", b"x")
    with pytest.raises(ValueError, match=r"unreferenced members: \['stray\.npy'\]"):
        canonical_skops(raw.getvalue())


@pytest.mark.parametrize("case", [MODELS[0], MODELS[2], MODELS[4]], ids=label)
def test_canonical_bundle_loads_and_predicts_like_the_original(
    case: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    task, _ = case
    pipeline = fit(*case)
    path = tmp_path / "models" / "m"
    save_bundle(path, pipeline, {"task": task, "classes": None}, {"name": "m"})
    assert (path / PIPELINE_FILE).read_bytes() == dump_pipeline(pipeline)
    bundle = load_bundle(path)  # the allowlist, booster and tree checks included
    x, _ = task_data(task)  # type: ignore[arg-type]
    assert np.array_equal(bundle.pipeline.predict(x), pipeline.predict(x))


@pytest.mark.parametrize("kind", ["random_forest", "bagging"])
def test_a_loaded_forest_predicts_the_same_bits_every_time(kind: str, tmp_path: Path) -> None:
    """Threads sum a forest's trees in the order they finish; a loaded bundle sums in order."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import BaggingClassifier, RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = (
        RandomForestClassifier(n_estimators=200, max_depth=8, n_jobs=2, random_state=0)
        if kind == "random_forest"
        else BaggingClassifier(n_estimators=100, n_jobs=2, random_state=0)
    )
    pipeline = Pipeline([("scale", StandardScaler()), ("model", model)]).fit(x, y)
    path = tmp_path / "models" / "m"
    save_bundle(path, pipeline, {"task": "binary_classification", "classes": [0, 1]}, {})
    trusted = [f"{type(s).__module__}.{type(s).__qualname__}" for s in model.estimators_[:1]]
    loaded = load_bundle(
        path, trusted={*trusted, f"{type(model).__module__}.{type(model).__name__}"}
    )
    assert loaded.pipeline.named_steps["model"].n_jobs == 1
    runs = {loaded.pipeline.predict_proba(x).tobytes() for _ in range(8)}
    assert len(runs) == 1
