"""``/docs`` renders in a real headless Chromium that cannot reach any host but loopback.

Swagger UI draws an operation (``opblock``) only after its JavaScript ran and it fetched and
parsed ``/openapi.json``; the page has no server-side rendering. So operations in the dumped
DOM prove that the packaged assets and the spec loaded, with every other host unresolvable
(as in an air-gapped cluster; FastAPI's default page, from a CDN, stays blank there).

Chromium comes from Debian (``apt-get install chromium``, which ``.ci/run`` does when it runs as
root); without it the test skips and says so.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest

from tests.integration.test_serve import Server
from tests.unit.serving.conftest import IMPUTE_SCALE, cancer_frame, save

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="module")
def browser() -> str:
    """Chromium's path; a skip that says why when there is none (asked before the server starts)."""
    for name in BROWSERS:
        if found := shutil.which(name):
            return found
    pytest.skip(
        "no headless Chromium on PATH (one of "
        + ", ".join(BROWSERS)
        + "); .ci/run installs Debian's 'chromium' when it runs as root with apt-get"
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from xgboost import XGBClassifier

    x, y = cancer_frame()
    root = tmp_path_factory.mktemp("docs")
    model = XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1)
    bundle = save(
        root / "models" / "cancer", x, y, IMPUTE_SCALE, model, "binary_classification", [0, 1]
    )
    running = Server([str(bundle)], root)
    yield running
    if running.process.poll() is None:
        running.stop()


def render(browser: str, url: str, profile: Path) -> str:
    """The DOM of ``url`` after Chromium ran its scripts, with only 127.0.0.1 resolvable."""
    argv = [
        browser,
        "--headless",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-proxy-server",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--virtual-time-budget=20000",
        "--dump-dom",
        url,
    ]
    env = {**os.environ, "HOME": str(profile)}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_docs_render_every_operation_offline(browser: str, server: Server, tmp_path: Path) -> None:
    spec_paths = sorted(server.http.get("/openapi.json").json()["paths"])
    dom = render(browser, f"{server.url}/docs", tmp_path / "profile")
    assert 'id="swagger-ui"' in dom, dom[:2000]
    assert "Failed to load API definition" not in dom
    # Swagger UI's own markup for a rendered operation, one per route of the spec
    assert 'class="opblock opblock-post' in dom, dom[:4000]
    rendered = sorted(set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom)))
    assert rendered == spec_paths
    assert "/v2/models/{name}/infer" in rendered
