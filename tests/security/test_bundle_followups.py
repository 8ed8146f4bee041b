"""Follow-ups to the exact-type allowlist: declared types for ``_target_`` estimators, and trees.

1. A ``_target_`` estimator whose fitted state holds other classes (GradientBoostingClassifier
   holds a DummyClassifier) is trained only when conf/ declares those exact types in
   ``model.trusted_types``; train refuses early, with the list, instead of writing a bundle no
   stage can load. Nothing that calls code can be declared, and a declaration never lets a
   bundle's other types in.
2. A tree whose node indices point outside its node array (or back up the tree) made the
   Cython predictors of scikit-learn and the C++ of xgboost read outside memory: the process
   died of SIGSEGV. Every tree is now checked before the model is used: exit 4, named node.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import yaml

from conveyor.bundle import infer_schema, load_bundle, save_bundle
from conveyor.bundle.trust import declared_types
from conveyor.errors import BundleError
from tests.conftest import conveyor_in_process, conveyor_warm, dvc, sh
from tests.security.hostile_bundles import PAYLOADS, plant, rewrite_manifest
from tests.unit.bundle.test_scoring import features

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

NAME = "diagnostics"
GB = "sklearn.ensemble.GradientBoostingClassifier"
DUMMY = "sklearn.dummy.DummyClassifier"
_EXEC = next(p for p in PAYLOADS if p.name == "builtins.exec")


def _use_gb(root: Path, trusted: list[str] | None = None) -> None:
    conf: dict[str, Any] = {"_target_": GB, "params": {"n_estimators": 80, "max_depth": 2}}
    if trusted is not None:
        conf["trusted_types"] = trusted
    (root / "conf" / "model" / "gb.yaml").write_text(yaml.safe_dump(conf, sort_keys=False))
    config = root / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("model: xgboost", "model: gb"))


@pytest.fixture(scope="module")
def split(reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default project with the split done (the model is chosen per test): the session's
    reproduced project without the outputs of the stages after split, as ``dvc repro split``
    leaves it, so no test sees a bundle or report it did not make."""
    root = tmp_path_factory.mktemp("split") / "project"
    shutil.copytree(reproduced_template, root, symlinks=True)
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    upstream = {"validate", "split", *(name for name in stages if name.startswith("ingest-"))}
    for name, stage in stages.items():
        if name in upstream:
            continue
        for out in (*stage.get("outs", []), *stage.get("metrics", []), *stage.get("plots", [])):
            path = root / (out if isinstance(out, str) else next(iter(out)))
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    assert not (root / "models" / NAME).exists()
    return root


