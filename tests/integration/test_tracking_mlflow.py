"""MLflow tracking against a real ``mlflow server`` (SQLite store, artifacts in tmp), read back
through MLflow's own client: stage runs, the pyfunc model, the outbox, export, no reruns."""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest
import yaml

from tests.conftest import commit_all, conveyor_in_process, conveyor_warm, dvc, sh
from tests.integration.mlflow_server import MlflowServer, free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*Any type hint is inferred:UserWarning",  # mlflow's import
    "ignore::FutureWarning",
    "ignore:.*Add type hints to the `predict` method:UserWarning",  # the pyfunc takes any frame
)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer.start(tmp_path_factory.mktemp("mlflow-server"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def committed(reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reproduced default project with its outputs committed (a template: copy it)."""
    root = tmp_path_factory.mktemp("tracking") / "project"
    shutil.copytree(reproduced_template, root, symlinks=True)
    commit_all(root, "reproduced")
    return root


def _copy(committed: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(committed, root, symlinks=True)
    return root


def _track(root: Path, uri: str, experiment: str) -> None:
    conveyor_in_process(
        "compile",
        "tracking=mlflow",
        f"tracking.uri={uri}",
        f"tracking.experiment={experiment}",
        cwd=root,
    )


def _client(server: MlflowServer) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=server.url, registry_uri=server.url)


def _runs(server: MlflowServer, experiment: str) -> list[Any]:
    client = _client(server)
    found = client.get_experiment_by_name(experiment)
    return [] if found is None else client.search_runs([found.experiment_id])


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def test_tracking_on_reruns_nothing(committed: Path, tmp_path: Path) -> None:
    root = _copy(committed, tmp_path)
    dvc_yaml = (root / "dvc.yaml").read_bytes()
    _track(root, "http://127.0.0.1:9", "rerun")
    assert (root / "dvc.yaml").read_bytes() == dvc_yaml
    assert yaml.safe_load((root / "params.yaml").read_text())["tracking"]["kind"] == "mlflow"
    stages = yaml.safe_load(dvc_yaml)["stages"]
    assert not [s for s in stages.values() for p in s.get("params", []) if "tracking" in str(p)]
    assert json.loads(dvc("status", "--json", cwd=root).stdout) == {}
    conveyor_in_process("compile", cwd=root)
    assert json.loads(dvc("status", "--json", cwd=root).stdout) == {}


@pytest.mark.slow
def test_train_and_evaluate_log_params_metrics_plots_and_a_pyfunc(
    committed: Path, tmp_path: Path, mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.pyfunc

    from conveyor.bundle import load_bundle, sha256_file

    root = _copy(committed, tmp_path)
    _track(root, mlflow_server.url, "stages")
    for stage in ("train", "evaluate"):
        done = conveyor_warm("run", stage, cwd=root)
        assert _warnings(done.stderr) == [], done.stderr
    assert json.loads(dvc("status", "--json", cwd=root).stdout) == {}  # same bytes: nothing new

    bundle = root / "models" / "diagnostics"
    (run,) = _runs(mlflow_server, "stages")
    tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
    assert tags["conveyor.bundle"] == sha256_file(bundle / "manifest.json")
    assert tags["conveyor.commit"] == sh("git", "rev-parse", "HEAD", cwd=root).stdout.strip()
    assert tags["conveyor.stage"] == "train"
    assert tags["conveyor.sent.train"] == tags["conveyor.sent.evaluate"] == "done"
    model_params = yaml.safe_load((root / "params.yaml").read_text())["model"]["params"]
    assert params["model.params.max_depth"] == str(model_params["max_depth"])
    assert params["model.kind"] == "xgboost"
    assert not [key for key in params if key.startswith("tracking")]
    written = json.loads((root / "reports" / "metrics.json").read_text())
    expected = {k: v for k, v in written.items() if isinstance(v, float)}
    assert expected
    assert {k: metrics[k] for k in expected} == expected
    client = _client(mlflow_server)
    reports = {a.path for a in client.list_artifacts(run.info.run_id, "reports")}
    assert {"reports/metrics.json", "reports/evaluation.html", "reports/plots"} <= reports
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "reports/plots")}
    assert {f"reports/plots/{p.name}" for p in (root / "reports" / "plots").iterdir()} == plots

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)  # models:/ resolves through it
    (tmp_path / "model").mkdir()
    model = mlflow.pyfunc.load_model(tags["conveyor.model"], dst_path=str(tmp_path / "model"))
    rows = pd.read_parquet(root / "data" / "split" / "test.parquet").drop(columns=["diagnosis"])
    got = model.predict(rows)
    expected_proba = load_bundle(bundle).pipeline.predict_proba(rows)
    assert got.to_numpy().tobytes() == expected_proba.tobytes()
    assert list(got.columns) == [str(c) for c in load_bundle(bundle).classes or []]


@pytest.mark.slow
def test_a_down_server_warns_queues_and_export_sends_it_once(
    committed: Path, tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    root = _copy(committed, tmp_path)
    _track(root, f"http://127.0.0.1:{free_port()}", "outbox")
    done = conveyor_warm("run", "evaluate", cwd=root)
    (warning,) = _warnings(done.stderr)
    assert "unreachable" in warning
    assert "conveyor export mlflow" in warning
    (queued,) = (root / ".conveyor" / "outbox" / "mlflow").glob("*.json")
    assert queued.name in warning
    record = json.loads(queued.read_text())
    assert "uri" not in json.dumps(record).lower()  # no server address, no credential
    attached = queued.with_suffix(".files")
    assert (attached / "reports" / "metrics.json").read_bytes() == (
        root / "reports" / "metrics.json"
    ).read_bytes()
    assert sh("git", "status", "--porcelain", cwd=root).stdout.strip() == "M params.yaml"
    assert _runs(mlflow_server, "outbox") == []

    sent = conveyor_warm("export", "mlflow", "HEAD", "--uri", mlflow_server.url, cwd=root)
    assert "sent queued evaluate run" in sent.stdout
    assert not queued.exists()
    assert not attached.exists()
    runs = _runs(mlflow_server, "outbox")
    by_source = {r.data.tags.get("conveyor.source", "stage"): r for r in runs}
    assert sorted(by_source) == ["export", "stage"]
    assert by_source["stage"].data.tags["conveyor.record.evaluate"] == record["key"]
    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    assert by_source["stage"].data.metrics["roc_auc"] == metrics["roc_auc"]
    head = sh("git", "rev-parse", "HEAD", cwd=root).stdout.strip()
    assert by_source["export"].data.tags["conveyor.rev"] == head
    assert by_source["export"].data.metrics["roc_auc"] == metrics["roc_auc"]

    again = conveyor_warm("export", "mlflow", "HEAD", "--uri", mlflow_server.url, cwd=root)
    assert again.stdout == f"already in MLflow: HEAD ({head[:7]})\n"
    assert sorted(r.info.run_id for r in _runs(mlflow_server, "outbox")) == sorted(
        r.info.run_id for r in runs
    )


@pytest.mark.slow
def test_export_turns_registry_versions_into_model_versions_and_stages_into_aliases(
    committed: Path, tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    root = _copy(committed, tmp_path)
    conveyor_warm("registry", "register", "diagnostics", cwd=root)
    conveyor_warm("registry", "promote", "diagnostics", "v1.0.0", "--to", "prod", cwd=root)
    for _ in range(2):
        conveyor_warm(
            "export", "mlflow", "--uri", mlflow_server.url, "--experiment", "registry", cwd=root
        )
    (run,) = _runs(mlflow_server, "registry")
    client = _client(mlflow_server)
    (version,) = client.search_model_versions("name='diagnostics'")
    assert version.tags["conveyor.version"] == "v1.0.0"
    assert version.run_id == run.info.run_id
    assert client.get_model_version_by_alias("diagnostics", "prod").version == version.version
