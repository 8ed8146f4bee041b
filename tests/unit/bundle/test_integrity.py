"""Bundles: saved with a manifest, refused when tampered, incomplete or padded."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from conveyor.bundle import load_bundle, save_bundle
from conveyor.errors import BundleError

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_iris(return_X_y=True, as_frame=True)
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("model", LogisticRegression(max_iter=500))]
    ).fit(x, y)
    path = tmp_path / "models" / "iris"
    save_bundle(
        path,
        pipeline,
        {"task": "multiclass_classification", "classes": [0, 1, 2]},
        {"name": "iris"},
    )
    return path


def test_round_trip_predicts_like_the_original(bundle_dir: Path) -> None:
    from sklearn.datasets import load_iris

    x, _ = load_iris(return_X_y=True, as_frame=True)
    bundle = load_bundle(bundle_dir)
    assert bundle.classes == [0, 1, 2]
    assert bundle.pipeline.predict(x.head()).tolist() == [0, 0, 0, 0, 0]
    assert not list(bundle_dir.parent.glob(".iris*"))  # no temporary directories left behind


def test_one_changed_byte_is_refused(bundle_dir: Path) -> None:
    model = bundle_dir / "pipeline.skops"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"'pipeline\.skops' does not match its sha256") as info:
        load_bundle(bundle_dir)
    assert info.value.exit_code == 4


def test_missing_file_is_refused(bundle_dir: Path) -> None:
    (bundle_dir / "schema.json").unlink()
    with pytest.raises(BundleError, match=r"'schema\.json' is missing"):
        load_bundle(bundle_dir)


def test_extra_file_is_refused(bundle_dir: Path) -> None:
    (bundle_dir / "evil.py").write_text("import os")
    with pytest.raises(BundleError, match=r"'evil\.py' is not in the manifest"):
        load_bundle(bundle_dir)


def test_missing_manifest_is_refused(bundle_dir: Path) -> None:
    (bundle_dir / "manifest.json").unlink()
    with pytest.raises(BundleError, match=r"has no readable manifest.json"):
        load_bundle(bundle_dir)


def test_missing_bundle_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no model bundle at") as info:
        load_bundle(tmp_path / "nope")
    assert "dvc repro" in str(info.value.fix)
