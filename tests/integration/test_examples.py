"""The case studies under examples/ run end to end, as a user runs them, and meet quality bars.

Each example is copied as a clean checkout would hold it (no stage outputs, no DVC cache) into
its own git repo; its committed dvc.yaml/params.yaml must be current, ``dvc repro`` must leave
``dvc status`` clean, and the metrics must clear bars that a broken component would miss.
"""

from __future__ import annotations

import configparser
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import REPO, conveyor, dvc, sh

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

EXAMPLES = REPO / "examples"
NAMES = ("climate", "healthcare-diagnostics", "supply-chain-demand")


@pytest.fixture(autouse=True)
def _one_openmp_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stages inherit this: on a busy CI machine, OpenMP threads that spin-wait for a core make
    histogram gradient boosting several times slower, with results identical either way."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _committed_files(source: Path) -> Callable[[str, list[str]], set[str]]:
    """A ``copytree`` ignore that leaves out what git does not hold: outputs and DVC's own state."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        where = Path(directory).relative_to(source).as_posix()
        skipped = {n for n in names if n.endswith(".parquet")}
        if where == ".":
            skipped |= {"dvc.lock", "reports"} & set(names)
        elif where == ".dvc":
            skipped |= {"tmp", "cache", "config.local"} & set(names)
        elif where == "models":
            skipped |= {n for n in names if n != ".gitignore"}
        return skipped

    return ignore


def _checkout(name: str, tmp_path: Path) -> Path:
    """The example as a fresh clone holds it, in a git repo of its own."""
    source = EXAMPLES / name
    root = tmp_path / name
    shutil.copytree(source, root, ignore=_committed_files(source))
    sh("git", "init", "-q", "-b", "main", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-qm", f"example {name}", cwd=root)
    return root


def _reproduce(name: str, tmp_path: Path) -> Path:
    """Check that the example compiles to its committed files, ``dvc repro`` it, check outputs."""
    root = _checkout(name, tmp_path)
    assert conveyor("compile", "--check", cwd=root).returncode == 0
    dvc("repro", cwd=root)
    assert json.loads(dvc("status", "--json", cwd=root).stdout) == {}
    # The committed .gitignore files are the ones DVC writes: only the lock and reports are new.
    untracked = sh("git", "status", "--porcelain", cwd=root).stdout.splitlines()
    assert sorted(untracked) == ["?? dvc.lock", "?? reports/"]
    validation = json.loads((root / "reports" / "validation.json").read_text())
    assert validation["passed"] is True
    assert validation["errors"] == 0
    return root


def _metrics(root: Path) -> dict[str, float]:
    metrics: dict[str, float] = json.loads((root / "reports" / "metrics.json").read_text())
    return metrics


def _split(root: Path, part: str) -> pd.DataFrame:
    import pandas as pd

    return pd.read_parquet(root / "data" / "split" / f"{part}.parquet")


@pytest.mark.slow
def test_healthcare_diagnostics_separates_malignant_from_benign(tmp_path: Path) -> None:
    root = _reproduce("healthcare-diagnostics", tmp_path)
    metrics = _metrics(root)
    assert metrics["roc_auc"] > 0.95
    assert metrics["accuracy"] > 0.9
    # Stratified: every split keeps the data's malignant share (212 of 569).
    by_split = {part: _split(root, part)["diagnosis"] for part in ("train", "valid", "test")}
    assert sum(len(labels) for labels in by_split.values()) == 569
    for labels in by_split.values():
        assert (labels == 0).mean() == pytest.approx(212 / 569, abs=0.02)


@pytest.mark.slow
def test_supply_chain_forecast_beats_the_per_series_mean(tmp_path: Path) -> None:
    root = _reproduce("supply-chain-demand", tmp_path)
    train, test = _split(root, "train"), _split(root, "test")
    # The combine stage joined the store attributes onto every sales row.
    assert test["region"].notna().all()
    assert test["size_sqm"].notna().all()
    assert train["date"].max() < test["date"].min()
    keys = ["store", "product"]
    naive = test.join(train.groupby(keys)["units_sold"].mean().rename("naive"), on=keys)["naive"]
    naive_mae = float((test["units_sold"] - naive).abs().mean())
    metrics = _metrics(root)
    assert metrics["mae"] < 0.8 * naive_mae
    assert metrics["r2"] > 0.6


@pytest.mark.slow
def test_supply_chain_store_missing_from_the_csv_fails_validation(tmp_path: Path) -> None:
    root = _checkout("supply-chain-demand", tmp_path)
    stores = root / "data" / "stores.csv"
    lines = stores.read_text().splitlines(keepends=True)
    stores.write_text("".join(line for line in lines if not line.startswith("S04,")))
    failed = dvc("repro", "validate", cwd=root, check=False)
    assert failed.returncode != 0
    assert "'region' nullable: expected no nulls" in failed.stderr
    report = json.loads((root / "reports" / "validation.json").read_text())
    assert report["passed"] is False
    assert {c["rule"] for c in report["checks"]} >= {"data.schema.columns.region.nullable"}


@pytest.mark.slow
def test_climate_trend_extrapolates_past_the_training_years(tmp_path: Path) -> None:
    import pandas as pd

    root = _reproduce("climate", tmp_path)
    train, test = _split(root, "train"), _split(root, "test")
    assert train["co2"].notna().all()  # split dropped the weeks without a reading
    assert train["date"].max() < pd.Timestamp("1990-01-01") <= test["date"].min()
    # Persistence: every test week predicted at the level of the last training year.
    last_year = float(train["co2"].tail(52).mean())
    persistence_mae = float((test["co2"] - last_year).abs().mean())
    metrics = _metrics(root)
    assert metrics["mae"] < 0.5 * persistence_mae
    assert metrics["r2"] > 0.4
    assert metrics["mape"] < 0.015


@pytest.mark.parametrize("name", NAMES)
def test_example_is_a_self_contained_dvc_project(name: str) -> None:
    root = EXAMPLES / name
    # What `dvc init --subdir` leaves worth committing; tmp/ and cache/ appear (ignored) on use.
    assert {p.name for p in (root / ".dvc").iterdir() if p.is_file()} == {"config", ".gitignore"}
    config = configparser.ConfigParser()
    config.read(root / ".dvc" / "config")
    assert config["core"]["analytics"] == "false"
    assert config["hydra"]["enabled"] == "true"
    readme = (root / "README.md").read_text()
    assert "conveyor compile --check && dvc repro && dvc metrics show" in readme
    for generated in ("dvc.yaml", "params.yaml"):
        assert (root / generated).is_file()
