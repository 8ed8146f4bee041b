"""A reduced load test against a real ``conveyor serve`` process: benchmarks/load_test.py's core.

1,000 requests at concurrency 16, 20% of them malformed in every way the load test knows,
over a real socket. The full run (10,000 at concurrency 32) is ``benchmarks/load_test.py``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from types import ModuleType

pytestmark = pytest.mark.slow

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def load_test() -> ModuleType:
    """benchmarks/load_test.py (benchmarks/ is a folder of scripts, not a package)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module("load_test")
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def bundle(load_test: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small xgboost bundle on the breast-cancer data (30 float columns)."""
    return load_test.train_bundle(tmp_path_factory.mktemp("model"), n_estimators=20)


def test_server_survives_mixed_load_with_malformed_requests(
    load_test: ModuleType, bundle: Path, tmp_path: Path
) -> None:
    report = load_test.load_test_bundle(
        bundle,
        requests=1000,
        concurrency=16,
        malformed_share=0.2,
        max_body_bytes=16 * 1024,
        log=tmp_path / "server.log",
    )

    log = (tmp_path / "server.log").read_text(errors="replace")[-3000:]
    assert report.violations == [], f"{report.table()}\n{log}"
    assert report.server_errors == 0
    assert report.malformed == 200
    malformed_kinds = {kind for kind, code in report.expected.items() if code != 200}
    assert malformed_kinds >= {
        "malformed_json",
        "missing_column",
        "extra_column",
        "wrong_type",
        "nan_or_inf",
        "empty_batch",
        "wrong_content_type",
        "oversized_body",
        "two_payload_keys",
        "oip_shape_mismatch",
        "oip_unknown_model",
    }
    for kind, counts in report.statuses.items():
        assert set(counts) == {report.expected[kind]}, (kind, counts)
    assert report.error_metric_growth == report.malformed
    assert report.health == {"/health": 200, "/v2/health/ready": 200, "/ping": 200}
    assert report.alive
