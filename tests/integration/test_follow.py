"""A server that follows a registry stage (``conveyor serve NAME#STAGE --follow``).

A real git registry (gto tags, a real DVC cache) in a tmp project holds three versions: A and B
trained by ``dvc repro`` with different n_estimators (tests/trained_pair.py), and C, B's bundle
carrying code (a skops node that would create a marker file), re-hashed as an attacker would
and committed with ``dvc commit``. The app runs in process (httpx over ASGI, lifespan
included); checks are triggered through ``POST /admin/reload`` or ``Follower.check`` so nothing
waits on a timer.
"""

from __future__ import annotations

import json
import re
import shutil
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from conveyor.bundle.predictor import Predictor
from conveyor.registry import load_version, promote, register, rollback
from conveyor.serving.app import create_app
from conveyor.serving.config import ServeConfig
from conveyor.serving.follow import Follower
from conveyor.serving.server import open_model
from tests.conftest import commit_all, conveyor, conveyor_warm, dvc, sh
from tests.security.hostile_bundles import PAYLOADS, plant
from tests.trained_pair import trained_pair
from tests.unit.serving.conftest import Client

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow  # builds on reproduced_template, and repros a second model
NAME = "diagnostics"
TOKEN = "s3cret-token"  # noqa: S105 - a test token
AUTH = {"authorization": f"Bearer {TOKEN}"}
EXEC = next(p for p in PAYLOADS if p.name == "builtins.exec")


@pytest.fixture(scope="module")
def registry(reproduced_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1.0.0 = model A (in prod), v1.1.0 = model B, v1.2.0 = B carrying code.

    A and B, each blessed by its own gate, are the run's shared ``trained_pair`` (B: 30 trees
    instead of 40), built once for this module and the registry tests.
    """
    base = tmp_path_factory.mktemp("follow")
    root = base / "project"
    shutil.copytree(trained_pair(reproduced_template, tmp_path_factory), root, symlinks=True)
    assert "n_estimators: 30" in (root / "conf" / "model" / "xgboost.yaml").read_text()
    plant(EXEC, root / "models" / NAME, base / "marker")
    dvc("commit", "-f", "-q", "train", cwd=root)
    commit_all(root, "model B carrying code")
    register(root, NAME, ref="HEAD~2")
    register(root, NAME, ref="HEAD~1", bump="minor")
    register(root, NAME, ref="HEAD", bump="minor")
    promote(root, NAME, "v1.0.0", "prod", force=True)
    return root


@pytest.fixture
def repo(registry: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(registry, root, symlinks=True)
    return root


class Following:
    """An in-process server of ``diagnostics#prod`` with a follower, and its client."""

    def __init__(self, root: Path, *, token: str | None = TOKEN, **config: Any) -> None:
        self.root = root
        self.opened = open_model(f"{NAME}#prod", root=root)
        predictor = Predictor(self.opened.bundle)
        predictor.version = self.opened.version
        self.follower = Follower(
            root, _ref(), version=self.opened.version, poll=3600.0, token=token
        )
        self.client = Client(
            create_app(predictor, config=ServeConfig(**config), follower=self.follower)
        )
        split = pq.read_table(root / "data" / "split" / "test.parquet").to_pandas()
        self.rows = split.drop(columns=["diagnosis"]).head(40)

    def version(self) -> dict[str, Any]:
        return self.client.get("/version").json()  # type: ignore[no-any-return]

    def reload(self) -> Any:
        return self.client.post("/admin/reload", headers=AUTH)

    def check(self) -> Any:
        return self.client._loop.run_until_complete(self.follower.check())

    def scores(self) -> list[list[float]]:
        body = {"dataframe_split": json.loads(self.rows.to_json(orient="split", index=False))}
        body["params"] = {"predict_proba": True}
        answer = self.client.post("/invocations", json=body)
        assert answer.status_code == 200, answer.text
        return [[row["0"], row["1"]] for row in answer.json()["predictions"]]

    def metric(self, series: str) -> float:
        text = self.client.get("/metrics").text
        match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    def close(self) -> None:
        self.client.close()
        self.opened.close()


