"""The pandas paths of ``impute`` and ``ordinal`` give exactly scikit-learn's results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OrdinalEncoder

from conveyor.components.transformers.impute import FrameImputer
from conveyor.components.transformers.ordinal import FrameOrdinalEncoder


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    out = pd.DataFrame(
        {
            "a": rng.normal(size=60),
            "b": rng.integers(0, 3, 60).astype(float),
            "c": pd.array(rng.choice(["x", "y", "z"], 60), dtype="str"),
            "d": pd.array(rng.choice(["q", "p"], 60), dtype="str"),
        }
    )
    out.loc[::7, "a"] = np.nan
    out.loc[::5, "b"] = np.nan
    out.loc[::4, "c"] = None
    return out


NEW_ROWS = pd.DataFrame(
    {
        "a": [np.nan, 1.0, 2.0],
        "b": [1.0, np.nan, 7.0],
        "c": pd.array(["x", "w", None], dtype="str"),
        "d": pd.array([None, "q", "r"], dtype="str"),
    }
)


@pytest.mark.parametrize(
    ("strategy", "columns"),
    [
        ("mean", ["a", "b"]),
        ("median", ["a", "b"]),
        ("most_frequent", ["a", "b", "c", "d"]),
        ("constant", ["a", "b"]),
        ("constant", ["c", "d"]),
    ],
)
def test_imputer_matches_simple_imputer(
    frame: pd.DataFrame, strategy: str, columns: list[str]
) -> None:
    ours = FrameImputer(strategy=strategy).set_output(transform="pandas").fit(frame[columns])
    theirs = SimpleImputer(strategy=strategy).set_output(transform="pandas").fit(frame[columns])
    assert ours.by_column_
    assert list(ours.statistics_) == list(theirs.statistics_)
    for rows in (frame[columns], NEW_ROWS[columns]):
        expected = theirs.transform(rows).infer_objects()
        got = ours.transform(rows)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
        assert [str(t) for t in got.dtypes] == [str(t) for t in expected.dtypes]
    assert list(ours.get_feature_names_out()) == columns


def test_imputer_does_not_touch_the_callers_frame(frame: pd.DataFrame) -> None:
    before = frame.copy()
    FrameImputer(strategy="most_frequent").fit_transform(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_imputer_falls_back_to_scikit_learn_outside_the_common_case(frame: pd.DataFrame) -> None:
    empty = frame.assign(a=np.nan)
    assert not FrameImputer(strategy="median").fit(empty[["a", "b"]]).by_column_
    assert not FrameImputer(add_indicator=True).fit(frame[["a", "b"]]).by_column_
    mixed = FrameImputer(strategy="constant").set_output(transform="pandas").fit(frame)
    assert not mixed.by_column_
    assert mixed.transform(NEW_ROWS)["a"].tolist()[0] == "missing_value"  # SimpleImputer's way
    with pytest.raises(ValueError, match="Cannot use median strategy with non-numeric data"):
        FrameImputer(strategy="median").fit(frame)


@pytest.mark.parametrize("unknown", [-1, np.nan])
def test_ordinal_encoder_matches_scikit_learn(frame: pd.DataFrame, unknown: float) -> None:
    options = {"handle_unknown": "use_encoded_value", "unknown_value": unknown}
    ours = FrameOrdinalEncoder(**options).set_output(transform="pandas").fit(frame)
    theirs = OrdinalEncoder(**options).set_output(transform="pandas").fit(frame)
    assert ours.by_column_
    for mine, reference in zip(ours.categories_, theirs.categories_, strict=True):
        assert [str(v) for v in mine] == [str(v) for v in reference]
    for rows in (frame, NEW_ROWS):
        pd.testing.assert_frame_equal(ours.transform(rows), theirs.transform(rows))
    assert list(ours.get_feature_names_out()) == list(frame.columns)
