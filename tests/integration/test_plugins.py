"""Third-party plugins through real packaging: pip builds a wheel of the dummy plugin, installs
it outside the venv, and conveyor finds its components through entry-point metadata alone.

Subprocesses see the plugin through PYTHONPATH (a ``pip install --target`` directory), so the
venv itself is never changed and other tests never see the plugin.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
import yaml

from conveyor.cli.warm import SOCKET_ENV, stage_server
from tests.conftest import REPO, VENV_BIN, conveyor, dvc, sh

if TYPE_CHECKING:
    from pathlib import Path

PLUGIN_SOURCE = REPO / "tests" / "data" / "plugins" / "dummy_plugin"
PLUGIN_DIST = "conveyor-dummy-plugin 0.1.0"
BUILT_IN_DIST = f"conveyor-mlops {version('conveyor-mlops')}"


@dataclass(frozen=True)
class InstalledPlugin:
    """A plugin distribution installed into its own directory."""

    site: Path
    """The ``pip install --target`` directory: put it on PYTHONPATH."""
    source: Path
    """The copy it was built from (with its tests); the repository copy stays clean."""


def pip_install(source: Path, target: Path) -> None:
    """Build a wheel of ``source`` with the venv's setuptools and install it into ``target``."""
    sh(
        sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
        "--no-index", "--disable-pip-version-check", "--target", target, source,
    )  # fmt: skip


def use_plugin(monkeypatch: pytest.MonkeyPatch, plugin: InstalledPlugin) -> None:
    """Let every later subprocess (conveyor, dvc, and the stages dvc runs) import ``plugin``."""
    existing = os.environ.get("PYTHONPATH")
    paths = [str(plugin.site), *([existing] if existing else [])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))


@pytest.fixture(scope="session")
def dummy_plugin(tmp_path_factory: pytest.TempPathFactory) -> InstalledPlugin:
    """tests/data/plugins/dummy_plugin, built and installed once per session."""
    base = tmp_path_factory.mktemp("dummy_plugin")
    source = base / "source"
    # setuptools builds in the source tree (build/, *.egg-info): build a copy instead.
    shutil.copytree(
        PLUGIN_SOURCE,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache"),
    )
    pip_install(source, base / "site")
    return InstalledPlugin(base / "site", source)


@pytest.fixture
def with_plugin(dummy_plugin: InstalledPlugin, monkeypatch: pytest.MonkeyPatch) -> InstalledPlugin:
    """The dummy plugin, visible to the subprocesses of this test."""
    use_plugin(monkeypatch, dummy_plugin)
    # `conveyor plugins` fits its table to COLUMNS (80 when piped) and cuts longer names short.
    monkeypatch.setenv("COLUMNS", "200")
    return dummy_plugin


