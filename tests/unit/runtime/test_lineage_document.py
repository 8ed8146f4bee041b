"""``conveyor lineage`` on a bundle whose metadata.json lineage has the wrong shape (issue 17)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from conveyor.errors import StageError
from conveyor.runtime.provenance import provenance

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize(
    ("lineage", "what"),
    [
        ({"deps": 3}, "'lineage.deps' must map each input path to its md5"),
        ({"deps": {"data/x.csv": 1}}, "'lineage.deps' must map each input path to its md5"),
        ({"deps": {}, "params": [1]}, "'lineage.params' must be a mapping"),
    ],
)
def test_a_lineage_of_the_wrong_shape_is_a_located_error(
    tmp_path: Path, lineage: dict[str, object], what: str
) -> None:
    bundle = tmp_path / "models" / "m"
    bundle.mkdir(parents=True)
    (bundle / "metadata.json").write_text(json.dumps({"lineage": lineage}))
    with pytest.raises(StageError, match="no lineage to read") as caught:
        provenance(tmp_path, "models/m")
    assert caught.value.what == f"no lineage to read: {what}"
    assert caught.value.where == str(bundle / "metadata.json")


def test_a_well_formed_lineage_is_read(tmp_path: Path) -> None:
    bundle = tmp_path / "models" / "m"
    bundle.mkdir(parents=True)
    lineage = {"deps": {"data/x.csv": "0" * 32}, "params": {"seed": 1}}
    (bundle / "metadata.json").write_text(json.dumps({"lineage": lineage}))
    assert provenance(tmp_path, "models/m").lineage == lineage
