"""The reference profile on an executor: each column merged from its parts, the same bytes.

A split (one Parquet file) scored by a real trained bundle, and a folder of parts (Parquet and
CSV) without a model, hold every kind of column a profile keeps: many values (the quantile
grid), few values (counts), nulls, zeros of both signs, a category only one part has, booleans
and integers inferred from their types. On the local process pool (fast) and on a real Dask
LocalCluster (slow), each column of each file is summarised on a worker and merged, and the
model scores the split there too (chunks across files: test_profile_scored.py).
``Profile.to_json`` is byte-identical to the in-process profile's.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from conveyor.bundle import load_bundle
from conveyor.executors.dask import ADDRESS_VARIABLE, DaskExecutor
from conveyor.executors.local import LocalExecutor
from conveyor.monitoring import profile_data
from conveyor.monitoring.monitor import model_predictor
from tests.integration.scored_model import save_model

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.bundle.predictor import Predictor
    from conveyor.plugins.executor import Session


FEATURES = ["big", "few", "holes", "zeros", "colour"]


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    signed = np.where(rng.random(rows) < 0.5, -0.0, 0.0)
    return pd.DataFrame(
        {
            "big": rng.normal(0.0, 1.0, rows),
            "few": rng.integers(0, 4, rows).astype("int64"),
            "holes": np.where(rng.random(rows) < 0.1, np.nan, rng.random(rows)),
            "zeros": np.where(rng.random(rows) < 0.6, signed, rng.random(rows)),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "flag": rng.random(rows) < 0.3,
            "label": (rng.random(rows) < 0.4).astype("int64"),
        }
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A split with its bundle, and a folder of four parts (one CSV, one with a new colour)."""
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("profile")
    train = _frame(4000, seed=1)
    train.to_parquet(root / "train.parquet", index=False)
    save_model(root / "model", train, FEATURES, LogisticRegression(max_iter=500))
    (root / "parts").mkdir()
    for index in range(4):
        part = _frame(300 + 500 * index, seed=10 + index)
        if index == 2:
            part.loc[part.index[::5], "colour"] = "mauve"
            part.to_csv(root / "parts" / f"part-{index}.csv", index=False)
        else:
            part.to_parquet(root / "parts" / f"part-{index}.parquet", index=False)
    return root


@pytest.fixture(scope="module")
def predictor(work: Path) -> Predictor:
    found = model_predictor(load_bundle(work / "model"))
    assert found is not None
    return found


def _profiles(work: Path, predictor: Predictor, session: Session | None) -> tuple[str, str]:
    split = profile_data(
        work, ["train.parquet"], predictor=predictor, exclude=["label"], session=session
    )
    parts = profile_data(work, ["parts"], predictor=None, exclude=["label"], session=session)
    return split.to_json(), parts.to_json()


def _check_live(split: str, parts: str) -> None:
    """Every kind of entry is in the profiles compared (the comparison is not vacuous)."""
    columns = json.loads(split)["columns"]
    assert list(columns) == FEATURES
    assert "quantiles" in columns["big"]
    assert "counts" in columns["few"]
    assert columns["holes"]["nulls"] > 0
    assert columns["zeros"]["min"] == 0.0
    assert json.loads(split)["prediction"]["count"] == 4000
    loose = json.loads(parts)["columns"]
    assert list(loose) == [*FEATURES, "flag"]
    assert loose["colour"]["counts"]["mauve"] > 0
    assert loose["flag"]["kind"] == "categorical"
    assert json.loads(parts)["rows"] == 300 + 800 + 1300 + 1800
    assert not re.search(r"-0\.0(?![0-9])", split + parts)  # no negative zero


def test_the_process_pool_profiles_the_in_process_bytes(
    work: Path, predictor: Predictor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    here = _profiles(work, predictor, None)
    _check_live(*here)
    with LocalExecutor.from_config({"workers": 2}).open(where="executor") as session:
        assert _profiles(work, predictor, session) == here


@pytest.mark.slow  # a Dask cluster
def test_dask_profiles_the_in_process_bytes(
    work: Path, predictor: Predictor, scheduler: str
) -> None:
    here = _profiles(work, predictor, None)
    with DaskExecutor.from_config({"address": scheduler}).open(where="executor") as session:
        assert _profiles(work, predictor, session) == here