def plugin_rows(output: str) -> dict[tuple[str, str], tuple[str, str]]:
    """``conveyor plugins`` as ``{(kind, name): (entry point, provided by)}``."""
    rows = {}
    for line in output.splitlines()[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 5:
            kind, name, _tasks, entry_point, provider = cells
            rows[kind, name] = (entry_point, provider)
    return rows


def test_plugins_lists_the_plugin_with_its_distribution(
    with_plugin: InstalledPlugin, tmp_path: Path
) -> None:
    rows = plugin_rows(conveyor("plugins", cwd=tmp_path).stdout)
    assert rows["source", "dummy.blobs"] == ("dummy_plugin.components:BlobsSource", PLUGIN_DIST)
    assert rows["model", "dummy.nearest_centroid"] == (
        "dummy_plugin.components:NearestCentroidModel",
        PLUGIN_DIST,
    )
    assert rows["drift_test", "dummy.total_variation"] == (
        "dummy_plugin.components:TotalVariation",
        PLUGIN_DIST,
    )
    assert rows["model", "xgboost"] == ("conveyor.components.models:XGBoostModel", BUILT_IN_DIST)
    assert rows["drift_test", "ks"] == (
        "conveyor.components.drift:KolmogorovSmirnov",
        BUILT_IN_DIST,
    )
    assert rows["source", "csv"][1] == BUILT_IN_DIST
    assert rows["metric", "roc_auc"][1] == BUILT_IN_DIST


def test_the_venv_is_not_changed(dummy_plugin: InstalledPlugin, tmp_path: Path) -> None:
    rows = plugin_rows(conveyor("plugins", cwd=tmp_path).stdout)
    assert ("source", "dummy.blobs") not in rows
    assert ("source", "sklearn_dataset") in rows


@pytest.mark.slow
def test_project_on_plugin_components_reproduces(
    with_plugin: InstalledPlugin, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = project / "conf"
    (conf / "data" / "blobs.yaml").write_text(
        "# Synthetic rows from the dummy plugin's source.\n"
        "sources:\n"
        "  blobs:\n"
        "    kind: dummy.blobs\n"
        "    params: {n_rows: 400, n_features: 5, seed: 3}\n"
        "target: label\n"
        "split: {strategy: stratified, test_size: 0.25}\n"
    )
    (conf / "model" / "dummy.yaml").write_text("kind: dummy.nearest_centroid\nparams: {}\n")
    config = conf / "config.yaml"
    text = config.read_text()
    assert "- data: breast_cancer" in text
    assert "- model: xgboost" in text
    config.write_text(
        text.replace("- data: breast_cancer", "- data: blobs")
        .replace("- model: xgboost", "- model: dummy")
        .replace("- deploy: [rest, batch]", "- deploy: []")  # the dummy model is not blessed
    )
    conveyor("compile", cwd=project)
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["data"]["sources"]["blobs"]["kind"] == "dummy.blobs"
    assert params["model"]["kind"] == "dummy.nearest_centroid"

    # The session's stage server cannot see the plugin (a changed PYTHONPATH makes a stage run
    # cold); one started with the plugin on PYTHONPATH can, as under `conveyor warm dvc repro`.
    with stage_server() as warm:
        monkeypatch.setenv(SOCKET_ENV, warm[SOCKET_ENV])
        dvc("repro", cwd=project)

    assert json.loads(dvc("status", "--json", cwd=project).stdout) == {}
    metrics = json.loads((project / "reports" / "metrics.json").read_text())
    expected = yaml.safe_load((conf / "evaluate" / "classification.yaml").read_text())["metrics"]
    assert list(metrics) == expected
    assert metrics["roc_auc"] > 0.8  # two informative features, well apart
    metadata = json.loads((project / "models" / "diagnostics" / "metadata.json").read_text())
    assert metadata["model"] == "dummy.nearest_centroid"
    assert metadata["estimator"].startswith("sklearn.neighbors.")
    assert conveyor("compile", "--check", cwd=project).returncode == 0


def test_plugin_passes_its_contract_suites(with_plugin: InstalledPlugin) -> None:
    # The plugin's own pytest config (its pyproject.toml) applies: cwd is its root. Not ours
    # from the environment: a PYTEST_ADDOPTS of -v would make it -vv, which changes the lines
    # matched below.
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    args = [str(VENV_BIN / "pytest"), "-v", "-p", "no:cacheprovider"]
    done = subprocess.run(
        args, cwd=with_plugin.source, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for test in (
        "TestNearestCentroid::test_params_match_estimator_signature[binary_classification]",
        "TestNearestCentroid::test_fits_and_predicts[multiclass_classification]",
        "TestNearestCentroid::test_registered_under_name",
        "TestBlobs::test_read_returns_rows",
        "TestBlobs::test_registered_under_name",
        "TestTotalVariation::test_shifted_data_drifts[categorical-3000rows]",
        "TestTotalVariation::test_the_same_data_does_not_drift[numeric-300rows]",
        "TestTotalVariation::test_registered_under_name",
    ):
        assert f"{test} PASSED" in done.stdout, done.stdout
    summary = done.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed\b", summary), summary
    assert not re.search(r"failed|error|skipped|deselected", summary), summary


BROKEN_PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "conveyor-broken-plugin"
version = "0.1.0"

[project.entry-points."conveyor.models"]
"broken.model" = "broken_plugin.missing:BrokenModel"

[tool.setuptools]
packages = ["broken_plugin"]
"""


def test_entry_point_to_a_missing_module_is_a_plugin_error(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "broken"
    (source / "broken_plugin").mkdir(parents=True)
    (source / "broken_plugin" / "__init__.py").write_text('"""Has no module named missing."""\n')
    (source / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    pip_install(source, tmp_path / "site")
    use_plugin(monkeypatch, InstalledPlugin(tmp_path / "site", source))
    (project / "conf" / "model" / "broken.yaml").write_text("kind: broken.model\n")
    dvc_yaml = (project / "dvc.yaml").read_bytes()

    listed = conveyor("plugins", cwd=project)  # lists from metadata: nothing is imported
    assert "broken.model" in listed.stdout

    done = conveyor("compile", "model=broken", cwd=project, check=False)
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.startswith("error: model.kind: model 'broken.model'"), done.stderr
    assert "broken_plugin.missing:BrokenModel" in done.stderr
    assert "No module named 'broken_plugin.missing'" in done.stderr
    assert "conveyor-broken-plugin 0.1.0" in done.stderr
    assert "Traceback" not in done.stderr
    assert (project / "dvc.yaml").read_bytes() == dvc_yaml


def _batches(root: Path) -> None:
    """A reference and a batch whose 'x' is shifted by 1.5 sigma and whose 'c' is stable."""
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {"x": rng.normal(0.0, 1.0, 400), "c": rng.choice(["a", "b", "c"], 400)}
    )
    reference.to_parquet(root / "reference.parquet")
    current = pd.DataFrame({"x": rng.normal(1.5, 1.0, 400), "c": rng.choice(["a", "b", "c"], 400)})
    current.to_csv(root / "current.csv", index=False)


@pytest.mark.slow
def test_monitor_runs_a_plugin_drift_test_named_in_conf(
    with_plugin: InstalledPlugin, project: Path
) -> None:
    conveyor("compile", "monitor.drift.method=dummy.total_variation", cwd=project)
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["monitor"]["drift"]["method"] == "dummy.total_variation"
    _batches(project)

    done = conveyor(
        "monitor", "current.csv", "--reference-data", "reference.parquet", "--no-model",
        "-o", "out", cwd=project,
    )  # fmt: skip

    columns = {
        c["column"]: c for c in json.loads((project / "out" / "drift.json").read_text())["columns"]
    }
    assert {name: c["method"] for name, c in columns.items()} == {
        "x": "dummy.total_variation",
        "c": "dummy.total_variation",
    }
    assert (columns["x"]["drifted"], columns["c"]["drifted"]) == (True, False)
    assert columns["x"]["threshold"] == 0.1  # TotalVariation.default_threshold
    assert columns["x"]["p_value"] is None
    assert "  drifted: x: dummy.total_variation 0." in done.stdout
    assert "(drift when >= 0.1)" in done.stdout


def test_a_misspelt_plugin_drift_test_fails_compile_with_did_you_mean(
    with_plugin: InstalledPlugin, project: Path
) -> None:
    dvc_yaml = (project / "dvc.yaml").read_bytes()
    done = conveyor(
        "compile", "+monitor.drift.columns.x={method: dummy.total_variaton}", cwd=project,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "monitor.drift.columns.x.method (override " in done.stderr
    assert "unknown drift test 'dummy.total_variaton'" in done.stderr
    assert "fix: did you mean 'dummy.total_variation'? available: auto, chisquare, " in done.stderr
    assert "Traceback" not in done.stderr
    assert (project / "dvc.yaml").read_bytes() == dvc_yaml


BROKEN_DRIFT = """\
from conveyor.plugins import DriftTest, NoParams, Outcome


class Positional(DriftTest[NoParams]):
    default_threshold = 0.1

    def run(self, sample):
        return Outcome(0.0)
"""


def test_a_broken_drift_test_is_refused_at_compile_naming_its_distribution(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"  # an installed distribution as importlib.metadata finds one
    info = site / "conveyor_broken_drift-0.1.0.dist-info"
    info.mkdir(parents=True)
    (site / "broken_drift.py").write_text(BROKEN_DRIFT)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: conveyor-broken-drift\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[conveyor.drift_tests]\nbroken.positional = broken_drift:Positional\n"
    )
    use_plugin(monkeypatch, InstalledPlugin(site, site))
    dvc_yaml = (project / "dvc.yaml").read_bytes()

    done = conveyor("compile", "monitor.drift.method=broken.positional", cwd=project, check=False)

    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.startswith(
        "error: monitor.drift.method: drift test 'broken.positional' (broken_drift:Positional) "
        "run(self, sample) must take 'sample' as keyword-only (after '*'); "
        "conveyor calls run(self, *, sample)\n"
    ), done.stderr
    assert "fix: report this to the plugin's authors (conveyor-broken-drift 0.1.0)" in done.stderr
    assert "Traceback" not in done.stderr
    assert (project / "dvc.yaml").read_bytes() == dvc_yaml
