"""A model bundle never runs code: hostile skops nodes are refused (exit 4) before any is built.

Each payload in ``hostile_bundles.PAYLOADS`` creates a marker file if skops ever builds it; on
the old code (module prefixes such as ``builtins.`` trusted, plus metadata.json's
``trusted_modules``) every one of them ran. Here the marker must never appear, through every
command that loads a bundle.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from typing import TYPE_CHECKING, Any

import pytest

from conveyor.bundle import load_bundle
from conveyor.errors import BundleError
from tests.conftest import conveyor_warm, dvc, sh
from tests.security.hostile_bundles import PAYLOADS, Payload, hostile_copy, plant
from tests.unit.bundle.test_scoring import features, make_bundle

if TYPE_CHECKING:
    from pathlib import Path

NAME = "diagnostics"
BY_NAME = {p.name: p for p in PAYLOADS}
_EXEC, _OS = BY_NAME["builtins.exec"], BY_NAME["os.system (metadata trusts 'os')"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("trust") / "models" / "tiny")


@pytest.fixture(scope="module")
def trained(reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default project, trained and committed: every stage that loads a bundle has run."""
    root = tmp_path_factory.mktemp("trained") / "project"
    shutil.copytree(reproduced_template, root, symlinks=True)  # after ``dvc repro``
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "trained", cwd=root)
    return root


def _ran(payload: Payload, marker: Path) -> bool:
    """Whether ``payload`` made its marker, once the load has returned or the command exited.

    A payload that ran in the loading process has made it by then (each of them waits for
    what it starts); a ``detached`` one is given a moment for the process it left behind.
    """
    if payload.detached:
        time.sleep(0.5)
    return marker.exists()