def _ref() -> Any:
    from conveyor.registry.reference import RegistryRef

    return RegistryRef.parse(f"{NAME}#prod")


@pytest.fixture
def following(repo: Path) -> Iterator[Following]:
    server = Following(repo)
    yield server
    server.close()


def _expected(root: Path, version: str, rows: Any, tmp: Path) -> tuple[str, list[list[float]]]:
    bundle = load_version(root, f"{NAME}@{version}", tmp / version)
    sha256 = json.loads((bundle.path / "manifest.json").read_text())["files"]["pipeline.skops"]
    return sha256, bundle.pipeline.predict_proba(rows).tolist()


def test_a_promotion_is_verified_then_swapped_in(following: Following, tmp_path: Path) -> None:
    root, rows = following.root, following.rows
    sha_a, proba_a = _expected(root, "v1.0.0", rows, tmp_path)
    sha_b, proba_b = _expected(root, "v1.1.0", rows, tmp_path)
    assert sha_a != sha_b
    assert not np.allclose(proba_a, proba_b)  # the two models answer differently
    before = following.version()
    assert (before["model_version"], before["sha256"]) == ("v1.0.0", sha_a)
    assert before["following"] == f"{NAME}#prod"
    np.testing.assert_allclose(following.scores(), proba_a, rtol=1e-6)

    assert following.reload().json()["outcome"] == "unchanged"
    promote(root, NAME, "v1.1.0", "prod")
    answer = following.reload()
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "swapped"
    assert answer.json()["version"] == "v1.1.0"
    after = following.version()
    assert (after["model_version"], after["sha256"]) == ("v1.1.0", sha_b)
    assert after["last_reload"]["outcome"] == "swapped"
    np.testing.assert_allclose(following.scores(), proba_b, rtol=1e-6)
    assert following.metric("conveyor_model_reloads_total") == 1
    info = (
        f'conveyor_model_info{{fast_path="True",name="{NAME}",sha256="{sha_b}",version="v1.1.0"}}'
    )
    assert following.metric(info) == 1
    assert "v1.0.0" not in following.client.get("/metrics").text  # one info series, B's
    assert following.client.get(f"/v2/models/{NAME}/versions/v1.1.0").status_code == 200
    assert following.client.get(f"/v2/models/{NAME}/versions/v1.0.0").status_code == 404
    spec = following.client.get("/openapi.json").json()
    assert "v1.1.0" in json.dumps(spec)
    assert "v1.0.0" not in json.dumps(spec)

    rollback(root, NAME, "prod")
    assert following.check().outcome == "swapped"
    assert following.version()["sha256"] == sha_a
    np.testing.assert_allclose(following.scores(), proba_a, rtol=1e-6)


def test_a_tampered_cache_file_is_never_served(following: Following, tmp_path: Path) -> None:
    root = following.root
    sha_a, proba_a = _expected(root, "v1.0.0", following.rows, tmp_path)
    cached = _cached(root, "v1.1.0", "pipeline.skops")
    original = cached.read_bytes()
    cached.chmod(0o644)
    cached.write_bytes(original[:100] + bytes([original[100] ^ 1]) + original[101:])
    promote(root, NAME, "v1.1.0", "prod")

    answer = following.reload()
    assert answer.status_code == 409
    refused = answer.json()
    assert (refused["outcome"], refused["version"], refused["reason"]) == (
        "refused",
        "v1.1.0",
        "integrity",
    )
    assert "does not match its md5" in refused["detail"]
    assert "still serving v1.0.0" in refused["detail"]
    shown = following.version()
    assert (shown["model_version"], shown["sha256"]) == ("v1.0.0", sha_a)
    assert shown["last_reload"] == refused
    np.testing.assert_allclose(following.scores(), proba_a, rtol=1e-6)
    failures = 'conveyor_model_reload_failures_total{reason="integrity"}'
    assert following.metric(failures) == 1
    assert following.check().outcome == "refused"  # a poll does not verify it again...
    assert following.metric(failures) == 1  # ...nor count or log it again
    assert following.metric("conveyor_model_reloads_total") == 0

    cached.write_bytes(original)  # repaired: an explicit reload tries it again
    assert following.reload().json()["outcome"] == "swapped"
    assert following.version()["model_version"] == "v1.1.0"


