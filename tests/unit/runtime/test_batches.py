"""The training split in batches (``model.fit.memory: external``): the schema, labels and
sample of one streamed pass are what reading the whole split gives, and the transforms learn
what the documented sample (and, for ``partial_fit`` steps, every row) holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from conveyor.bundle import infer_schema
from conveyor.bundle.schema import SchemaStats
from conveyor.runtime.batches import iter_frames, scan_split

if TYPE_CHECKING:
    from pathlib import Path


def _frame(rows: int = 1_000) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    ints = rng.integers(-50, 50, rows).astype("float64")
    ints[700:705] = np.nan  # nulls in one batch only: int64 there, float64 in the whole frame
    flags = pd.Series(rng.integers(0, 2, rows).astype(bool), dtype=object)
    flags[900] = None  # bool in most batches, object (with a null) in one
    return pd.DataFrame(
        {
            "x": rng.normal(size=rows),
            "n": pd.array(ints, dtype="Int64").astype("float64"),
            "count": rng.integers(0, 10**6, rows),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "flag": flags,
            "label": np.where(rng.random(rows) < 0.3, "yes", "no"),
        }
    )


def _write(frame: pd.DataFrame, path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.cast(table.schema.set(1, pa.field("n", pa.int64())), safe=False)
    pq.write_table(table, path, row_group_size=128)
    return path


def test_schema_of_batches_is_the_schema_of_the_whole(tmp_path: Path) -> None:
    path = _write(_frame(), tmp_path / "train.parquet")
    whole = pd.read_parquet(path).drop(columns=["label"])
    stats = SchemaStats()
    dtypes = set()
    for frame in iter_frames(path, batch_rows=100):
        dtypes.add(str(frame["n"].dtype))
        stats.add(frame.drop(columns=["label"]))
    assert dtypes == {"int64", "float64"}  # the batches disagree, the whole frame does not
    assert stats.columns() == infer_schema(whole)


def test_too_many_categories_are_dropped_as_for_the_whole(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": [f"row-{i}" for i in range(3_000)], "label": ["a", "b"] * 1_500})
    path = _write_plain(frame, tmp_path / "ids.parquet")
    stats = SchemaStats()
    for batch in iter_frames(path, batch_rows=700):  # each batch alone is under the limit
        stats.add(batch.drop(columns=["label"]))
    assert stats.columns() == infer_schema(frame.drop(columns=["label"]))
    assert "categories" not in stats.columns()[0]


def _write_plain(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path, index=False, row_group_size=500)
    return path


@pytest.mark.parametrize(("rows", "sample_rows", "stride"), [(1_000, 300, 4), (1_000, 1_000, 1)])
def test_scan_samples_every_kth_row_and_sees_every_label(
    tmp_path: Path, rows: int, sample_rows: int, stride: int
) -> None:
    frame = _frame(rows)
    frame.loc[999, "label"] = "maybe"  # only in the last row, which no stride-4 sample holds
    path = _write_plain(frame, tmp_path / "train.parquet")
    scan = scan_split(path, "label", sample_rows=sample_rows, classification=True, batch_rows=130)
    whole = pd.read_parquet(path)
    assert scan.rows == rows
    assert len(scan.sample) <= sample_rows
    pd.testing.assert_frame_equal(scan.sample, whole.iloc[::stride].reset_index(drop=True))
    assert scan.labels is not None
    assert sorted(scan.labels) == ["maybe", "no", "yes"]
    assert scan.schema == infer_schema(whole.drop(columns=["label"]))


def test_partial_fit_steps_learn_every_row_and_the_others_the_sample(tmp_path: Path) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    from conveyor.runtime.fit import fit_steps_in_batches

    rng = np.random.default_rng(3)
    rows = 5_000
    frame = pd.DataFrame({"a": rng.normal(size=rows), "b": np.arange(rows, dtype="float64")})
    frame.loc[::7, "a"] = np.nan
    frame["y"] = rng.integers(0, 2, rows)
    path = _write_plain(frame, tmp_path / "train.parquet")

    def step(transformer: object) -> ColumnTransformer:
        return ColumnTransformer(
            [("t", transformer, ["a", "b"])],
            remainder="passthrough",
            verbose_feature_names_out=False,
        ).set_output(transform="pandas")

    steps = [("impute", step(SimpleImputer(strategy="median"))), ("scale", step(StandardScaler()))]
    scan = scan_split(path, "y", sample_rows=500, classification=True, batch_rows=512)
    sample = scan.sample.drop(columns=["y"])
    fit_steps_in_batches(steps, sample, scan.sample["y"], path, "y", batch_rows=512)
    imputer = steps[0][1].named_transformers_["t"]
    scaler = steps[1][1].named_transformers_["t"]
    medians = frame.iloc[::10][["a", "b"]].median()  # the sample: every 10th row
    np.testing.assert_allclose(imputer.statistics_, medians.to_numpy())
    imputed = frame[["a", "b"]].fillna(medians)  # every row, as the fitted imputer gives them
    np.testing.assert_allclose(scaler.mean_, imputed.mean().to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(scaler.var_, imputed.var(ddof=0).to_numpy(), rtol=1e-9)
    assert scaler.n_samples_seen_ == rows
    out = steps[1][1].transform(steps[0][1].transform(frame[["a", "b"]]))
    assert list(out.columns) == ["a", "b"]