def _copy(source: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(source, root, symlinks=True)
    return root


# --- 1. model.trusted_types ------------------------------------------------------------------


@pytest.mark.parametrize("trusted", [None, ["sklearn.dummy.DummyRegressor"]], ids=["none", "other"])
@pytest.mark.slow
def test_train_refuses_a_target_estimator_holding_undeclared_types_before_writing(
    trusted: list[str] | None, split: Path, tmp_path: Path
) -> None:
    root = _copy(split, tmp_path)
    _use_gb(root, trusted)
    conveyor_in_process("compile", cwd=root)
    done = conveyor_warm("run", "train", cwd=root, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    error = done.stderr
    assert error.startswith("error: model.trusted_types (conf/model/gb.yaml): ")
    assert f"'{DUMMY}'" in error
    assert "'sklearn.dummy.DummyRegressor'" not in error  # only what is missing is listed
    assert "sklearn.tree" not in error  # trusted already: an installed model declares them
    assert "fix: add them to model.trusted_types in conf/model/gb.yaml after reviewing them" in (
        error
    )
    assert not (root / "models" / NAME).exists()  # no bundle that no stage could load


@pytest.fixture(scope="module")
def trained_gb(split: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gb") / "project"
    shutil.copytree(split, root, symlinks=True)
    _use_gb(root, [DUMMY])
    conveyor_in_process("compile", cwd=root)
    dvc("repro", "-q", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "gb", cwd=root)
    return root


@pytest.mark.slow
def test_declared_types_let_a_target_estimator_train_evaluate_score_and_serve(
    trained_gb: Path, tmp_path: Path
) -> None:
    from tests.integration.test_serve import Server

    root = _copy(trained_gb, tmp_path)
    assert json.loads(dvc("status", "--json", cwd=root).stdout) == {}
    conveyor_in_process("compile", "--check", cwd=root)
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    assert "model" in stages["train"]["params"]
    for stage in ("evaluate", "profile", "deploy-batch"):
        assert {"model._target_", "model.trusted_types"} <= set(stages[stage]["params"]), stage
    assert json.loads((root / "reports" / "metrics.json").read_text())["roc_auc"] > 0.9
    assert (root / "reports" / "profile.json").is_file()

    rows = features().head(20)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    conveyor_warm(
        "score", "models/diagnostics", str(tmp_path / "rows.csv"), "-o", "o.parquet", cwd=root
    )
    server = Server(["models/diagnostics", "--log-dir", str(tmp_path / "log")], root)
    try:
        records = json.loads(rows.to_json(orient="records"))
        answer = server.http.post("/invocations", json={"dataframe_records": records})
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 20
    finally:
        server.stop()

    # a trust change is a params change: the stages that load the bundle rerun (and re-check)
    _use_gb(root, [DUMMY, "sklearn.dummy.DummyRegressor"])
    conveyor_in_process("compile", cwd=root)
    stale = set(json.loads(dvc("status", "--json", cwd=root).stdout))
    assert {"train", "evaluate", "profile", "deploy-batch"} <= stale
    assert "split" not in stale


@pytest.mark.slow
def test_a_version_is_loaded_with_the_types_its_own_commit_declares(
    trained_gb: Path, tmp_path: Path
) -> None:
    root = _copy(trained_gb, tmp_path)
    conveyor_warm("registry", "register", NAME, "--ref", "HEAD", cwd=root)
    show = json.loads(conveyor_warm("registry", "show", NAME, "--json", cwd=root).stdout)
    (version,) = [v["version"] for v in show["versions"]]
    # the work tree no longer declares the type; the version's own commit does
    (root / "conf" / "model" / "gb.yaml").unlink()
    config = root / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("model: gb", "model: xgboost"))
    conveyor_in_process("compile", cwd=root)
    verify = conveyor_warm("registry", "verify", f"{NAME}@{version}", cwd=root, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.fixture(scope="module")
def gb_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.ensemble import GradientBoostingClassifier

    return _bundle(
        tmp_path_factory.mktemp("gb") / "models" / "gb",
        GradientBoostingClassifier(n_estimators=5, max_depth=2, random_state=0),
    )


def _params(*trusted: str) -> dict[str, Any]:
    return {"model": {"_target_": GB, "trusted_types": list(trusted)}}


def test_a_declared_type_never_lets_a_bundles_other_types_in(
    gb_bundle: Path, tmp_path: Path
) -> None:
    assert load_bundle(gb_bundle, trusted=declared_types(_params(DUMMY))).pipeline is not None
    with pytest.raises(BundleError, match=rf"not trusted.*'{DUMMY}'"):
        load_bundle(gb_bundle, trusted=declared_types(_params()))

    marker = tmp_path / "marker"
    hostile = tmp_path / "hostile"
    shutil.copytree(gb_bundle, hostile)
    plant(_EXEC, hostile, marker)
    with pytest.raises(BundleError, match="not trusted") as info:
        load_bundle(hostile, trusted=declared_types(_params(DUMMY)))
    assert "'builtins.exec'" in str(info.value)
    assert DUMMY not in str(info.value)
    assert not marker.exists()


def test_a_hand_edited_params_yaml_cannot_declare_what_calls_code(
    gb_bundle: Path, tmp_path: Path
) -> None:
    """compile refuses these names; a params.yaml edited by hand (or at an old commit) too."""
    denied = ("builtins.exec", "os.system", "subprocess.Popen", "functools.partial", "builtins")
    trusted = declared_types(_params(DUMMY, *denied))
    assert trusted.isdisjoint(denied)
    marker = tmp_path / "marker"
    hostile = tmp_path / "hostile"
    shutil.copytree(gb_bundle, hostile)
    plant(_EXEC, hostile, marker)
    with pytest.raises(BundleError, match=r"not trusted.*'builtins\.exec'"):
        load_bundle(hostile, trusted=trusted)
    assert not marker.exists()


BAD_DECLARATIONS = {
    "builtins.exec": "'builtins.exec' is in 'builtins', which can run code",
    "builtins.eval": "'builtins.eval' is in 'builtins', which can run code",
    "builtins.getattr": "'builtins.getattr' is in 'builtins', which can run code",
    "os.system": "'os.system' is in 'os', which can run code",
    "subprocess.Popen": "'subprocess.Popen' is in 'subprocess', which can run code",
    "importlib.import_module": "'importlib.import_module' is in 'importlib', which can run code",
    "functools.partial": "'functools.partial' is in 'functools', which can run code",
    "operator.attrgetter": "'operator.attrgetter' is in 'operator', which can run code",
    "numpy.memmap": "'numpy.memmap' is in 'numpy.memmap', which can run code",
    "builtins": "'builtins' is not an exact 'module.Class' name",
    "sklearn.*": "'sklearn.*' is not an exact 'module.Class' name",
    "sklearn.tree.": "'sklearn.tree.' is not an exact 'module.Class' name",
    "sklearn.tree": "'sklearn.tree' is a module, not a class",
    "numpy.load": "'numpy.load' is not a class",
    "sklearn.tree.DecisionTreeRegressor": "skops records it as "
    "'sklearn.tree._classes.DecisionTreeRegressor'",
    "nosuchpackage.Thing": "cannot import 'nosuchpackage'",
}


def test_compile_refuses_every_bad_declaration_at_once_located(
    project: Path,
) -> None:
    _use_gb(project, [DUMMY, *BAD_DECLARATIONS])
    done = conveyor_in_process("compile", cwd=project, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert not any("model.trusted_types.0 " in line for line in lines)  # DUMMY is fine
    for index, (name, reason) in enumerate(BAD_DECLARATIONS.items(), start=1):
        where = f"model.trusted_types.{index} (conf/model/gb.yaml)"
        line = next((line for line in lines if where in line), None)
        assert line is not None, f"{name}: {done.stderr}"
        assert reason in line, f"{name}: {line}"


# --- 2. tree structures --------------------------------------------------------------------


def _bundle(path: Path, model: Any) -> Path:
    """Scale + ``model`` on breast cancer, as conveyor's train stage builds it."""
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    scale = ColumnTransformer(
        [("0_standard_scaler", StandardScaler(), list(x.columns))],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    pipeline = Pipeline([("0_standard_scaler", scale), ("model", model)]).fit(x, y)
    schema = {"task": "binary_classification", "target": "diagnosis", "classes": [0, 1]}
    save_bundle(path, pipeline, {**schema, "columns": infer_schema(x)}, {"name": path.name})
    return path


def _members(archive: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(archive) as source:
        return {name: source.read(name) for name in source.namelist()}


def _write(archive: Path, members: dict[str, bytes]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for name, data in members.items():
            target.writestr(name, data)
    archive.write_bytes(buffer.getvalue())


def _nodes_of(schema: Any, cls: str) -> list[dict[str, Any]]:
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


def edit_tree(bundle: Path, cls: str, edit: Callable[[np.ndarray], None]) -> Path:
    """Edit the ``nodes`` array of the first ``cls`` node (a Tree or a TreePredictor)."""
    archive = bundle / "pipeline.skops"
    members = _members(archive)
    schema = json.loads(members["schema.json"])
    tree = _nodes_of(schema, cls)[0]
    state = tree["content"]["content"]
    file = state["nodes"]["file"]
    nodes = np.load(io.BytesIO(members[file]))
    edit(nodes)
    buffer = io.BytesIO()
    np.save(buffer, nodes)
    members[file] = buffer.getvalue()
    if len(nodes) != int(state.get("node_count", {}).get("content", len(nodes))):
        state["node_count"]["content"] = json.dumps(len(nodes))  # keep sklearn's own check happy
    members["schema.json"] = json.dumps(schema).encode()
    _write(archive, members)
    rewrite_manifest(bundle)
    return bundle


@pytest.fixture(scope="module")
def hgb_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=5, random_state=0)
    return _bundle(tmp_path_factory.mktemp("hgb") / "models" / "hgb", model)


@pytest.fixture(scope="module")
def forest_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0, n_jobs=1)
    return _bundle(tmp_path_factory.mktemp("forest") / "models" / "forest", model)


def _set(field: str, index: int, value: int) -> Callable[[np.ndarray], None]:
    def edit(nodes: np.ndarray) -> None:
        nodes[field][index] = value

    return edit


def _first_split_to_categorical(nodes: np.ndarray) -> None:
    nodes["is_categorical"][0] = 1
    nodes["bitset_idx"][0] = 7


HGB_CASES = {
    "left child past the end": (_set("left", 0, 10**9), "node 0: child 1000000000"),
    "right child past the end": (_set("right", 0, 4_000_000_000), "node 0: child 4000000000"),
    "left child is itself": (_set("left", 0, 0), "node 0: child 0 does not come after it"),
    "child points up the tree": (_set("left", 1, 0), "node 1: child 0 does not come after it"),
    "feature past n_features_in_": (_set("feature_idx", 0, 30), "node 0: feature 30"),
    "negative feature": (_set("feature_idx", 0, -1), "node 0: feature -1"),
    "categorical without categories": (_first_split_to_categorical, "node 0: categorical"),
    "no nodes": (lambda n: None, "has no nodes"),
}


@pytest.mark.parametrize("case", HGB_CASES, ids=list(HGB_CASES))
def test_a_crafted_hist_gradient_boosting_tree_is_refused_at_load(
    case: str, hgb_bundle: Path, tmp_path: Path
) -> None:
    edit, message = HGB_CASES[case]
    bundle = tmp_path / "hgb"
    shutil.copytree(hgb_bundle, bundle)
    if case == "no nodes":
        _truncate(bundle, "TreePredictor")
    else:
        edit_tree(bundle, "TreePredictor", edit)
    with pytest.raises(BundleError, match="a tree of the model is malformed") as info:
        load_bundle(bundle)
    assert info.value.exit_code == 4
    assert "HistGradientBoostingClassifier" in str(info.value)
    assert message in str(info.value)


def _truncate(bundle: Path, cls: str) -> None:
    archive = bundle / "pipeline.skops"
    members = _members(archive)
    schema = json.loads(members["schema.json"])
    file = _nodes_of(schema, cls)[0]["content"]["content"]["nodes"]["file"]
    nodes = np.load(io.BytesIO(members[file]))
    buffer = io.BytesIO()
    np.save(buffer, nodes[:0])
    members[file] = buffer.getvalue()
    _write(archive, members)
    rewrite_manifest(bundle)


TREE_CASES = {
    "left child past the end": (_set("left_child", 0, 10**6), "node 0: child 1000000"),
    "right child negative": (_set("right_child", 0, -5), "node 0: child -5"),
    "child is itself": (_set("left_child", 0, 0), "node 0: child 0 does not come after it"),
    "feature past n_features_in_": (_set("feature", 0, 10**6), "node 0: feature 1000000"),
    "one child a leaf marker": (_set("right_child", 0, -1), "node 0: child -1"),
}


@pytest.mark.parametrize("case", TREE_CASES, ids=list(TREE_CASES))
def test_a_crafted_decision_tree_is_refused_at_load(
    case: str, forest_bundle: Path, tmp_path: Path
) -> None:
    edit, message = TREE_CASES[case]
    bundle = edit_tree(shutil.copytree(forest_bundle, tmp_path / "forest"), "Tree", edit)
    with pytest.raises(BundleError, match="a tree of the model is malformed") as info:
        load_bundle(bundle)
    assert "DecisionTreeClassifier" in str(info.value)
    assert message in str(info.value)


def test_unaltered_tree_models_still_load_and_predict(
    hgb_bundle: Path, forest_bundle: Path
) -> None:
    """The control: the edit helpers round-trip, and the checks refuse nothing honest."""
    for bundle in (hgb_bundle, forest_bundle):
        pipeline = load_bundle(bundle).pipeline
        assert pipeline.predict(features().head(5)).shape == (5,)


def test_an_unaltered_booster_round_trips_through_the_attackers_encoder(
    xgb_bundle: Path, tmp_path: Path
) -> None:
    expected = load_bundle(xgb_bundle).pipeline.predict_proba(features().head(5))
    bundle = edit_booster(shutil.copytree(xgb_bundle, tmp_path / "x"), lambda model: None)
    pipeline = load_bundle(bundle).pipeline
    np.testing.assert_allclose(pipeline.predict_proba(features().head(5)), expected, rtol=1e-6)


def _score(bundle: Path, cwd: Path) -> Any:
    features().to_csv(cwd / "rows.csv", index=False)
    return conveyor_warm(
        "score", str(bundle), "rows.csv", "-o", "out.parquet", cwd=cwd, check=False
    )


@pytest.mark.parametrize(
    ("fixture", "cls", "field"),
    [("hgb_bundle", "TreePredictor", "left"), ("forest_bundle", "Tree", "left_child")],
)
@pytest.mark.slow
def test_conveyor_score_refuses_a_crafted_tree_instead_of_crashing(
    fixture: str, cls: str, field: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    source: Path = request.getfixturevalue(fixture)
    bundle = edit_tree(
        shutil.copytree(source, tmp_path / "models" / "m"), cls, _set(field, 0, 10**6)
    )
    done = _score(bundle, tmp_path)
    assert done.returncode >= 0, f"killed by signal {-done.returncode}"  # SIGSEGV was -11
    assert done.returncode == 4, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "a tree of the model is malformed" in done.stderr
    assert not (tmp_path / "out.parquet").exists()


# --- xgboost: its C++ loads whatever the Booster's bytes say ----------------------------------


@pytest.fixture(scope="module")
def xgb_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from xgboost import XGBClassifier

    model = XGBClassifier(n_estimators=5, max_depth=3, n_jobs=1, random_state=0)
    return _bundle(tmp_path_factory.mktemp("xgb") / "models" / "xgb", model)


def _ubj(value: Any) -> bytes:
    """UBJSON as xgboost writes it (typed arrays for numbers), for an attacker's edit."""
    import struct

    if isinstance(value, dict):
        body = b"".join(
            b"L" + struct.pack(">q", len(k.encode())) + k.encode() + _ubj(v)
            for k, v in value.items()
        )
        return b"{" + body + b"}"
    if isinstance(value, np.ndarray):  # keep the dtype: xgboost casts by it
        marker = {"i1": b"i", "u1": b"U", "i2": b"I", "i4": b"l", "i8": b"L", "f4": b"d"}
        code = marker[value.dtype.str[1:]] if value.dtype.str[1:] != "f8" else b"D"
        data = value.astype(value.dtype.newbyteorder(">")).tobytes()
        return b"[$" + code + b"#L" + struct.pack(">q", len(value)) + data
    if isinstance(value, list):
        return b"[" + b"".join(_ubj(v) for v in value) + b"]"
    if isinstance(value, str):
        return b"SL" + struct.pack(">q", len(value.encode())) + value.encode()
    if isinstance(value, bool):
        return b"T" if value else b"F"
    if isinstance(value, int):
        return b"L" + struct.pack(">q", value)
    if isinstance(value, float):
        return b"d" + struct.pack(">f", value)
    assert value is None
    return b"Z"


def edit_booster(bundle: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """Rewrite the Booster's serialised model as an attacker would (xgboost's own UBJSON)."""
    from conveyor.bundle import _ubjson

    archive = bundle / "pipeline.skops"
    members = _members(archive)
    (booster,) = _nodes_of(json.loads(members["schema.json"]), "Booster")
    file = booster["content"]["content"]["handle"]["file"]
    document = _ubjson.loads(members[file])
    edit(document["Model"])
    members[file] = _ubj(document)
    _write(archive, members)
    rewrite_manifest(bundle)
    return bundle


def _tree(model: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return model["learner"]["gradient_booster"]["model"]["trees"][index]


def _xgb_set(key: str, node: int, value: int) -> Callable[[dict[str, Any]], None]:
    def edit(model: dict[str, Any]) -> None:
        tree = _tree(model)
        tree[key] = np.array(tree[key])
        tree[key][node] = value

    return edit


def _tree_info(model: dict[str, Any]) -> None:
    booster = model["learner"]["gradient_booster"]["model"]
    booster["tree_info"] = np.array(booster["tree_info"])
    booster["tree_info"][0] = 7


XGB_CASES = {
    "left child past the end": (_xgb_set("left_children", 0, 10**6), "node 0: child 1000000"),
    "child points up the tree": (_xgb_set("left_children", 1, 0), "node 1: child 0"),
    "feature past num_feature": (_xgb_set("split_indices", 0, 10**6), "node 0: feature 1000000"),
    "tree output group past the classes": (_tree_info, "tree 0: output group 7"),
    "parent past the end (crashed while loading)": (
        _xgb_set("parents", 1, 10**6),
        "node 1: parent 1000000",
    ),
}


@pytest.mark.parametrize("case", XGB_CASES, ids=list(XGB_CASES))
@pytest.mark.slow
def test_a_crafted_xgboost_tree_is_refused_before_xgboost_reads_it(
    case: str, xgb_bundle: Path, tmp_path: Path
) -> None:
    edit, message = XGB_CASES[case]
    bundle = edit_booster(shutil.copytree(xgb_bundle, tmp_path / "models" / "x"), edit)
    done = _score(bundle, tmp_path)
    assert done.returncode >= 0, f"killed by signal {-done.returncode}"
    assert done.returncode == 4, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "a tree of the model is malformed" in done.stderr
    assert "XGBClassifier" in done.stderr
    assert message in done.stderr


@pytest.mark.slow
def test_a_booster_xgboost_cannot_parse_is_a_clean_bundle_error(
    xgb_bundle: Path, tmp_path: Path
) -> None:
    bundle = shutil.copytree(xgb_bundle, tmp_path / "models" / "x")
    archive = bundle / "pipeline.skops"
    members = _members(archive)
    (booster,) = _nodes_of(json.loads(members["schema.json"]), "Booster")
    members[booster["content"]["content"]["handle"]["file"]] = b'{"Config": 3}'
    _write(archive, members)
    rewrite_manifest(bundle)
    done = _score(bundle, tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "[bt]" not in done.stderr  # no C++ backtrace either: one line says what is wrong
    assert len(done.stderr.strip().splitlines()) <= 3
