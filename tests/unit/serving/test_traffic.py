"""Canary and shadow: two real bundles served from one app, over HTTP in process (httpx/ASGI).

The primary is the session's ``cancer`` bundle (XGBoost, 15 trees); the candidate is trained on
the same rows with 3 shallow trees, so the two answer the same rows differently and each answer
can be traced to the model that gave it. A third bundle lacks one input column.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from conveyor.bundle import load_bundle
from conveyor.bundle.predictor import Predictor
from conveyor.errors import BundleError, ServeError, SpecError
from conveyor.serving.app import create_app
from conveyor.serving.config import ServeConfig, from_mapping
from conveyor.serving.traffic import Traffic, load_candidate
from tests.unit.serving.conftest import IMPUTE_SCALE, Client, cancer_frame, records, save

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PRIMARY = "v1.0.0"


@pytest.fixture(scope="module")
def candidate_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from xgboost import XGBClassifier

    x, y = cancer_frame()
    model = XGBClassifier(n_estimators=3, max_depth=1, n_jobs=1)
    path = tmp_path_factory.mktemp("candidate") / "cancer"
    return save(path, x, y, IMPUTE_SCALE, model, "binary_classification", [0, 1])


@pytest.fixture(scope="module")
def narrower_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same model name and task, without the 'mean area' column."""
    from xgboost import XGBClassifier

    x, y = cancer_frame()
    model = XGBClassifier(n_estimators=3, max_depth=1, n_jobs=1)
    path = tmp_path_factory.mktemp("narrower") / "cancer"
    x = x.drop(columns=["mean area"])
    return save(path, x, y, IMPUTE_SCALE, model, "binary_classification", [0, 1])


def _primary(cancer_dir: Path) -> Predictor:
    predictor = Predictor(load_bundle(cancer_dir))
    predictor.version = PRIMARY
    return predictor


class Served:
    """An app serving the primary with a canary or a shadow, and its client."""

    def __init__(self, cancer_dir: Path, root: Path, backlog: int = 1024, **config: Any) -> None:
        self.config = ServeConfig(**config)
        self.primary = _primary(cancer_dir)
        candidate = load_candidate(self.config, self.primary, root=root)
        assert candidate is not None
        self.traffic = Traffic(candidate, backlog=backlog)
        self.candidate = candidate.predictor
        app = create_app(self.primary, config=self.config, traffic=self.traffic)
        self.client = Client(app)

    def metric(self, series: str) -> float:
        text = self.client.get("/metrics").text
        match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    def close(self) -> None:
        self.client.close()
        self.traffic.close()


@pytest.fixture
def served(cancer_dir: Path, tmp_path: Path) -> Iterator[Any]:
    started: list[Served] = []

    def start(**config: Any) -> Served:
        started.append(Served(cancer_dir, tmp_path, **config))
        return started[-1]

    yield start
    for one in started:
        one.close()


def _p1(predictor: Predictor, frame: Any) -> list[float]:
    return predictor.bundle.pipeline.predict_proba(frame)[:, 1].tolist()  # type: ignore[no-any-return]


def test_a_canary_answers_its_share_of_requests(served: Any, candidate_dir: Path) -> None:
    server = served(canary=str(candidate_dir), canary_share=0.1)
    candidate = server.candidate.version
    assert candidate == "local"  # a bundle directory
    x, _ = cancer_frame(1)
    row = records(x)
    expected = {
        PRIMARY: _p1(server.primary, x)[0],
        candidate: _p1(server.candidate, x)[0],
    }
    assert abs(expected[PRIMARY] - expected[candidate]) > 1e-3  # the answer tells them apart
    seen: dict[str, int] = {PRIMARY: 0, candidate: 0}
    body = {"dataframe_records": row, "params": {"predict_proba": True}}
    for _ in range(2000):
        answer = server.client.post("/invocations", json=body)
        assert answer.status_code == 200
        version = answer.headers["x-model-version"]
        seen[version] += 1
        assert answer.json()["predictions"][0]["1"] == pytest.approx(expected[version], abs=1e-6)
    share = seen[candidate] / 2000
    assert abs(share - 0.1) <= 0.1 * 0.05, seen  # within ±5% of the configured share
    for version, role in ((PRIMARY, "primary"), (candidate, "canary")):
        labels = f'code="200",role="{role}",version="{version}"'
        assert server.metric(f"conveyor_version_requests_total{{{labels}}}") == seen[version]
        count = f'conveyor_version_duration_seconds_count{{role="{role}",version="{version}"}}'
        assert server.metric(count) == seen[version]
        rows = f'conveyor_version_rows_scored_total{{role="{role}",version="{version}"}}'
        assert server.metric(rows) == seen[version]
        scores = f'conveyor_version_prediction_score_count{{role="{role}",version="{version}"}}'
        assert server.metric(scores) == seen[version]
    refused = server.client.post("/invocations", json={"dataframe_records": [{"x": 1}]})
    assert refused.status_code == 400
    errors = server.client.get("/metrics").text
    assert re.search(
        r'conveyor_version_errors_total\{reason="invalid_input",role="(primary|canary)"', errors
    )
    assert server.client.get("/version").json()["canary"]["share"] == 0.1


