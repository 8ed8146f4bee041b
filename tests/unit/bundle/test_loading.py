"""Loading a bundle, in process on tiny hand-made pipelines: every refusal word for word.

Fast (no dataset larger than eight rows), so it is bundle/bundle.py's mutation test list: each
refusal's text, where and fix, the saved JSON bytes, and what loading changes on the Pipeline.
"""

from __future__ import annotations

import io
import json
import zipfile
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from conveyor.bundle import load_bundle, save_bundle
from conveyor.bundle.bundle import (
    Bundle,
    _check_boosters,
    _check_pipeline,
    _sum_in_order,
    dump_pipeline,
    untrusted_types,
)
from conveyor.bundle.manifest import write_manifest
from conveyor.errors import BundleError

if TYPE_CHECKING:
    from pathlib import Path

X = pd.DataFrame({"a": [0.0, 1, 2, 3, 4, 5, 6, 7], "b": [1.0, 0, 1, 0, 1, 0, 1, 0]})
Y = [0, 0, 0, 0, 1, 1, 1, 1]
SCHEMA = {"task": "binary_classification", "classes": [0, 1]}
NOT_PIPELINE_FIX = "a bundle holds the Pipeline conveyor's train stage fits; retrain the model"
BAD_PIPELINE_FIX = "a bundle holds the fitted Pipeline conveyor's train stage writes; retrain it"
UNTRUSTED_FIX = (
    "load bundles only from sources you trust. If you trust this model: an installed model "
    "plugin declares its types in 'trusted_types'; a project's params.yaml trusts its "
    "model._target_ class and the exact classes its reviewed conf/ lists in "
    "model.trusted_types (run from that project)"
)
MALFORMED_FIX = (
    "the file was altered or not written by conveyor's train stage: load bundles only from "
    "sources you trust, or retrain the model"
)


def linear() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(X, Y)


def xgb() -> Any:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from xgboost import XGBClassifier

    model = XGBClassifier(n_estimators=2, max_depth=2, n_jobs=1, random_state=0)
    return Pipeline([("scale", StandardScaler()), ("model", model)]).fit(X, Y)


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for name, data in files.items():
            target.writestr(name, data)
    return buffer.getvalue()


def nodes_of(schema: Any, cls: str) -> list[dict[str, Any]]:
    found, stack = [], [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("__class__") == cls:
                found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def refusal(path: Path, **options: Any) -> BundleError:
    with pytest.raises(BundleError) as info:
        load_bundle(path, **options)
    return info.value


def saved(path: Path, pipeline: Any, schema: dict[str, Any] = SCHEMA) -> Path:
    save_bundle(path, pipeline, schema, {"name": path.name})
    return path


def test_a_saved_bundle_loads_with_its_documents_and_predicts_the_same(tmp_path: Path) -> None:
    pipeline = linear()
    metadata = {"name": "m", "params": {"seed": 7}}
    save_bundle(tmp_path / "m", pipeline, SCHEMA, metadata)
    bundle = load_bundle(tmp_path / "m")
    assert isinstance(bundle, Bundle)
    assert bundle.path == tmp_path / "m"
    assert bundle.schema == SCHEMA
    assert bundle.metadata == metadata
    assert bundle.classes == [0, 1]
    assert type(bundle.classes) is list
    assert list(bundle.pipeline.predict_proba(X)[:, 1]) == list(pipeline.predict_proba(X)[:, 1])


def test_classes_are_a_list_or_none() -> None:
    pipeline = object()
    assert Bundle(None, pipeline, {"classes": ("b", "a")}, {}).classes == ["b", "a"]  # type: ignore[arg-type]
    assert Bundle(None, pipeline, {"classes": []}, {}).classes == []  # type: ignore[arg-type]
    assert Bundle(None, pipeline, {"task": "regression"}, {}).classes is None  # type: ignore[arg-type]


def test_the_documents_are_written_sorted_indented_with_a_newline(tmp_path: Path) -> None:
    from pathlib import PurePosixPath

    data = dump_pipeline(linear())
    schema = {"task": "regression", "columns": {"b": 1, "a": [1.5, None]}}
    save_bundle(tmp_path / "m", data, schema, {"z": PurePosixPath("x/y"), "a": True})
    assert (tmp_path / "m" / "schema.json").read_text(encoding="utf-8") == (
        '{\n  "columns": {\n    "a": [\n      1.5,\n      null\n    ],\n    "b": 1\n  },\n'
        '  "task": "regression"\n}\n'
    )
    assert (tmp_path / "m" / "metadata.json").read_text(encoding="utf-8") == (
        '{\n  "a": true,\n  "z": "x/y"\n}\n'
    )
    assert (tmp_path / "m" / "pipeline.skops").read_bytes() == data  # the bytes given, as given
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(manifest["files"]) == ["metadata.json", "pipeline.skops", "schema.json"]
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "manifest.json",
        "metadata.json",
        "pipeline.skops",
        "schema.json",
    ]


