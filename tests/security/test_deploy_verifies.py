"""deploy-rest loads the bundle as ``conveyor serve`` would before it writes anything.

Before: it copied the bundle and checked only its manifest, so a bundle whose manifest had been
rewritten to match a malformed schema.json, or whose pipeline holds a type nothing trusts,
was shipped, and failed only when the container started serving.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from conveyor.bundle import infer_schema, save_bundle
from conveyor.bundle.manifest import write_manifest
from tests.conftest import conveyor

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # each case starts 'conveyor run deploy-<target>' (the slow rule)


def _blessed_bundle(root: Path, model: object) -> Path:
    """models/diagnostics as train writes it, and a blessing for it, without a repro."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import Pipeline

    data = load_breast_cancer(as_frame=True)
    x, y = data.data.iloc[:120], data.target.iloc[:120]
    pipeline = Pipeline([("model", model)]).fit(x, y)
    schema = {
        "task": "binary_classification",
        "target": "diagnosis",
        "classes": [0, 1],
        "columns": infer_schema(x),
    }
    bundle = root / "models" / "diagnostics"
    save_bundle(bundle, pipeline, schema, {"name": "diagnostics"})
    (root / "reports").mkdir(exist_ok=True)
    blessing = {"blessed": True, "model": "diagnostics", "checks": []}
    (root / "reports" / "blessing.json").write_text(json.dumps(blessing))
    return bundle


def _logistic() -> object:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=5000)


def test_an_intact_bundle_ships(project: Path) -> None:
    _blessed_bundle(project, _logistic())
    conveyor("run", "deploy-rest", cwd=project)
    assert (project / "deploy" / "rest" / "bundle" / "schema.json").is_file()


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ('{"task": "binary_classification", "columns": "all of them"}', "columns"),
        ('{"task": "banana", "columns": []}', "task"),
        ('{"task": "binary_classification", "columns": [', "is not valid JSON"),
    ],
)
def test_a_malformed_schema_with_a_matching_manifest_is_not_shipped(
    project: Path, schema: str, expected: str
) -> None:
    bundle = _blessed_bundle(project, _logistic())
    (bundle / "schema.json").write_text(schema)
    write_manifest(bundle)  # whoever edited it rewrote the manifest too
    done = conveyor("run", "deploy-rest", cwd=project, check=False)
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr
    assert "models/diagnostics/schema.json" in done.stderr
    assert expected in done.stderr
    assert not (project / "deploy").exists()  # nothing written, not even a temporary


def test_a_pipeline_holding_an_untrusted_type_is_not_shipped(project: Path) -> None:
    from sklearn.ensemble import GradientBoostingClassifier  # holds a DummyClassifier

    _blessed_bundle(project, GradientBoostingClassifier(n_estimators=3))
    done = conveyor("run", "deploy-rest", cwd=project, check=False)
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr
    assert "GradientBoostingClassifier" in done.stderr
    assert not (project / "deploy").exists()