def test_a_version_carrying_code_is_refused_and_nothing_runs(
    following: Following, registry: Path
) -> None:
    marker = registry.parent / "marker"
    promote(following.root, NAME, "v1.2.0", "prod", force=True)
    answer = following.reload()
    assert answer.status_code == 409
    refused = answer.json()
    assert (refused["version"], refused["reason"]) == ("v1.2.0", "trust")
    assert "not trusted" in refused["detail"]
    assert not marker.exists(), "the payload ran"
    assert following.version()["model_version"] == "v1.0.0"
    assert following.version()["last_reload"]["reason"] == "trust"
    assert following.metric('conveyor_model_reload_failures_total{reason="trust"}') == 1


def test_reload_needs_the_token(repo: Path) -> None:
    following = Following(repo)
    try:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
            refused = following.client.post("/admin/reload", headers=headers)
            assert refused.status_code == 403
            assert "CONVEYOR_ADMIN_TOKEN" in refused.json()["error"]
        assert following.follower.last_check is None  # a refused call checks nothing
        assert following.reload().status_code == 200
    finally:
        following.close()
    without = Following(repo, token=None)
    try:
        assert without.client.post("/admin/reload", headers=AUTH).status_code == 404
    finally:
        without.close()


def test_an_unresolvable_stage_or_unreachable_registry_keeps_serving(
    following: Following, tmp_path: Path
) -> None:
    root = following.root
    _, proba_a = _expected(root, "v1.0.0", following.rows, tmp_path)
    for tag in sh("git", "tag", "-l", f"{NAME}#prod*", cwd=root).stdout.split():
        sh("git", "tag", "-d", tag, cwd=root)  # the stage no longer names a version
    answer = following.reload()
    assert answer.status_code == 503
    body = answer.json()
    assert (body["outcome"], body["reason"]) == ("unresolved", "unresolved")
    assert "no version of 'diagnostics' is in stage 'prod'" in body["detail"]
    assert "still serving v1.0.0" in body["detail"]
    np.testing.assert_allclose(following.scores(), proba_a, rtol=1e-6)
    assert following.version()["last_check"] == body
    assert following.metric('conveyor_model_reload_failures_total{reason="unresolved"}') == 1

    shutil.move(root / ".git", root / "git-away")  # the registry itself is gone
    gone = following.reload().json()
    assert (gone["outcome"], gone["reason"]) == ("unreachable", "unreachable")
    np.testing.assert_allclose(following.scores(), proba_a, rtol=1e-6)
    shutil.move(root / "git-away", root / ".git")

    following.follower.remote = "nowhere"  # a remote that cannot be fetched
    fetched = following.reload().json()
    assert (fetched["outcome"], fetched["reason"]) == ("unreachable", "unreachable")
    assert "fetching tags from 'nowhere'" in fetched["detail"]
    assert following.version()["model_version"] == "v1.0.0"


class _RollbackWhileVerifying(Follower):
    """A second promotion lands while the first is being verified (real tags, real timing)."""

    def _verify(self, version: Any) -> Any:
        candidate = super()._verify(version)
        if version.version == "v1.1.0":
            rollback(self.root, NAME, "prod")  # the stage moves back to v1.0.0 meanwhile
        return candidate


def test_two_quick_promotions_end_on_the_last(repo: Path) -> None:
    following = Following(repo)
    try:
        following.follower.__class__ = _RollbackWhileVerifying
        promote(repo, NAME, "v1.1.0", "prod")
        outcome = following.check()
        assert outcome.outcome == "unchanged"  # v1.1.0 was verified, then never swapped in
        assert following.metric("conveyor_model_reloads_total") == 0
        assert following.version()["model_version"] == "v1.0.0"
    finally:
        following.close()