def test_dumping_is_canonical() -> None:
    assert dump_pipeline(linear()) == dump_pipeline(linear())


def test_a_root_that_is_not_a_pipeline_is_refused(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    bundle = saved(tmp_path / "lr", dump_pipeline(LogisticRegression().fit(X, Y)))
    error = refusal(bundle)
    assert error.what == (
        "holds a 'sklearn.linear_model._logistic.LogisticRegression', not a scikit-learn Pipeline"
    )
    assert error.where == f"{bundle / 'pipeline.skops'}"
    assert error.fix == NOT_PIPELINE_FIX


@pytest.mark.parametrize(
    ("edit", "found"),
    [
        (lambda root: [root], "?"),
        (lambda root: {**root, "__loader__": "ReduceNode"}, "sklearn.pipeline.Pipeline"),
        (lambda root: {**root, "__class__": "Pipe"}, "sklearn.pipeline.Pipe"),
        (lambda root: {**root, "__module__": "sklearn.pipe"}, "sklearn.pipe.Pipeline"),
        (lambda root: {k: v for k, v in root.items() if k != "__module__"}, "None.Pipeline"),
    ],
    ids=["a list", "another loader", "another class", "another module", "no module"],
)
def test_a_root_named_otherwise_is_refused_with_its_name(
    tmp_path: Path, edit: Any, found: str
) -> None:
    files = members(dump_pipeline(linear()))
    files["schema.json"] = json.dumps(edit(json.loads(files["schema.json"]))).encode()
    bundle = saved(tmp_path / "m", archive(files))
    error = refusal(bundle)
    assert error.what == f"holds a '{found}', not a scikit-learn Pipeline"
    assert error.fix == NOT_PIPELINE_FIX


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"not a zip", "is not a skops archive: File is not a zip file"),
        (
            archive({"0.npy": b""}),
            "is not a skops archive: \"There is no item named 'schema.json' in the archive\"",
        ),
        (
            archive({"schema.json": b"{"}),
            "is not a skops archive: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
    ],
    ids=["not a zip", "no schema", "bad json"],
)
def test_what_is_not_a_skops_archive_is_refused(tmp_path: Path, data: bytes, what: str) -> None:
    error = refusal(saved(tmp_path / "m", data))
    assert error.what == what
    assert error.where == f"{tmp_path / 'm' / 'pipeline.skops'}"
    assert error.fix == "retrain the model"


def test_a_member_skops_cannot_find_is_refused_unread(tmp_path: Path) -> None:
    files = members(dump_pipeline(xgb()))
    (booster,) = nodes_of(json.loads(files["schema.json"]), "Booster")
    del files[booster["content"]["content"]["handle"]["file"]]
    error = refusal(saved(tmp_path / "m", archive(files)))
    assert error.what == "cannot read it: \"There is no item named '4.bin' in the archive\""
    assert error.fix == "retrain"
    assert error.where == f"{tmp_path / 'm' / 'pipeline.skops'}"