def test_the_v2_protocol_is_dealt_out_too_and_a_version_can_be_asked_for(
    served: Any, candidate_dir: Path
) -> None:
    server = served(canary=str(candidate_dir), canary_share=0.25)
    x, _ = cancer_frame(2)
    inputs = [
        {"name": k, "shape": [2], "datatype": "FP64", "data": [r[k] for r in records(x)]}
        for k in x.columns
    ]
    versions = [
        server.client.post("/v2/models/cancer/infer", json={"inputs": inputs}).json()[
            "model_version"
        ]
        for _ in range(400)
    ]
    assert versions.count(server.candidate.version) == 100
    asked = f"/v2/models/cancer/versions/{server.candidate.version}/infer"
    for _ in range(5):
        assert server.client.post(asked, json={"inputs": inputs}).json()["model_version"] == (
            server.candidate.version
        )
    primary = f"/v2/models/cancer/versions/{PRIMARY}/infer"
    assert server.client.post(primary, json={"inputs": inputs}).json()["model_version"] == PRIMARY
    unknown = "/v2/models/cancer/versions/v9/infer"
    assert server.client.post(unknown, json={"inputs": inputs}).status_code == 404


def _oracle(case: str, share: float) -> bool:
    """The documented rule, computed here: blake2b of the id's text, as a number in [0, 1)."""
    digest = hashlib.blake2b(case.encode(), digest_size=8, person=b"conveyor-canary").digest()
    return int.from_bytes(digest, "big") / 2**64 < share


def test_sticky_ids_always_get_the_same_version(
    served: Any, candidate_dir: Path, cancer_dir: Path, tmp_path: Path
) -> None:
    x, _ = cancer_frame(1)
    row = records(x)[0]
    cases = [f"case-{i}" for i in range(1000)]

    def versions(server: Served, cases: list[str] = cases) -> list[str]:
        got = []
        for case in cases:
            body = {"dataframe_records": [{**row, "case_id": case}]}
            answer = server.client.post("/invocations", json=body)
            assert answer.status_code == 200, answer.text
            got.append(answer.headers["x-model-version"])
        return got

    first = served(canary=str(candidate_dir), canary_share=0.2, canary_sticky="case_id")
    assert first.config.id_column == "case_id"  # sticky by the id column, logged as the id
    candidate = first.candidate.version
    once = versions(first)
    assert versions(first, cases[:300]) == once[:300]  # the same id, the same version
    restarted = served(canary=str(candidate_dir), canary_share=0.2, canary_sticky="case_id")
    assert versions(restarted, cases[:300]) == once[:300]  # and after a restart
    assert [v == candidate for v in once] == [_oracle(c, 0.2) for c in cases]
    assert abs(once.count(candidate) / len(cases) - 0.2) < 0.05
    without = {"dataframe_records": [row]}  # no id: dealt out by share
    answers = [first.client.post("/invocations", json=without) for _ in range(10)]
    assert [a.headers["x-model-version"] for a in answers].count(candidate) == 2


def test_a_shadow_scores_every_request_and_never_answers(
    served: Any, candidate_dir: Path, tmp_path: Path
) -> None:
    logs = tmp_path / "log"
    server = served(shadow=str(candidate_dir), log_dir=str(logs))
    shadow = server.candidate.version
    x, _ = cancer_frame(60)
    for i in range(20):
        chunk = x.iloc[i * 3 : i * 3 + 3]
        body = {"dataframe_records": records(chunk), "params": {"predict_proba": True}}
        answer = server.client.post("/invocations", json=body)
        assert answer.status_code == 200
        assert answer.headers["x-model-version"] == PRIMARY
        got = [p["1"] for p in answer.json()["predictions"]]
        np.testing.assert_allclose(got, _p1(server.primary, chunk), atol=1e-6)
    server.close()  # flushes the shadow, then the log

    table = pq.read_table(logs).to_pandas()
    assert len(table) == 60
    assert set(table["_model_version"]) == {PRIMARY}
    assert set(table["_shadow_model_version"]) == {shadow}
    order = table.sort_values("_time", kind="stable")
    np.testing.assert_allclose(order["_score"], _p1(server.primary, x), atol=1e-6)
    np.testing.assert_allclose(order["_shadow_score"], _p1(server.candidate, x), atol=1e-6)
    labels = server.candidate.bundle.pipeline.predict(x).astype(str)
    assert order["_shadow_prediction"].tolist() == labels.tolist()
    assert not np.allclose(order["_score"], order["_shadow_score"])


