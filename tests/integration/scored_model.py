"""A real bundle and a batch in uneven parts, shared by the tests that score file by file.

``save_model``: impute (numbers), one-hot ('colour') and an estimator, fitted and saved as a
binary classification bundle. ``write_parts``: a frame cut into files at given rows, one of
them a CSV, in two date folders, so chunks of a few hundred rows run across files and types.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import pandas as pd


def save_model(path: Path, train: pd.DataFrame, features: Sequence[str], estimator: Any) -> None:
    """Fit impute, one-hot 'colour' and ``estimator`` on ``train`` (target 'label'); save it."""
    from conveyor.bundle import infer_schema, save_bundle
    from conveyor.plugins import Plugins
    from conveyor.runtime.estimator import build_pipeline
    from conveyor.spec import FeaturesSpec

    transforms = [
        {"kind": "impute", "columns": "numeric", "params": {"strategy": "median"}},
        {"kind": "one_hot", "columns": ["colour"]},
    ]
    spec = FeaturesSpec.model_validate({"transforms": transforms})
    pipeline = build_pipeline(spec, estimator, Plugins.discover())
    x = train[list(features)]
    schema = {
        "task": "binary_classification",
        "target": "label",
        "classes": [0, 1],
        "columns": infer_schema(x),
    }
    save_bundle(path, pipeline.fit(x, train["label"]), schema, {"name": path.name})


def write_parts(folder: Path, frame: pd.DataFrame, bounds: Sequence[int], csv: int = 3) -> None:
    """Rows ``bounds[i]`` up to ``bounds[i + 1]`` as part i (part ``csv`` a CSV), two a folder."""
    for index, (start, stop) in enumerate(itertools.pairwise(bounds)):
        sub = folder / f"date=2024-01-0{1 + index // 2}"
        sub.mkdir(parents=True, exist_ok=True)
        part = frame.iloc[start:stop]
        if index == csv:
            part.to_csv(sub / f"part-{index}.csv", index=False)
        else:
            part.to_parquet(sub / f"part-{index}.parquet", index=False)
