"""``conveyor serve`` as users run it: a real process on a real socket."""

from __future__ import annotations

import json
import re
import select
import shutil
import signal
import socket
import subprocess
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import VENV_BIN, conveyor, dvc, sh
from tests.unit.serving.conftest import IMPUTE_SCALE, cancer_frame, records, save

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow  # each case starts 'conveyor serve' (the slow rule)

_BANNER = re.compile(r"^serving (\S+) \(model '(\S+)' (\S+), .*\) at (http://\S+) - ")


class Server:
    """A running ``conveyor serve`` and the URL from its banner."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [str(VENV_BIN / "conveyor"), "serve", *args, "--host", "127.0.0.1", "--port", "0"],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.banner = self._read_banner()
        match = _BANNER.match(self.banner)
        assert match, self.banner
        self.label, self.model, self.version, self.url = match.groups()
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def _read_banner(self) -> str:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 120)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            _, err = self.process.communicate()
            pytest.fail(f"conveyor serve did not start:\n{err}")
        return line.strip()

    def stop(self) -> tuple[int, str]:
        """SIGTERM, as a process manager stops it; the exit code and stderr."""
        self.http.close()
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=60)
        return self.process.returncode, err


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from xgboost import XGBClassifier

    x, y = cancer_frame()
    path = tmp_path_factory.mktemp("serve") / "models" / "cancer"
    model = XGBClassifier(n_estimators=10, max_depth=3, n_jobs=1)
    return save(path, x, y, IMPUTE_SCALE, model, "binary_classification", [0, 1])


@pytest.fixture
def server(bundle_dir: Path, tmp_path: Path) -> Iterator[Server]:
    running = Server([str(bundle_dir), "--log-dir", str(tmp_path / "log")], tmp_path)
    yield running
    if running.process.poll() is None:
        running.stop()


def test_serves_both_protocols_over_a_socket_and_flushes_the_log_on_sigterm(
    server: Server, bundle_dir: Path, tmp_path: Path
) -> None:
    from conveyor.bundle import load_bundle

    assert (server.model, server.version) == ("cancer", "local")
    assert server.url.startswith("http://127.0.0.1:")
    x, _ = cancer_frame(5)
    pipeline = load_bundle(bundle_dir).pipeline
    mlflow = server.http.post("/invocations", json={"dataframe_records": records(x)})
    assert mlflow.json() == {"predictions": pipeline.predict(x).tolist()}
    tensors = [
        {"name": k, "shape": [5], "datatype": "FP64", "data": [r[k] for r in records(x)]}
        for k in x.columns
    ]
    oip = server.http.post("/v2/models/cancer/infer", json={"inputs": tensors}).json()
    proba = np.reshape(oip["outputs"][1]["data"], (5, 2))
    np.testing.assert_allclose(proba, pipeline.predict_proba(x), rtol=1e-9)
    bad = server.http.post("/invocations", content=b"{", headers={"content-type": "text/csv"})
    assert bad.status_code == 400
    assert server.http.get("/v2/health/ready").json() == {"ready": True}

    code, err = server.stop()
    assert code == 0, err
    assert "Traceback" not in err
    (log,) = (tmp_path / "log" / "cancer").rglob("part-*.parquet")
    assert pq.read_metadata(log).num_rows == 10


def test_a_deploy_directory_brings_its_serve_json(bundle_dir: Path, tmp_path: Path) -> None:
    deploy = tmp_path / "deploy" / "rest"
    shutil.copytree(bundle_dir, deploy / "bundle")
    (deploy / "serve.json").write_text(json.dumps({"max_body_bytes": 100, "model_version": "v7"}))
    running = Server([str(deploy)], tmp_path)
    try:
        assert running.version == "v7"
        big = running.http.post("/invocations", json={"instances": [[1.0] * 30]})
        assert big.status_code == 413
        assert running.http.get("/version").json()["model_version"] == "v7"
    finally:
        running.stop()


def _refused(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = conveyor("serve", *args, cwd=cwd, check=False)
    assert "Traceback" not in done.stderr
    return done


def test_bad_model_arguments_are_clear_errors(bundle_dir: Path, tmp_path: Path) -> None:
    missing = _refused("models/nope", cwd=tmp_path)
    assert missing.returncode == 4
    assert missing.stderr.startswith("error: MODEL 'models/nope' does not exist\n  fix: give a")
    empty = tmp_path / "empty"
    empty.mkdir()
    not_bundle = _refused(str(empty), cwd=tmp_path)
    assert "holds neither a bundle (manifest.json) nor a deploy directory" in not_bundle.stderr
    config = tmp_path / "serve.json"
    config.write_text('{"prot": 1}')
    bad_config = _refused(str(bundle_dir), "--config", str(config), cwd=tmp_path)
    assert bad_config.returncode == 2
    assert "unknown key 'prot' (did you mean 'port'?)" in bad_config.stderr
    not_git = _refused("cancer#prod", cwd=tmp_path)
    assert not_git.returncode == 1
    assert not_git.stderr.startswith("error: ")


def test_a_port_in_use(bundle_dir: Path, tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = str(held.getsockname()[1])
        done = conveyor("serve", str(bundle_dir), "--port", port, cwd=tmp_path, check=False)
    assert done.returncode == 1
    assert f"error: cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr


@pytest.mark.slow
def test_the_default_projects_promoted_model(reproduced_template: Path, tmp_path: Path) -> None:
    """Done-when of issue 5: repro, register, promote, then serve 'diagnostics#prod'."""
    root = tmp_path / "project"
    shutil.copytree(reproduced_template, root, symlinks=True)
    dvc("repro", "-q", cwd=root)  # the gate blesses it: the default thresholds pass
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", "trained", cwd=root)
    conveyor("registry", "register", "diagnostics", cwd=root)
    conveyor("registry", "promote", "diagnostics", "v1.0.0", "--to", "prod", cwd=root)

    running = Server(["diagnostics#prod"], root)
    try:
        assert (running.label, running.model, running.version) == (
            "diagnostics@v1.0.0",
            "diagnostics",
            "v1.0.0",
        )
        split = pq.read_table(root / "data" / "split" / "test.parquet").to_pandas()
        x = split.drop(columns=["diagnosis"]).head(4)
        rows = _json_rows(x)
        labels = running.http.post("/invocations", json={"dataframe_records": rows}).json()
        assert len(labels["predictions"]) == 4
        meta = running.http.get("/v2/models/diagnostics").json()
        assert meta["versions"] == ["v1.0.0"]
        tensor = {
            "name": "input-0",
            "shape": [4, len(x.columns)],
            "datatype": "FP64",
            "data": x.to_numpy().ravel().tolist(),
        }
        infer = running.http.post("/v2/models/diagnostics/infer", json={"inputs": [tensor]})
        answer = infer.json()
        assert answer["model_version"] == "v1.0.0"
        assert answer["outputs"][0]["data"] == labels["predictions"]
    finally:
        code, err = running.stop()
    assert code == 0, err

    # What the 'rest' deploy target wrote serves the same model with its serve.json.
    deployed = Server([str(root / "deploy" / "rest")], root)
    try:
        again = deployed.http.post("/invocations", json={"dataframe_records": rows}).json()
        assert again == labels
    finally:
        deployed.stop()


def _json_rows(frame: Any) -> list[dict[str, Any]]:
    return [{k: float(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]