def test_shadow_metrics_and_disagreements(served: Any, candidate_dir: Path) -> None:
    server = served(shadow=str(candidate_dir))
    x, _ = cancer_frame(200)
    body = {"dataframe_records": records(x)}
    for _ in range(3):
        assert server.client.post("/invocations", json=body).status_code == 200
    server.traffic.stop()  # the shadow's queue drained...
    server.client._loop.run_until_complete(_tick())  # ...and its results recorded
    shadow = server.candidate.version
    ok = f'conveyor_version_requests_total{{code="200",role="shadow",version="{shadow}"}}'
    assert server.metric(ok) == 3
    answered = f'conveyor_version_requests_total{{code="200",role="primary",version="{PRIMARY}"}}'
    assert server.metric(answered) == 3
    rows = f'conveyor_version_rows_scored_total{{role="shadow",version="{shadow}"}}'
    assert server.metric(rows) == 600
    differ = (
        server.primary.bundle.pipeline.predict(x) != server.candidate.bundle.pipeline.predict(x)
    ).sum()
    assert differ > 0
    disagreements = f'conveyor_shadow_disagreements_total{{version="{shadow}"}}'
    assert server.metric(disagreements) == 3 * differ


async def _tick() -> None:
    import asyncio

    for _ in range(5):
        await asyncio.sleep(0)


class _Stuck(Predictor):
    """A real candidate whose scoring waits for the test, then fails: a slow, broken shadow."""

    entered = threading.Event()
    release = threading.Event()

    def predict(self, checked: Any) -> Any:
        self.entered.set()
        self.release.wait(30)
        raise RuntimeError("the shadow broke")


def test_a_slow_failing_shadow_neither_delays_nor_breaks_an_answer(
    served: Any, candidate_dir: Path, tmp_path: Path
) -> None:
    logs = tmp_path / "log"
    server = served(shadow=str(candidate_dir), log_dir=str(logs), backlog=4)  # overflows soon
    server.candidate.__class__ = _Stuck
    x, _ = cancer_frame(1)
    body = {"dataframe_records": records(x), "params": {"predict_proba": True}}
    expected = _p1(server.primary, x)[0]
    for i in range(10):  # all answered while the shadow is stuck on the first
        answer = server.client.post("/invocations", json=body)
        assert answer.status_code == 200
        assert answer.json()["predictions"][0]["1"] == pytest.approx(expected, abs=1e-6)
        if i == 0:
            assert _Stuck.entered.wait(30)
    shadow = server.candidate.version
    dropped = f'conveyor_version_errors_total{{reason="dropped",role="shadow",version="{shadow}"}}'
    assert server.metric(dropped) == 5  # 1 scoring + 4 queued; the rest not shadowed
    _Stuck.release.set()
    server.traffic.stop()
    server.client._loop.run_until_complete(_tick())
    failed = f'conveyor_version_errors_total{{reason="internal",role="shadow",version="{shadow}"}}'
    assert server.metric(failed) == 5
    answered = f'conveyor_version_requests_total{{code="200",role="primary",version="{PRIMARY}"}}'
    assert server.metric(answered) == 10
    server.close()
    table = pq.read_table(logs).to_pandas()
    assert len(table) == 10  # every answered request logged, shadow or not
    assert table["_shadow_prediction"].isna().all()
    assert set(table["_shadow_model_version"]) == {shadow}


def test_a_candidate_with_other_inputs_is_refused(
    cancer_dir: Path, narrower_dir: Path, tmp_path: Path
) -> None:
    for mode in ("canary", "shadow"):
        config = ServeConfig(**{mode: str(narrower_dir)})
        with pytest.raises(ServeError, match="input schema differs") as caught:
            load_candidate(config, _primary(cancer_dir), root=tmp_path)
        error = caught.value
        assert error.where == f"{mode} '{narrower_dir}' (--{mode} or serve.json)"
        assert "['mean area'] added or removed" in error.what
        assert f"the {mode} cannot serve beside 'cancer' {PRIMARY}" in error.what
        assert error.fix is not None
        assert "same inputs" in error.fix


