"""Monitoring a batch the model must score, or that labels judge, file by file.

A real bundle (impute, one-hot, logistic regression) scores a batch of five parts (one CSV)
of uneven sizes; the scoring chunk is lowered to 700 rows, so chunks run across files. The
batch comes four ways: without scores (the model must score it), with the target column (the
metric from the batch's own labels), without the target but with a labels file joined on the
id, and with a logged ``_score`` and the target. A strict model (unknown categories refused)
leaves some rows unscored, with their reasons.

Below ``COUNT_ROWS`` the in-memory run (the batch read whole) is the baseline: on the process
pool and on a real Dask LocalCluster (two single-threaded worker processes) each file is
scored on a worker, in the chunks the in-memory run cuts, and drift.json and drift.html are
byte-identical. Above it (the threshold lowered), the batch is counted into the reference
grid file by file, in process (never read whole) and on the cluster, byte-identical to each
other, with the in-memory run's decisions and the very same performance. Bad labels and a
batch without the model's inputs fail with the in-memory run's located errors, on every path,
and write nothing.
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
from conveyor.errors import DataError
from conveyor.executors.dask import ADDRESS_VARIABLE, DaskExecutor
from conveyor.executors.local import LocalExecutor
from conveyor.monitoring import (
    COUNT_ROWS_VARIABLE,
    MonitorRequest,
    _batch,
    _scores,
    profile_data,
    run_monitor,
)
from conveyor.monitoring.monitor import model_predictor
from tests.integration.scored_model import save_model, write_parts

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.plugins.executor import Session

pytestmark = pytest.mark.slow  # a Dask cluster's tasks and a process pool

FEATURES = ["big", "few", "holes", "colour"]
BOUNDS = [0, 700, 1500, 2600, 3900, 5000]
CHUNK = 700


def _frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    big = rng.normal(shift, 1.0, rows)
    colour = rng.choice(["red", "green", "blue"], rows).astype(object)
    if shift:
        colour[::7] = "mauve"  # a category the model never saw
    frame = pd.DataFrame(
        {
            "id": [f"r{seed}-{i}" for i in range(rows)],
            "big": big,
            "few": rng.integers(0, 4, rows).astype("int64"),
            "holes": np.where(rng.random(rows) < 0.1 + shift / 4, np.nan, rng.random(rows)),
            "colour": colour,
        }
    )
    noise = rng.random(rows) < 0.2
    frame["label"] = np.where(noise, rng.integers(0, 2, rows), big > shift / 2).astype("int64")
    return frame


def _write(folder: Path, frame: pd.DataFrame) -> None:
    write_parts(folder, frame, BOUNDS)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle, two reference profiles, the batch four ways and a labels file."""
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("scored")
    train = _frame(3000, seed=1)
    save_model(root / "model", train, FEATURES, LogisticRegression(max_iter=500))
    model = model_predictor(load_bundle(root / "model"))
    assert model is not None
    train.to_parquet(root / "train.parquet", index=False)
    train.iloc[:400].to_parquet(root / "small.parquet", index=False)
    for name, data in (("grid.json", "train.parquet"), ("sample.json", "small.parquet")):
        profile = profile_data(root, [data], predictor=model, exclude=["label", "id"])
        (root / name).write_text(profile.to_json())
    current = _frame(5000, seed=2, shift=0.4)
    _write(root / "labelled", current)
    _write(root / "unlabelled", current.drop(columns="label"))
    logged = current.assign(_score=np.random.default_rng(3).beta(2.5, 2, len(current)))
    _write(root / "logged", logged)
    labels = current[["id", "label"]].sample(frac=0.6, random_state=0)
    labels.loc[labels.index[::11], "label"] = None  # unknown labels are skipped
    labels.to_csv(root / "labels.csv", index=False)
    labels.iloc[:5].assign(id="r2-1").to_csv(root / "twice.csv", index=False)
    labels.rename(columns={"id": "key"}).to_csv(root / "keyed.csv", index=False)
    return root


