"""``model.fit``: the default project trained distributed (a real Dask LocalCluster of two
single-threaded worker processes) and from external-memory batches scores within a hair of the
in-memory fit, and its bundle is the same kind of scikit-learn Pipeline, loaded through the
same trust path. Trained in process: ``run_stage`` is what ``conveyor run`` calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from conveyor.bundle import load_bundle
from conveyor.bundle.trust import declared_types
from conveyor.errors import SpecError
from conveyor.executors.dask import ADDRESS_VARIABLE
from conveyor.runtime.run import run_stage
from tests.conftest import conveyor_in_process

if TYPE_CHECKING:
    from pathlib import Path


FULL = "model.params.n_estimators=300"  # the default project's model (the template has 40)


def _auc(root: Path) -> float:
    import yaml

    params = yaml.safe_load((root / "params.yaml").read_text())
    bundle = load_bundle(root / "models" / "diagnostics", trusted=declared_types(params, root))
    test = pd.read_parquet(root / "data" / "split" / "test.parquet")
    y = test.pop("diagnosis")
    scores = bundle.pipeline.predict_proba(test)[:, 1]
    return float(roc_auc_score(y == bundle.classes[1], scores))


def _train(root: Path, *overrides: str) -> float:
    conveyor_in_process("compile", FULL, *overrides, cwd=root)
    run_stage(root, "train")
    return _auc(root)


@pytest.fixture
def split(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    for stage in ("ingest-breast_cancer", "split"):
        run_stage(project, stage)
    return project


@pytest.mark.slow  # trains on a Dask cluster
def test_distributed_fit_matches_the_local_auc(split: Path, scheduler: str) -> None:
    local = _train(split)
    local_steps = [name for name, _ in load_bundle(split / "models" / "diagnostics").pipeline.steps]
    distributed = _train(
        split,
        "+model.fit.mode=distributed",
        "executor=dask",
        f"executor.params.address='{scheduler}'",
    )
    print(f"AUC local {local:.4f} distributed {distributed:.4f}")  # noqa: T201
    assert abs(distributed - local) <= 0.005
    bundle = load_bundle(split / "models" / "diagnostics")  # nothing beyond xgboost's types
    assert type(bundle.pipeline.steps[-1][1]).__name__ == "XGBClassifier"
    assert [name for name, _ in bundle.pipeline.steps] == local_steps  # the same Pipeline


def test_external_memory_fit_matches_the_in_memory_auc(split: Path) -> None:
    in_memory = _train(split)
    external = _train(split, "+model.fit.memory=external")
    print(f"AUC in_memory {in_memory:.4f} external {external:.4f}")  # noqa: T201
    assert abs(external - in_memory) <= 0.002
    assert not list((split / "models").glob(".xgb-cache-*"))  # the page cache is gone


def test_distributed_fit_on_the_local_executor_is_a_located_error(split: Path) -> None:
    conveyor_in_process("compile", "+model.fit.mode=distributed", "executor=dask", cwd=split)
    params = split / "params.yaml"
    params.write_text(params.read_text().replace("kind: dask", "kind: local"))
    with pytest.raises(SpecError, match="trains on a Dask cluster, and executor is 'local'") as exc:
        run_stage(split, "train")
    assert exc.value.where == "model.fit.mode, executor (params.yaml)"
    assert "executor=dask" in str(exc.value.fix)
    assert not (split / "models" / "diagnostics").exists()


def test_external_memory_batches_match_the_in_memory_fit(tmp_path: Path) -> None:
    """Several batches (so the iterator's reset and label order matter), on generated data."""
    import numpy as np
    import xgboost
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import LabelEncoder

    from conveyor.runtime.fit import train_external

    x, y = make_classification(n_samples=12_000, n_features=12, n_informative=6, random_state=3)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(12)]).assign(
        label=np.where(y, "b", "a")
    )
    train, test = frame.iloc[:9_000], frame.iloc[9_000:]
    train.to_parquet(tmp_path / "train.parquet", row_group_size=1_000)
    encoder = LabelEncoder().fit(train["label"])
    params = {"n_estimators": 60, "max_depth": 4, "random_state": 0, "n_jobs": 1}
    in_memory = xgboost.XGBClassifier(**params).fit(
        train.drop(columns="label"), encoder.transform(train["label"])
    )
    external = xgboost.XGBClassifier(**params)
    train_external(
        external,
        tmp_path / "train.parquet",
        "label",
        lambda batch: batch,
        encoder,
        cache_dir=tmp_path / "models",
        batch_rows=2_000,  # five batches
    )
    truth = test["label"] == "b"
    features = test.drop(columns="label")
    auc_memory = roc_auc_score(truth, in_memory.predict_proba(features)[:, 1])
    auc_external = roc_auc_score(truth, external.predict_proba(features)[:, 1])
    print(f"AUC in_memory {auc_memory:.4f} external {auc_external:.4f}")  # noqa: T201
    assert abs(auc_external - auc_memory) <= 0.002
    assert auc_external > 0.9
    assert external.get_booster().num_boosted_rounds() == 60
    assert not list((tmp_path / "models").iterdir())  # the page cache is removed


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ("+model.fit.mode=distributed",),
            r"model.fit.mode \(override '\+model.fit.mode=distributed'\): 'fit.mode: "
            r"distributed' trains on a Dask cluster, and executor is 'local'",
        ),
        (
            ("model=random_forest", "+model.fit.memory=external"),
            "model 'random_forest' cannot be trained with 'fit.memory: external'\n"
            "  fix: set model.fit.memory: in_memory, or choose a model that can: xgboost",
        ),
        (
            ("+model.fit.memory=external", "+model.fit.mode=distributed", "executor=dask"),
            "'mode: distributed' and 'memory: external' do not combine",
        ),
    ],
)
def test_compile_refuses_fit_settings_it_cannot_honour(
    project: Path, overrides: tuple[str, ...], message: str
) -> None:
    import re

    before = (project / "params.yaml").read_text()
    result = conveyor_in_process("compile", *overrides, cwd=project, check=False)
    assert result.returncode == 2
    assert re.search(message, result.stderr)
    assert (project / "params.yaml").read_text() == before