def test_two_directories_get_two_version_labels(
    cancer_dir: Path, candidate_dir: Path, tmp_path: Path
) -> None:
    primary = _primary(cancer_dir)
    primary.version = "local"
    candidate = load_candidate(ServeConfig(shadow=str(candidate_dir)), primary, root=tmp_path)
    assert candidate is not None
    assert candidate.predictor.version == f"local-{candidate.predictor.sha256[:12]}"
    assert candidate.opened is not None
    candidate.opened.close()


def test_a_tampered_candidate_is_refused(
    cancer_dir: Path, candidate_dir: Path, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "cancer"
    shutil.copytree(candidate_dir, copy)
    pipeline = copy / "pipeline.skops"
    data = bytearray(pipeline.read_bytes())
    data[100] ^= 1
    pipeline.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="the canary cannot be loaded") as caught:
        load_candidate(ServeConfig(canary=str(copy)), _primary(cancer_dir), root=tmp_path)
    assert caught.value.exit_code == 4
    assert "sha256" in str(caught.value)


def test_no_candidate_means_no_traffic_and_no_version_metrics(
    cancer_dir: Path, tmp_path: Path
) -> None:
    assert load_candidate(ServeConfig(), _primary(cancer_dir), root=tmp_path) is None
    client = Client(create_app(_primary(cancer_dir), config=ServeConfig()))
    try:
        x, _ = cancer_frame(1)
        answer = client.post("/invocations", json={"dataframe_records": records(x)})
        assert "x-model-version" not in answer.headers
        assert "conveyor_version_" not in client.get("/metrics").text
        assert "canary" not in client.get("/version").json()
    finally:
        client.close()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"canary": "a@v1", "shadow": "a@v2"}, "'canary' and 'shadow' are both set"),
        ({"canary": "a@v1", "canary_share": 0}, "'canary_share' must be above 0 and below 1"),
        ({"canary": "a@v1", "canary_share": 1.0}, "'canary_share' must be above 0 and below 1"),
        ({"canary_sticky": "case"}, "'canary_sticky' is set without 'canary'"),
        (
            {"canary": "a@v1", "canary_sticky": "case", "id_column": "order"},
            "'canary_sticky' 'case' is not the id column 'order'",
        ),
        ({"shadow": ""}, "'shadow' must be a model, got ''"),
    ],
)
def test_candidate_config_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)):
        from_mapping(data, where="serve.json")


def test_the_rest_target_writes_candidate_keys_only_when_set() -> None:
    from conveyor.components._image import serve_config
    from conveyor.components.targets import RestParams

    plain = serve_config(RestParams())
    assert not {"canary", "canary_share", "canary_sticky", "shadow"} & set(plain)
    canary = serve_config(RestParams(canary="d@v1.1.0", canary_share=0.2, canary_sticky="id"))
    assert {k: canary[k] for k in ("canary", "canary_share", "canary_sticky")} == {
        "canary": "d@v1.1.0",
        "canary_share": 0.2,
        "canary_sticky": "id",
    }
    assert serve_config(RestParams(shadow="d#staging"))["shadow"] == "d#staging"
    config = from_mapping(json.loads(json.dumps(canary)), where="serve.json")
    assert (config.canary, config.canary_share, config.id_column) == ("d@v1.1.0", 0.2, "id")
    with pytest.raises(ValueError, match="both set"):
        RestParams(canary="d@v1", shadow="d@v2")


@pytest.mark.slow  # starts 'conveyor serve'
def test_the_cli_refuses_a_mismatched_candidate_before_serving(
    cancer_dir: Path, candidate_dir: Path, narrower_dir: Path, tmp_path: Path
) -> None:
    from tests.conftest import conveyor_warm  # forked from the warm stage server

    base = [str(cancer_dir), "--port", "0"]
    done = conveyor_warm(  # a server that starts (nothing refused) is killed by the timeout
        "serve", *base, "--canary", str(narrower_dir), cwd=tmp_path, check=False, timeout=90
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"error: canary '{narrower_dir}' (--canary or serve.json): ")
    assert "['mean area'] added or removed" in done.stderr
    assert "fix: give a version of 'cancer'" in done.stderr
    assert "Traceback" not in done.stderr
    assert "serving" not in done.stdout  # nothing was served
    for args, message in (
        (["--share", "0.2"], "--share applies to --canary"),
        (["--sticky", "case"], "--sticky applies to --canary"),
        (["--canary", str(candidate_dir), "--shadow", str(candidate_dir)], "both set"),
        (["--canary", str(candidate_dir), "--share", "1.5"], "'canary_share' must be above 0"),
    ):
        done = conveyor_warm("serve", *base, *args, cwd=tmp_path, check=False, timeout=90)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr
        assert "Traceback" not in done.stderr