def test_concurrent_checks_are_serialised(following: Following) -> None:
    import asyncio

    promote(following.root, NAME, "v1.1.0", "prod")

    async def both() -> list[Any]:
        return await asyncio.gather(following.follower.check(), following.follower.check())

    outcomes = following.client._loop.run_until_complete(both())
    assert sorted(o.outcome for o in outcomes) == ["swapped", "unchanged"]
    assert following.metric("conveyor_model_reloads_total") == 1
    assert following.version()["model_version"] == "v1.1.0"


def _cached(root: Path, version: str, relpath: str) -> Path:
    shown = json.loads(conveyor_warm("registry", "show", NAME, "--json", cwd=root).stdout)
    model = next(v["model_md5"] for v in shown["versions"] if v["version"] == version)
    cache = root / ".dvc" / "cache" / "files" / "md5"
    listing = json.loads((cache / model[:2] / model[2:]).read_text())
    file_md5 = next(item["md5"] for item in listing if item["relpath"] == relpath)
    return cache / file_md5[:2] / file_md5[2:]


def test_a_rollback_under_load_drops_no_request(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drill of docs/serving.md: a real server, real clients, a real 'registry rollback'."""
    import threading
    import time

    from tests.integration.test_serve import Server

    promote(repo, NAME, "v1.1.0", "prod")
    monkeypatch.setenv("CONVEYOR_ADMIN_TOKEN", TOKEN)
    server = Server([f"{NAME}#prod", "--follow", "--poll", "0.5"], repo)
    assert "following diagnostics#prod every 0.5 s" in server.banner
    split = pq.read_table(repo / "data" / "split" / "test.parquet").to_pandas()
    x = split.drop(columns=["diagnosis"]).head(2)
    tensor = {"name": "input-0", "shape": [2, len(x.columns)], "datatype": "FP64"}
    body = {"inputs": [{**tensor, "data": x.to_numpy().ravel().tolist()}]}
    answers: list[tuple[float, int, str]] = []
    stop = threading.Event()

    def load() -> None:
        import httpx

        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not stop.is_set():
                try:
                    got = http.post(f"/v2/models/{NAME}/infer", json=body)
                    version = got.json().get("model_version", "?") if got.is_success else "?"
                    answers.append((time.monotonic(), got.status_code, version))
                except httpx.HTTPError as exc:
                    answers.append((time.monotonic(), 0, type(exc).__name__))

    workers = [threading.Thread(target=load) for _ in range(4)]
    try:
        for worker in workers:
            worker.start()
        time.sleep(1.0)
        started = time.monotonic()
        conveyor("registry", "rollback", NAME, "--stage", "prod", cwd=repo)
        deadline = started + 60
        while (
            time.monotonic() < deadline
            and server.http.get("/version").json()["model_version"] != "v1.0.0"
        ):
            time.sleep(0.1)
        time.sleep(1.0)
    finally:
        stop.set()
        for worker in workers:
            worker.join(60)
        code, err = server.stop()
    assert code == 0, err
    assert "Traceback" not in err
    failed = [a for a in answers if a[1] != 200]
    assert not failed, failed[:5]
    versions = [version for _, _, version in answers]
    assert versions[0] == "v1.1.0"
    assert versions[-1] == "v1.0.0"
    first_new = min(t for t, _, v in answers if v == "v1.0.0")
    assert first_new > started  # the old version answered until the swap...
    late = [v for t, _, v in answers if t > first_new and v != "v1.0.0"]
    assert len(late) < len(workers)  # ...then only requests already in flight finished on it
    assert len(answers) > 100


def test_follow_needs_a_stage(repo: Path) -> None:
    for args, message in (
        ([f"{NAME}@v1.0.0", "--follow"], "--follow needs a registry stage"),
        ([f"{NAME}#prod", "--poll", "1"], "--poll applies to --follow"),
        ([f"{NAME}#prod", "--follow", "--poll", "0"], "--poll must be above 0 seconds"),
    ):
        done = conveyor_warm("serve", *args, cwd=repo, check=False, timeout=90)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
        assert "Traceback" not in done.stderr
