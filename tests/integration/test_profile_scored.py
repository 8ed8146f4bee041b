"""The reference profile's prediction scored on the executor, file by file, the same bytes.

A real bundle scores a folder of five parts (one CSV, two date folders) of uneven sizes, with
the scoring chunk lowered to 700 rows so chunks run across files (rows 1400-2100, 2100-2800
and 3500-4200 each start in one file and end in the next). Its pipeline (impute, one-hot,
then scipy's ``zscore`` before a logistic regression) standardizes each chunk by the chunk's
own means, so a score depends on the rows scored with it: a chunk cut anywhere else (per
file) changes the scores, and the profile's prediction quantiles with them. The model comes
two ways: the monitoring predictor (unknown categories allowed: every row scored) and a
strict one that refuses the rows with a colour it never saw (their scores are NaN, the
profile's prediction nulls). On the process pool and on a real Dask LocalCluster each file
is scored by a task on a worker, and ``Profile.to_json`` is byte-identical to the in-process
profile's (the folder read whole, ``score_table`` over the whole table); the scores
themselves, in row order, are the whole table's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from distributed import Client

from conveyor.bundle import load_bundle
from conveyor.bundle.predictor import Predictor
from conveyor.executors.dask import ADDRESS_VARIABLE, DaskExecutor
from conveyor.executors.local import LocalExecutor
from conveyor.monitoring import _batch, _scores, _scoretask, _sharded, profile_data
from conveyor.monitoring.monitor import model_predictor
from conveyor.plugins.executor import InlineSession
from tests.integration.scored_model import save_model, write_parts

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.plugins.executor import Session

FEATURES = ["big", "few", "holes", "colour"]
ZSCORE = "scipy.stats._stats_py.zscore"
"""Trusted by the test: standardizes each chunk by its own mean and deviation."""
BOUNDS = [0, 700, 1500, 2600, 3900, 5000]
CHUNK = 700


def _frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], rows).astype(object)
    if shift:
        colour[::7] = "mauve"  # a category the model never saw
    return pd.DataFrame(
        {
            "big": rng.normal(shift, 1.0, rows),
            "few": rng.integers(0, 4, rows).astype("int64"),
            "holes": np.where(rng.random(rows) < 0.1, np.nan, rng.random(rows)),
            "colour": colour,
            "label": (rng.random(rows) < 0.4).astype("int64"),
        }
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle and a folder of five uneven parts (part-3 a CSV)."""
    from scipy.stats import zscore
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    root = tmp_path_factory.mktemp("profile_scored")
    chunkwise = make_pipeline(FunctionTransformer(zscore), LogisticRegression(max_iter=500))
    save_model(root / "model", _frame(3000, seed=1), FEATURES, chunkwise)
    write_parts(root / "parts", _frame(5000, seed=2, shift=0.4), BOUNDS)
    return root