def test_fit_at_its_defaults_is_not_written(project: Path) -> None:
    """A project that never sets model.fit compiles the params.yaml it had: nothing reruns."""
    before = (project / "params.yaml").read_text()
    conveyor_in_process(
        "compile", "+model.fit.mode=local", "+model.fit.memory=in_memory", cwd=project
    )
    assert "fit:" in (project / "params.yaml").read_text()  # written when set, even to defaults
    conveyor_in_process("compile", cwd=project)
    assert (project / "params.yaml").read_text() == before
    assert "fit:" not in before


@pytest.mark.slow
def test_external_memory_train_never_reads_the_whole_split(
    split: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A split of two batches: the stage reads it in batches only, the scaler learns every
    row and the imputer the strided sample, and two runs write the same bundle bytes."""
    import numpy as np

    import conveyor.runtime.stages.train as train_stage

    path = split / "data" / "split" / "train.parquet"
    train = pd.read_parquet(path)
    rng = np.random.default_rng(5)
    rows = 70_000  # three batches of BATCH_ROWS (32,768)
    big = train.iloc[rng.integers(0, len(train), rows)].reset_index(drop=True)
    features = [c for c in big.columns if c != "diagnosis"]
    big[features] = big[features] * rng.normal(1, 0.05, (rows, len(features)))
    big.loc[::11, features[0]] = np.nan  # the imputer has something to learn
    big.to_parquet(path, index=False, row_group_size=10_000)

    def whole_split(*args: object) -> None:
        raise AssertionError(f"the external path read a whole split: {args}")

    monkeypatch.setattr(train_stage, "read_frame", whole_split)
    monkeypatch.setattr(pd, "read_parquet", whole_split)
    overrides = ("+model.fit.memory=external", "+model.fit.sample_rows=7000")
    conveyor_in_process("compile", *overrides, cwd=split)
    bundle_dir = split / "models" / "diagnostics"
    run_stage(split, "train")
    first = {p.name: p.read_bytes() for p in sorted(bundle_dir.iterdir()) if p.is_file()}
    run_stage(split, "train")
    second = {p.name: p.read_bytes() for p in sorted(bundle_dir.iterdir()) if p.is_file()}
    assert first == second  # same inputs, same bytes
    monkeypatch.undo()

    steps = load_bundle(bundle_dir).pipeline.steps
    imputer = steps[0][1].named_transformers_["0_impute"]
    scaler = steps[1][1].named_transformers_["1_standard_scaler"]
    medians = big[features].iloc[::10].median()  # the sample: every 10th row
    np.testing.assert_allclose(imputer.statistics_, medians.to_numpy())
    imputed = big[features].fillna(medians)
    np.testing.assert_allclose(scaler.mean_, imputed.mean().to_numpy(), rtol=1e-9)
    assert scaler.n_samples_seen_ == rows