def test_untrusted_types_are_listed_sorted_and_nothing_is_loaded(tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    pipeline = Pipeline([("f", FunctionTransformer()), ("model", DummyClassifier())]).fit(X, Y)
    bundle = saved(tmp_path / "m", pipeline)
    error = refusal(bundle)
    assert error.what == (
        "holds types that are not trusted, so nothing in it was loaded: "
        "'sklearn.dummy.DummyClassifier'"
    )
    assert error.where == f"{bundle / 'pipeline.skops'}"
    assert error.fix == UNTRUSTED_FIX
    data = (bundle / "pipeline.skops").read_bytes()
    assert untrusted_types(data, [], where="w") == ["sklearn.dummy.DummyClassifier"]
    vouched = ["sklearn.dummy.DummyClassifier"]
    assert untrusted_types(data, vouched, where="w") == []
    loaded = load_bundle(bundle, trusted=iter(vouched))  # any iterable: a generator too
    assert list(loaded.pipeline.predict(X)) == [0, 0, 0, 0, 0, 0, 0, 0]


def test_two_untrusted_types_are_joined_in_order(tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import Binarizer

    pipeline = Pipeline([("b", Binarizer()), ("model", DummyClassifier())]).fit(X, Y)
    data = dump_pipeline(pipeline)
    found = untrusted_types(data, [], where="w")
    if "sklearn.preprocessing._data.Binarizer" not in found:
        pytest.skip("Binarizer is trusted by an installed transform")
    assert found == ["sklearn.dummy.DummyClassifier", "sklearn.preprocessing._data.Binarizer"]
    assert refusal(saved(tmp_path / "m", data)).what == (
        "holds types that are not trusted, so nothing in it was loaded: "
        "'sklearn.dummy.DummyClassifier', 'sklearn.preprocessing._data.Binarizer'"
    )


def test_untrusted_types_reports_what_only_skops_scan_finds() -> None:
    """A type skops sees held inside a node (a dtype of an array) counts too."""
    files = members(dump_pipeline(linear()))
    schema = json.loads(files["schema.json"])
    for item in nodes_of(schema, "StandardScaler"):
        item["__class__"] = "StandardScalerX"
    found = untrusted_types(
        archive({**files, "schema.json": json.dumps(schema).encode()}), [], where="w"
    )
    assert found == ["sklearn.preprocessing._data.StandardScalerX"]


def test_an_unfitted_pipeline_is_refused(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
    error = refusal(saved(tmp_path / "m", pipeline))
    assert error.what == (
        "the Pipeline is not fitted: This StandardScaler instance is not fitted yet. Call 'fit' "
        "with appropriate arguments before using this estimator."
    )
    assert error.where == f"{tmp_path / 'm' / 'pipeline.skops'}"
    assert error.fix == BAD_PIPELINE_FIX


class _NoPredict(BaseEstimator):
    def fit(self, *_: Any) -> _NoPredict:
        return self


class _NoTransform(BaseEstimator):
    predict = fit = _NoPredict.fit


def _pipeline_with(steps: Any) -> Any:
    from sklearn.pipeline import Pipeline

    pipeline = Pipeline([("model", _NoTransform())])
    pipeline.steps = steps
    return pipeline


def _without_steps() -> Any:
    pipeline = _pipeline_with([("model", _fitted_model())])
    del pipeline.steps
    return pipeline


def _fitted_model() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(X, Y)


def _fitted_scaler() -> Any:
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit(X)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda: object(), "is not a Pipeline with steps"),
        (lambda: _pipeline_with([]), "is not a Pipeline with steps"),
        (lambda: _pipeline_with((("model", _fitted_model()),)), "is not a Pipeline with steps"),
        (
            lambda: _pipeline_with([["model", _fitted_model()]]),
            "has steps that are not (name, estimator) pairs",
        ),
        (
            lambda: _pipeline_with([("model", _fitted_model(), 1)]),
            "has steps that are not (name, estimator) pairs",
        ),
        (
            lambda: _pipeline_with([(1, _fitted_model())]),
            "has steps that are not (name, estimator) pairs",
        ),
        (
            lambda: _pipeline_with([("s", _fitted_scaler()), ["model", _fitted_model()]]),
            "has steps that are not (name, estimator) pairs",
        ),
        (
            lambda: _pipeline_with([("clf", _fitted_model())]),
            "does not end in a 'model' step that predicts",
        ),
        (
            lambda: _pipeline_with([("model", _NoPredict())]),
            "does not end in a 'model' step that predicts",
        ),
        (
            lambda: _pipeline_with(
                [("s", _fitted_scaler()), ("n", _NoTransform()), ("model", _fitted_model())]
            ),
            "has a step before the model that is not a transformer",
        ),
        (
            lambda: _pipeline_with(
                [("n", _NoTransform()), ("s", _fitted_scaler()), ("model", _fitted_model())]
            ),
            "has a step before the model that is not a transformer",
        ),
        (
            lambda: _pipeline_with([("s", _fitted_scaler()), ("model", _NoTransform())]),
            "is not fitted: This _NoTransform instance is not fitted yet. Call 'fit' with "
            "appropriate arguments before using this estimator.",
        ),
        (
            lambda: _pipeline_with([("s", _fitted_scaler()), ("model", 5)]),
            "does not end in a 'model' step that predicts",
        ),
        (  # not a Pipeline, though shaped like one
            lambda: SimpleNamespace(steps=[("model", _fitted_model())]),
            "is not a Pipeline with steps",
        ),
        (lambda: _without_steps(), "is not a Pipeline with steps"),
    ],
)
def test_each_pipeline_shape_problem_is_named(make: Any, problem: str) -> None:
    with pytest.raises(BundleError) as info:
        _check_pipeline(make(), "here")
    assert info.value.what == f"the Pipeline {problem}"
    assert info.value.where == "here"
    assert info.value.fix == BAD_PIPELINE_FIX