@pytest.fixture
def chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scoring chunks of 700 rows (chunks run across the files); no scheduler from outside."""
    monkeypatch.setattr(_scores, "CHUNK_ROWS", CHUNK)
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)


def _models(root: Path) -> dict[str, Predictor]:
    bundle = load_bundle(root / "model", trusted=[ZSCORE])
    lenient = model_predictor(bundle)
    assert lenient is not None
    return {"lenient": lenient, "strict": Predictor(bundle)}


def _profile(root: Path, model: Predictor, session: Session | None) -> str:
    found = profile_data(root, ["parts"], predictor=model, exclude=["label"], session=session)
    return found.to_json()


def _whole_scores(root: Path, model: Predictor) -> np.ndarray:
    files = _batch.expand(root, ["parts"], where="batch")
    batch = _batch.read_batch(root, files, required=FEATURES, where="batch")
    return _scores.score_table(model, _scores.model_inputs(batch, model, "batch")).score


def _file_scores(root: Path, model: Predictor, session: Session) -> np.ndarray:
    files = _batch.expand(root, ["parts"], where="batch")
    batch = _sharded.scan_batch(session, root, files, required=FEATURES, where="batch")
    return _scoretask.batch_scores(batch, model, "batch")


def _check_live(text: str, name: str) -> None:
    """The prediction is profiled, every row, and the strict model refused some rows."""
    prediction = json.loads(text)["prediction"]
    assert prediction["count"] + prediction["nulls"] == 5000
    assert "quantiles" in prediction
    if name == "strict":
        assert 500 < prediction["nulls"] < 1000  # every 7th row is 'mauve'
    else:
        assert prediction["nulls"] == 0


def test_the_tasks_score_each_row_as_the_whole_table_does(work: Path, chunked: None) -> None:
    for name, model in _models(work).items():
        whole = _whole_scores(work, model)
        streamed = _file_scores(work, model, InlineSession())
        assert len(streamed) == len(whole) == 5000
        assert np.array_equal(streamed, whole, equal_nan=True), name
        assert np.isnan(whole).any() == (name == "strict")
        # the model scores a row by its chunk: other chunks give other scores
        files = _batch.expand(work, ["parts"], where="batch")
        batch = _batch.read_batch(work, files, required=FEATURES, where="batch")
        inputs = _scores.model_inputs(batch, model, "batch")
        other = _scores.score_table(model, inputs, chunk_rows=CHUNK - 100).score
        assert not np.allclose(other, whole, equal_nan=True)


@pytest.mark.slow  # a Dask cluster and a process pool
def test_the_workers_score_the_in_process_profile(
    work: Path, chunked: None, scheduler: str
) -> None:
    models = _models(work)
    here = {name: _profile(work, model, None) for name, model in models.items()}
    for name, text in here.items():
        _check_live(text, name)
    with DaskExecutor.from_config({"address": scheduler}).open(where="executor") as session:
        for name, model in models.items():
            assert _profile(work, model, session) == here[name], name
            scores = _file_scores(work, model, session)
            assert np.array_equal(scores, _whole_scores(work, model), equal_nan=True), name
    with Client(scheduler) as client:  # scored on the cluster's workers
        prefixes = client.run_on_scheduler(_task_prefixes)
    assert {"scan_file", "score_file", "column_part"} <= set(prefixes)
    with LocalExecutor.from_config({"workers": 2}).open(where="executor") as session:
        assert _profile(work, models["strict"], session) == here["strict"]


def _task_prefixes(dask_scheduler: Any) -> list[str]:
    return sorted(dask_scheduler.task_prefixes)


class _Recording(InlineSession):
    """This process as a session, noting the name of every function run on it."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def map(self, fn: Any, items: Any, *, resources: Any = None) -> Any:
        self.ran.append(getattr(fn, "__name__", repr(fn)))
        return super().map(fn, items, resources=resources)

    def submit(self, fn: Any, *args: Any, resources: Any = None) -> Any:
        self.ran.append(getattr(fn, "__name__", repr(fn)))
        return super().submit(fn, *args, resources=resources)


def test_one_file_is_scored_by_the_driver_a_chunk_at_a_time(
    work: Path, chunked: None, tmp_path: Path
) -> None:
    # A task holds its file's model inputs whole: with nothing to score beside it, a lone
    # Parquet file is streamed by the driver instead, to the same bytes.
    model = _models(work)["strict"]
    (tmp_path / "one").mkdir()
    _frame(5000, seed=2, shift=0.4).to_parquet(tmp_path / "one" / "all.parquet", row_group_size=900)
    here = profile_data(tmp_path, ["one"], predictor=model, exclude=["label"]).to_json()
    lone = _Recording()
    found = profile_data(tmp_path, ["one"], predictor=model, exclude=["label"], session=lone)
    assert found.to_json() == here
    assert lone.ran == ["scan_file", "column_part"]  # the statistics still run on the session
    several = _Recording()
    assert _profile(work, model, several) == _profile(work, model, None)
    assert several.ran.count("score_file") == 5  # one task per file