@pytest.fixture
def chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scoring chunks of 700 rows (chunks run across the files); no scheduler from outside."""
    monkeypatch.setattr(_scores, "CHUNK_ROWS", CHUNK)
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)


CASES: dict[str, dict[str, Any]] = {
    "must_score": {"current": ("unlabelled",)},
    "target": {"current": ("labelled",), "reference_metrics": {"roc_auc": 0.97}},
    "joined": {"current": ("unlabelled",), "labels": ("labels.csv",), "id_column": "id"},
    "logged": {"current": ("logged",), "metric": "accuracy"},
    "strict": {"current": ("labelled",), "strict": True},
}


def _request(root: Path, out: str, reference: str = "grid.json", **case: Any) -> MonitorRequest:
    bundle = load_bundle(root / "model")
    strict = case.pop("strict", False)
    predictor = Predictor(bundle) if strict else model_predictor(bundle)
    return MonitorRequest(
        reference=_profile(root, reference),
        predictor=predictor,
        out_dir=root / out,
        reference_name=reference,
        **case,
    )


def _profile(root: Path, name: str) -> Any:
    from conveyor.monitoring.profile import Profile

    return Profile.from_json((root / name).read_text(), where=name)


def _reports(root: Path, out: str) -> tuple[bytes, bytes]:
    return (root / out / "drift.json").read_bytes(), (root / out / "drift.html").read_bytes()


def _check_live(document: dict[str, Any], case: str) -> None:
    """The comparison is not vacuous: the prediction compared, the metric where labelled."""
    assert document["rows"] == 5000
    assert document["prediction_drift"] is not None
    assert len(document["inputs"]["current"]) == 5
    if case in {"target", "joined", "logged"}:
        assert document["performance"]["rows"] > 1000
        assert document["performance"]["value"] is not None
    if case == "strict":
        assert 500 < document["unscored_rows"] < 1000  # 'mauve' is refused
        reasons = document["inputs"]["unscored_reasons"]
        assert reasons[0].startswith("column 'colour': unknown category 'mauve' (str)")
        assert reasons[0].endswith(" at rows 0, 7, 14, 21, 28, 35, 42, 49, 56, 63, 70, 77, 84, 91, "
                                   "98, 105, 112, 119, 126, 133")  # fmt: skip
        assert len(reasons) == 5
    else:
        assert document["unscored_rows"] == 0
        assert document["inputs"]["model"] == "model local"


REFERENCES = ("grid.json", "sample.json")
"""The grid (Wasserstein, Jensen-Shannon) and a kept sample (KS, chi-square, z-test)."""


def _run_all(
    root: Path,
    prefix: str,
    session: Session | None,
    references: tuple[str, ...] = REFERENCES,
    cases: tuple[str, ...] = tuple(CASES),
) -> None:
    for reference in references:
        for name in cases:
            request = _request(root, f"{prefix}-{name}-{reference}", reference, **CASES[name])
            run_monitor(root, request, session=session)


def _same(
    root: Path,
    one: str,
    two: str,
    references: tuple[str, ...] = REFERENCES,
    cases: tuple[str, ...] = tuple(CASES),
) -> None:
    for reference in references:
        for name in cases:
            here = _reports(root, f"{one}-{name}-{reference}")
            _check_live(json.loads(here[0]), name)
            assert _reports(root, f"{two}-{name}-{reference}") == here, (name, reference)


def test_each_file_is_scored_on_a_worker_with_the_in_memory_reports(
    work: Path, chunked: None, scheduler: str
) -> None:
    _run_all(work, "memory", None)
    with DaskExecutor.from_config({"address": scheduler}).open(where="executor") as session:
        _run_all(work, "dask", session)
    _same(work, "memory", "dask")
    pooled = ("joined", "strict")  # each run restarts the pool to share the model
    with LocalExecutor.from_config({"workers": 2}).open(where="executor") as session:
        _run_all(work, "pool", session, ("grid.json",), pooled)
    _same(work, "memory", "pool", ("grid.json",), pooled)
    with Client(scheduler) as client:  # scored on the cluster's workers
        prefixes = client.run_on_scheduler(_task_prefixes)
    assert {"scan_file", "score_file", "column_part"} <= set(prefixes)


def test_a_large_batch_is_counted_and_scored_file_by_file(
    work: Path, chunked: None, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run_all(work, "whole", None)  # below the threshold: the batch read whole
    monkeypatch.setenv(COUNT_ROWS_VARIABLE, "1000")
    read_batch = _batch.read_batch

    def never_the_batch(root: Path, files: Any, **kwargs: Any) -> Any:
        assert not any("labelled" in str(f) or "logged" in str(f) for f in files)
        return read_batch(root, files, **kwargs)  # the labels file is read whole, as before

    with monkeypatch.context() as patch:
        patch.setattr(_batch, "read_batch", never_the_batch)
        _run_all(work, "counted", None)
    with DaskExecutor.from_config({"address": scheduler}).open(where="executor") as session:
        _run_all(work, "dask", session)
    _same(work, "counted", "dask")
    for reference in REFERENCES:
        for name in CASES:
            whole = json.loads(_reports(work, f"whole-{name}-{reference}")[0])
            counted = json.loads(_reports(work, f"counted-{name}-{reference}")[0])
            assert _decisions(counted) == _decisions(whole), (name, reference)
            assert counted.get("performance") == whole.get("performance")
            assert counted["unscored_rows"] == whole["unscored_rows"]
            assert counted["inputs"] == whole["inputs"]
            assert counted["prediction"]["current_rows"] == whole["prediction"]["current_rows"]


def _decisions(document: dict[str, Any]) -> Any:
    columns = [(c["column"], c["method"], c["drifted"]) for c in document["columns"]]
    keys = ("dataset_drift", "drifted_columns", "quality_issues")
    return columns, {key: document[key] for key in keys}, document["prediction"]["drifted"]


ERRORS = [
    (
        {"current": ("unlabelled",), "labels": ("keyed.csv",), "id_column": "id"},
        r"LABELS: 'keyed.csv' lacks column 'id', which the reference \(or the model\) needs",
    ),
    (
        {"current": ("unlabelled",), "labels": ("twice.csv",), "id_column": "id"},
        r"LABELS: the labels repeat ids 'r2-1' of 'id'",
    ),
    (
        {"current": ("unlabelled",), "labels": ("labels.csv",), "id_column": "key"},
        r"CURRENT: the batch has no id column 'key' to join the labels on",
    ),
    (
        {"current": ("unlabelled",), "labels": ("labels.csv",)},
        r"LABELS: labels are joined to the batch by an id column, and none is given",
    ),
    (
        {"current": ("unlabelled",), "labels": ("missing.csv",), "id_column": "id"},
        r"LABELS: 'missing.csv' does not exist",
    ),
]


def test_bad_labels_fail_as_in_memory_on_every_path(
    work: Path, chunked: None, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (work / "bad").mkdir(exist_ok=True)
    (work / "bad" / "drift.json").write_text("previous\n")

    def fails(case: dict[str, Any], message: str, session: Session | None) -> str:
        request = _request(work, "bad", **case)
        request = _located(request)
        with pytest.raises(DataError, match=message) as caught:
            run_monitor(work, request, session=session)
        assert caught.value.fix
        assert sorted(p.name for p in (work / "bad").iterdir()) == ["drift.json"]
        assert (work / "bad" / "drift.json").read_text() == "previous\n"
        return caught.value.render()

    with DaskExecutor.from_config({"address": scheduler}).open(where="executor") as session:
        for case, message in ERRORS:
            whole = fails(case, message, None)
            assert fails(case, message, session) == whole
            with monkeypatch.context() as patch:
                patch.setenv(COUNT_ROWS_VARIABLE, "1000")
                assert fails(case, message, None) == whole
        # a batch without one of the model's inputs: the model cannot score it
        frame = pd.read_parquet(work / "unlabelled" / "date=2024-01-01" / "part-0.parquet")
        frame.drop(columns="few").to_parquet(work / "nofew.parquet", index=False)
        message = r"CURRENT: the batch lacks the model's input columns 'few'"
        case = {"current": ("nofew.parquet",), "options": _ignore_few()}
        whole = fails(case, message, None)
        assert fails(case, message, session) == whole


def _ignore_few() -> Any:
    from conveyor.monitoring.drift import DriftOptions

    return DriftOptions(ignore=("few",))


def _located(request: MonitorRequest) -> MonitorRequest:
    import dataclasses

    return dataclasses.replace(request, where="CURRENT", labels_where="LABELS")


def _task_prefixes(dask_scheduler: Any) -> list[str]:
    return sorted(dask_scheduler.task_prefixes)


def test_a_drift_test_that_needs_values_gets_the_counted_scores_in_full(
    work: Path, chunked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conveyor.monitoring.drift import ColumnTest, DriftOptions
    from tests.unit.monitoring.test_grid import ValuesOnly, _plugins, _Seen

    options = DriftOptions(default=ColumnTest("t.values"), ignore=tuple(FEATURES))
    plugins = _plugins("t.values", ValuesOnly)

    def monitor(out: str) -> dict[str, Any]:
        request = _request(work, out, options=options, **CASES["must_score"])
        return run_monitor(work, request, plugins=plugins).document

    whole = monitor("values-whole")
    monkeypatch.setenv(COUNT_ROWS_VARIABLE, "1000")
    _Seen.samples.clear()
    counted = monitor("values-counted")  # the scores counted, then scored again in full
    (sample,) = _Seen.samples
    assert sample.current is not None
    assert len(sample.current) == 5000
    assert counted["prediction"] == whole["prediction"]
    assert counted["prediction"]["method"] == "t.values"