def test_a_fitted_pipeline_of_transformers_and_a_model_passes() -> None:
    _check_pipeline(_pipeline_with([("s", _fitted_scaler()), ("model", _fitted_model())]), "here")
    _check_pipeline(_pipeline_with([("model", _fitted_model())]), "here")


def test_a_step_sklearn_cannot_check_is_not_fitted() -> None:
    """check_is_fitted raises TypeError on something that is not an estimator."""

    class Predicts:
        def predict(self) -> None: ...

    with pytest.raises(BundleError) as info:
        _check_pipeline(_pipeline_with([("model", Predicts())]), "here")
    assert info.value.what.startswith("the Pipeline is not fitted: ")
    assert "is not an estimator instance" in info.value.what


def test_ensembles_predict_in_one_thread_after_loading(tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    forest = RandomForestClassifier(n_estimators=2, n_jobs=3, random_state=0)
    bundle = saved(tmp_path / "rf", Pipeline([("model", forest)]).fit(X, Y))
    assert load_bundle(bundle).pipeline.named_steps["model"].n_jobs == 1
    assert forest.n_jobs == 3  # training kept its threads


def test_every_summing_ensemble_and_only_those_get_one_thread() -> None:
    from sklearn import ensemble
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline

    summing = [
        ensemble.RandomForestClassifier,
        ensemble.RandomForestRegressor,
        ensemble.ExtraTreesClassifier,
        ensemble.ExtraTreesRegressor,
        ensemble.BaggingClassifier,
        ensemble.BaggingRegressor,
    ]
    for cls in summing:
        pipeline = Pipeline([("model", cls(n_jobs=4))])
        _sum_in_order(pipeline)
        assert pipeline.steps[0][1].n_jobs == 1, cls
    others = Pipeline(
        [("k", KNeighborsClassifier(n_jobs=4)), ("model", LogisticRegression(n_jobs=4))]
    )
    _sum_in_order(others)
    assert [step.n_jobs for _, step in others.steps] == [4, 4]
    mixed = Pipeline(
        [("k", KNeighborsClassifier(n_jobs=4)), ("model", ensemble.ExtraTreesRegressor(n_jobs=4))]
    )
    _sum_in_order(mixed)
    assert [step.n_jobs for _, step in mixed.steps] == [4, 1]


def test_an_xgboost_pipeline_loads_and_predicts_the_same(tmp_path: Path) -> None:
    pipeline = xgb()
    loaded = load_bundle(saved(tmp_path / "x", pipeline)).pipeline
    assert list(loaded.predict_proba(X)[:, 1]) == list(pipeline.predict_proba(X)[:, 1])


def test_a_booster_whose_bytes_are_not_xgboosts_is_refused_before_xgboost_reads_them(
    tmp_path: Path,
) -> None:
    files = members(dump_pipeline(xgb()))
    files["4.bin"] = b"{"
    bundle = saved(tmp_path / "x", archive(files))
    error = refusal(bundle)
    assert error.what.startswith(
        "a tree of the model is malformed, so it was not used: the booster of 'XGBClassifier', "
        "its model is not one xgboost writes ("
    )
    assert error.where == f"{bundle / 'pipeline.skops'}"
    assert error.fix == MALFORMED_FIX


@pytest.mark.parametrize("form", ["missing member", "no file name", "another loader"])
def test_a_booster_not_in_the_form_skops_writes_is_refused(form: str) -> None:
    data = dump_pipeline(xgb())
    files = members(data)
    root = json.loads(files["schema.json"])
    (booster,) = nodes_of(root, "Booster")
    handle = booster["content"]["content"]["handle"]
    if form == "missing member":
        data = archive({k: v for k, v in files.items() if k != handle["file"]})
    elif form == "no file name":
        handle["file"] = 4
    else:
        booster["__loader__"] = "ReduceNode"
    with pytest.raises(BundleError) as info:
        _check_boosters(data, root, "here")
    assert info.value.what == (
        "a tree of the model is malformed, so it was not used: the booster of 'XGBClassifier', "
        "it is not in the form skops writes (a bytearray file)"
    )
    assert info.value.fix == MALFORMED_FIX


def test_a_pipeline_without_boosters_is_not_opened_for_them() -> None:
    _check_boosters(b"not a zip", {"__class__": "Pipeline"}, "here")  # no booster: no read


def test_a_malformed_tree_is_refused_with_the_tree_problem(tmp_path: Path) -> None:
    import numpy as np
    from sklearn.pipeline import Pipeline
    from sklearn.tree import DecisionTreeClassifier

    pipeline = Pipeline([("model", DecisionTreeClassifier(random_state=0))]).fit(X, Y)
    files = members(dump_pipeline(pipeline))
    schema = json.loads(files["schema.json"])
    state = nodes_of(schema, "Tree")[0]["content"]["content"]
    file = state["nodes"]["file"]
    nodes = np.load(io.BytesIO(files[file]))
    nodes["left_child"][0] = 10**6
    buffer = io.BytesIO()
    np.save(buffer, nodes)
    files[file] = buffer.getvalue()
    bundle = saved(tmp_path / "t", archive(files))
    error = refusal(bundle)
    assert error.what.startswith("a tree of the model is malformed, so it was not used: ")
    assert "node 0: child 1000000" in error.what
    assert error.where == f"{bundle / 'pipeline.skops'}"
    assert error.fix == MALFORMED_FIX


def test_a_tampered_bundle_is_refused_before_its_pipeline_is_read(tmp_path: Path) -> None:
    bundle = saved(tmp_path / "m", linear())
    (bundle / "pipeline.skops").write_bytes(b"not a zip")
    assert "pipeline.skops" in str(refusal(bundle))
    write_manifest(bundle)  # re-hashed: now the archive itself is refused
    assert refusal(bundle).what == "is not a skops archive: File is not a zip file"


def test_a_schema_document_of_the_wrong_shape_is_refused_where_it_is(tmp_path: Path) -> None:
    bundle = saved(tmp_path / "m", linear())
    (bundle / "schema.json").write_text("[1]\n", encoding="utf-8")
    write_manifest(bundle)
    assert refusal(bundle).where == f"{bundle / 'schema.json'}"
    (bundle / "schema.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    (bundle / "metadata.json").write_text("[1]\n", encoding="utf-8")
    write_manifest(bundle)
    assert refusal(bundle).where == f"{bundle / 'metadata.json'}"


def test_an_array_skops_cannot_build_is_refused_in_one_line(tmp_path: Path) -> None:
    files = members(dump_pipeline(linear()))
    files["0.npy"] = b"garbage"  # numpy reads anything that is not an .npy header as a pickle
    bundle = saved(tmp_path / "m", archive(files))
    error = refusal(bundle)
    assert error.what == (
        "cannot load it: This file contains pickled (object) data. If you trust the file you can "
        "load it unsafely using the `allow_pickle=` keyword argument or `pickle.load()`."
    )
    assert error.where == f"{bundle / 'pipeline.skops'}"
    assert error.fix == "retrain the model"


def _method_pipeline(model: Any) -> Any:
    """A FunctionTransformer calling a bound method: a type only skops' own scan names."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    method = StandardScaler().fit(X).transform
    return Pipeline([("f", FunctionTransformer(func=method)), ("model", model)]).fit(X, Y)


METHOD = "sklearn.preprocessing._data.StandardScaler.transform"


def test_the_complete_check_adds_what_skops_names_to_what_the_schema_refuses() -> None:
    from sklearn.dummy import DummyClassifier

    data = dump_pipeline(_method_pipeline(DummyClassifier()))
    assert untrusted_types(data, [], where="w") == ["sklearn.dummy.DummyClassifier", METHOD]
    assert untrusted_types(data, [METHOD], where="w") == ["sklearn.dummy.DummyClassifier"]


def test_loading_stops_at_the_schemas_refusal_and_else_asks_skops(tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression

    dummy = saved(tmp_path / "d", _method_pipeline(DummyClassifier()))
    assert refusal(dummy).what == (
        "holds types that are not trusted, so nothing in it was loaded: "
        "'sklearn.dummy.DummyClassifier'"
    )
    linear_model = saved(tmp_path / "l", _method_pipeline(LogisticRegression()))
    assert refusal(linear_model).what == (
        f"holds types that are not trusted, so nothing in it was loaded: '{METHOD}'"
    )


def test_untrusted_types_locates_an_archive_that_is_not_a_pipeline() -> None:
    with pytest.raises(BundleError) as info:
        untrusted_types(b"not a zip", [], where="train")
    assert info.value.where == "train"
    assert info.value.what == "is not a skops archive: File is not a zip file"


@pytest.mark.parametrize(
    ("error", "what"),
    [
        (ValueError("bad tree\n  [bt] (0) libxgboost.so(+0x1)\n"), "cannot load it: bad tree"),
        (ValueError("\n  bad tree\nmore"), "cannot load it: bad tree"),
        (RuntimeError("   "), "cannot load it: RuntimeError"),
        (KeyError(), "cannot load it: KeyError"),
    ],
    ids=["a backtrace", "a leading blank line", "blank", "empty"],
)
def test_a_failure_inside_skops_is_one_line_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, what: str
) -> None:
    """xgboost appends its C++ backtrace to what it raises: the first line is the reason."""
    import skops.io

    bundle = saved(tmp_path / "m", linear())

    def failing(*_: object, **__: object) -> None:
        raise error

    monkeypatch.setattr(skops.io, "loads", failing)  # a fault injected where skops raises
    refused = refusal(bundle)
    assert refused.what == what
    assert refused.fix == "retrain the model"
    assert refused.__cause__ is error


def test_a_node_naming_no_type_is_located_in_the_pipeline_file(tmp_path: Path) -> None:
    files = members(dump_pipeline(linear()))
    schema = json.loads(files["schema.json"])
    del nodes_of(schema, "StandardScaler")[0]["__module__"]
    bundle = saved(tmp_path / "m", archive({**files, "schema.json": json.dumps(schema).encode()}))
    error = refusal(bundle)
    assert error.what == "a node of the pipeline names no type ('__module__', '__class__')"
    assert error.where == f"{bundle / 'pipeline.skops'}"