def _refused(
    done: subprocess.CompletedProcess[str], payload: Payload, marker: Path, *names: str
) -> None:
    assert not _ran(payload, marker), "the payload ran"
    assert done.returncode == 4, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "holds types that are not trusted, so nothing in it was loaded" in done.stderr
    assert f"'{payload.dangerous_type}'" in done.stderr  # refused for what it is
    for name in names:
        assert f"'{name}'" in done.stderr
    assert "fix:" in done.stderr


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.name)
def test_no_payload_runs_when_a_bundle_is_loaded(
    payload: Payload, bundle: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    hostile = hostile_copy(bundle, tmp_path / "hostile", payload, marker)
    with pytest.raises(BundleError, match="holds types that are not trusted") as info:
        load_bundle(hostile)
    assert not _ran(payload, marker), "the payload ran"
    assert info.value.exit_code == 4
    assert str(info.value).startswith(f"{hostile / 'pipeline.skops'}: ")
    assert "'sklearn.pipeline.Pipeline'" not in str(info.value)  # only what is refused
    assert f"'{payload.dangerous_type}'" in str(info.value)


@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p.name)
@pytest.mark.slow
def test_no_payload_runs_through_conveyor_score(
    payload: Payload, bundle: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    hostile_copy(bundle, tmp_path / "models" / "tiny", payload, marker)
    features().to_csv(tmp_path / "rows.csv", index=False)
    done = conveyor_warm(
        "score", "models/tiny", "rows.csv", "-o", "out.parquet", cwd=tmp_path, check=False
    )
    _refused(done, payload, marker)
    assert not (tmp_path / "out.parquet").exists()


def _serve(model: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``conveyor serve``; a server that starts (the payload was accepted) is killed."""
    args = ("serve", model, "--host", "127.0.0.1", "--port", "0")
    try:
        return conveyor_warm(*args, cwd=cwd, check=False, timeout=90)
    except subprocess.TimeoutExpired as expired:  # it served: killed, with its output so far
        out, err = (
            text.decode() if isinstance(text, bytes) else text or ""
            for text in (expired.stdout, expired.stderr)
        )
        return subprocess.CompletedProcess(["conveyor", *args], -9, out, err)


@pytest.mark.parametrize("payload", [_EXEC, _OS], ids=lambda p: p.name)
@pytest.mark.slow
def test_no_payload_runs_through_conveyor_serve(
    payload: Payload, bundle: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    hostile_copy(bundle, tmp_path / "models" / "tiny", payload, marker)
    _refused(_serve("models/tiny", tmp_path), payload, marker)
    deploy = tmp_path / "deploy" / "rest"
    shutil.copytree(tmp_path / "models" / "tiny", deploy / "bundle")
    _refused(_serve("deploy/rest", tmp_path), payload, marker)


def _copy(trained: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(trained, root, symlinks=True)
    return root


STAGES = ["evaluate", "profile", "deploy-batch"]


@pytest.mark.parametrize("payload", [_EXEC, _OS], ids=lambda p: p.name)
@pytest.mark.parametrize("stage", STAGES)
def test_no_payload_runs_in_a_stage_that_loads_the_bundle(
    stage: str, payload: Payload, trained: Path, tmp_path: Path
) -> None:
    root = _copy(trained, tmp_path)
    marker = tmp_path / "marker"
    bundle_dir = root / "models" / NAME
    bundle_dir.chmod(0o755)
    for file in bundle_dir.iterdir():  # DVC checks out read-only files; an attacker is not asked
        file.chmod(0o644)
    plant(payload, bundle_dir, marker)
    done = conveyor_warm("run", stage, cwd=root, check=False)
    _refused(done, payload, marker)


@pytest.mark.parametrize("payload", [_EXEC, _OS], ids=lambda p: p.name)
def test_no_payload_runs_in_registry_verify_serve_or_score_of_a_version(
    payload: Payload, trained: Path, tmp_path: Path
) -> None:
    """A hostile bundle committed with its dvc.lock, registered: verify must not print OK."""
    root = _copy(trained, tmp_path)
    marker = tmp_path / "marker"
    bundle_dir = root / "models" / NAME
    bundle_dir.chmod(0o755)
    for file in bundle_dir.iterdir():
        file.chmod(0o644)
    plant(payload, bundle_dir, marker)
    dvc("commit", "-q", "-f", "train", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "a better model", cwd=root)
    conveyor_warm("registry", "register", NAME, "--ref", "HEAD", cwd=root)
    (version,) = [
        v["version"]
        for v in json.loads(conveyor_warm("registry", "show", NAME, "--json", cwd=root).stdout)[
            "versions"
        ]
    ]
    ref = f"{NAME}@{version}"
    verify = conveyor_warm("registry", "verify", ref, cwd=root, check=False)
    _refused(verify, payload, marker)
    assert "OK" not in verify.stdout
    _refused(_serve(ref, root), payload, marker)
    features().to_csv(root / "rows.csv", index=False)
    score = conveyor_warm("score", ref, "rows.csv", "-o", "o.parquet", cwd=root, check=False)
    _refused(score, payload, marker)


def test_metadata_cannot_widen_trust(bundle: Path, tmp_path: Path) -> None:
    """``trusted_modules`` in metadata.json is ignored, even when it names the exact type."""
    marker = tmp_path / "marker"
    hostile = hostile_copy(bundle, tmp_path / "hostile", _OS, marker)
    metadata = json.loads((hostile / "metadata.json").read_text())
    metadata["trusted_modules"] = ["os", "os.system"]
    metadata["trusted_types"] = ["os.system"]
    (hostile / "metadata.json").write_text(json.dumps(metadata))
    from tests.security.hostile_bundles import rewrite_manifest

    rewrite_manifest(hostile)
    with pytest.raises(BundleError, match=r"not trusted.*'os\.system'"):
        load_bundle(hostile)
    assert not _ran(_OS, marker)


# --- the allowlist is exactly what conveyor's own components need --------------------------


def _kinds() -> list[tuple[str, str]]:
    tasks = ["binary_classification", "multiclass_classification", "regression"]
    kinds = ["xgboost", "random_forest", "logistic_regression", "hist_gradient_boosting"]
    return [(k, t) for k in kinds for t in tasks if (k, t) != ("logistic_regression", "regression")]


def _fit(kind: str, task: str, params: dict[str, Any] | None = None) -> Any:
    import numpy as np
    import pandas as pd

    from conveyor.plugins import Plugins
    from conveyor.runtime.estimator import build_model, build_pipeline
    from conveyor.spec import FeaturesSpec, ModelSpec

    plugins = Plugins.discover()
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=90), "c": rng.choice(["x", "y", "z"], 90)})
    y = rng.integers(0, 3 if task.startswith("multi") else 2, 90)
    if task == "regression":
        y = np.abs(rng.normal(size=90)) + 0.1
    small = {  # the fitted types do not depend on the number of trees or iterations
        "xgboost": {"n_estimators": 3},
        "random_forest": {"n_estimators": 3},
        "hist_gradient_boosting": {"max_iter": 2},
    }
    spec = ModelSpec.model_validate({"kind": kind, "params": params or small.get(kind, {})})
    features = FeaturesSpec.model_validate(
        {"transforms": [{"kind": "one_hot", "columns": ["c"]}, {"kind": "standard_scaler"}]}
    )
    return build_pipeline(features, build_model(spec, task, 0, plugins), plugins).fit(x, y)


def _types_of(pipeline: Any) -> set[str]:
    import io
    import zipfile

    import skops.io as sio

    from conveyor.bundle.trust import schema_types

    data = sio.dumps(pipeline)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        schema = json.loads(archive.read("schema.json"))
    return schema_types(schema, where="test") | set(sio.get_untrusted_types(data=data))


def test_every_built_in_model_loads_and_the_allowlist_is_exactly_big_enough(
    tmp_path: Path,
) -> None:
    from conveyor.bundle import save_bundle
    from conveyor.bundle.trust import installed_types, pipeline_types, safe_types
    from tests.unit.components.test_transforms import _every_transform

    needed: set[str] = set()
    fitted = [_fit(kind, task) for kind, task in _kinds()]
    losses = ["absolute_error", "gamma", "poisson", "quantile"]
    fitted += [
        _fit("hist_gradient_boosting", "regression", {"loss": loss, "max_iter": 2, **extra})
        for loss in losses
        for extra in [{"quantile": 0.5} if loss == "quantile" else {}]
    ]
    for index, pipeline in enumerate(fitted):
        needed |= _types_of(pipeline)
        save_bundle(tmp_path / str(index), pipeline, {"task": "regression"}, {"name": "m"})
        load_bundle(tmp_path / str(index))  # no declaration needed for a built-in model
    every, frame, y = _every_transform()
    every.fit(frame.iloc[:30], y[:30])
    needed |= _types_of(every) - {"sklearn.linear_model._ridge.Ridge"}  # the test's _target_
    ours = installed_types() | pipeline_types()
    assert needed - safe_types() == ours  # nothing missing, nothing trusted for no reason


@pytest.mark.slow
def test_a_target_estimator_is_trusted_only_where_the_project_declares_it(
    tmp_path: Path,
) -> None:
    """``_target_: sklearn.linear_model.Ridge`` in params.yaml vouches for exactly Ridge."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline

    from conveyor.bundle import infer_schema, save_bundle

    x = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    pipeline = Pipeline([("model", Ridge())]).fit(x, x["a"] * 2)
    schema = {"task": "regression", "target": "y", "classes": None, "columns": infer_schema(x)}
    save_bundle(tmp_path / "models" / "r", pipeline, schema, {"name": "r"})
    x.to_csv(tmp_path / "rows.csv", index=False)
    args = ("score", "models/r", "rows.csv", "-o", "out.parquet")

    refused = conveyor_warm(*args, cwd=tmp_path, check=False)
    assert refused.returncode == 4
    assert "'sklearn.linear_model._ridge.Ridge'" in refused.stderr
    (tmp_path / "params.yaml").write_text("model:\n  _target_: sklearn.linear_model.Lasso\n")
    assert conveyor_warm(*args, cwd=tmp_path, check=False).returncode == 4  # a different class
    (tmp_path / "params.yaml").write_text("model:\n  _target_: sklearn.linear_model.Ridge\n")
    conveyor_warm(*args, cwd=tmp_path)
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 20


# --- a trusted type with hostile state: expressions go through DataFrame.eval ----------------


def _hostile_expression(marker: Path) -> str:
    return f"a.__class__.__init__.__globals__['sys'].modules['os'].system('touch {marker}')"


def test_a_bundle_cannot_smuggle_code_in_an_expression(tmp_path: Path) -> None:
    """ExpressionColumns is trusted, its expressions are data: they are checked again at use."""
    import numpy as np
    import pandas as pd

    from conveyor.bundle import infer_schema, save_bundle
    from conveyor.bundle.predictor import Predictor
    from conveyor.errors import DataError
    from conveyor.plugins import Plugins
    from conveyor.runtime.estimator import build_model, build_pipeline
    from conveyor.spec import FeaturesSpec, ModelSpec

    plugins = Plugins.discover()
    x = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 7})
    features = FeaturesSpec.model_validate(
        {"transforms": [{"kind": "expression", "params": {"columns_out": {"c": "a * b"}}}]}
    )
    model = build_model(
        ModelSpec.model_validate({"kind": "random_forest", "params": {"n_estimators": 2}}),
        "regression",
        0,
        plugins,
    )
    pipeline = build_pipeline(features, model, plugins).fit(x, x["a"])
    marker = tmp_path / "marker"
    pipeline[0].transformers_[0][1].columns_out = {"c": _hostile_expression(marker)}
    schema = {"task": "regression", "target": "y", "classes": None, "columns": infer_schema(x)}
    save_bundle(tmp_path / "m", pipeline, schema, {"name": "m"})
    predictor = Predictor(load_bundle(tmp_path / "m"))
    with pytest.raises(DataError, match=r"refusing to evaluate c: .* uses Attribute"):
        predictor.bundle.pipeline.predict(x)
    assert not marker.exists(), "the payload ran"  # os.system waits for its command


@pytest.mark.parametrize(
    "expression",
    ["a.__class__", "a.to_csv('x.csv')", "a[0]", "open('x')", "log(a, base=2)"],
)
def test_conf_expressions_reach_no_python_object(expression: str) -> None:
    from pydantic import ValidationError

    from conveyor.components.transforms import Expression

    with pytest.raises(
        ValidationError, match=r"expressions cannot contain|calls something|keyword"
    ):
        Expression.from_config({"columns_out": {"c": expression}})
