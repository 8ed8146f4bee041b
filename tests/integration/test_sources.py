"""Several sources in a real git + DVC project: one ingest stage each, combined, precisely rerun."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import yaml

from tests.conftest import conveyor_in_process, dvc, sh

if TYPE_CHECKING:
    from pathlib import Path

DATA = """\
sources:
  visits:
    kind: csv
    params: {path: raw/visits.csv}
  wards:
    kind: csv
    params: {path: raw/wards.csv}
combine:
  base: visits
  join:
    - {source: wards, keys: ward, how: left}
target: label
split: {strategy: group, group_column: patient, test_size: 0.3}
"""

FEATURES = """\
transforms:
  - {kind: one_hot, columns: categorical}
"""


def _write_sources(root: Path, beds: int = 10) -> None:
    (root / "raw").mkdir(exist_ok=True)
    visits = ["patient,ward,age,label"]
    visits += [f"{i % 40},{'abc'[i % 3]},{20 + i % 50},{(i // 7) % 2}" for i in range(200)]
    (root / "raw" / "visits.csv").write_text("\n".join(visits) + "\n")
    wards = ["ward,beds,floor", f"a,{beds},1", "b,20,2", "c,30,2"]
    (root / "raw" / "wards.csv").write_text("\n".join(wards) + "\n")


def _multi_source_project(root: Path) -> None:
    _write_sources(root)
    (root / "conf" / "data" / "visits.yaml").write_text(DATA)
    (root / "conf" / "features" / "wards.yaml").write_text(FEATURES)
    config = root / "conf" / "config.yaml"
    text = config.read_text().replace("data: breast_cancer", "data: visits")
    text = text.replace("- deploy: [rest, batch]", "- deploy: []")  # a weak model: not blessed
    config.write_text(text.replace("features: standard", "features: wards"))
    sh("git", "add", "-A", cwd=root)
    conveyor_in_process("compile", cwd=root)
    sh("git", "commit", "-qam", "visits", cwd=root)


@pytest.mark.slow
def test_each_source_is_its_own_stage_and_joins_into_one_table(project: Path) -> None:
    _multi_source_project(project)
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    assert list(stages)[:3] == ["ingest-visits", "ingest-wards", "combine"]
    assert stages["ingest-visits"]["deps"] == ["raw/visits.csv"]
    assert stages["ingest-visits"]["params"] == ["data.sources.visits"]
    assert stages["combine"]["deps"] == ["data/raw/visits.parquet", "data/raw/wards.parquet"]
    assert stages["split"]["deps"] == ["data/combined.parquet"]
    dvc("repro", cwd=project)
    import pandas as pd

    combined = pd.read_parquet(project / "data" / "combined.parquet")
    assert list(combined.columns) == ["patient", "ward", "age", "label", "beds", "floor"]
    assert combined.loc[combined["ward"] == "b", "beds"].eq(20).all()
    assert json.loads(dvc("status", "--json", cwd=project).stdout) == {}


@pytest.mark.slow
def test_editing_one_source_file_reruns_only_its_ingest_and_what_follows(project: Path) -> None:
    _multi_source_project(project)
    dvc("repro", cwd=project)
    _write_sources(project, beds=11)
    stale = json.loads(dvc("status", "--json", cwd=project).stdout)
    assert "ingest-wards" in stale
    assert "ingest-visits" not in stale
    done = dvc("repro", cwd=project)
    assert "Running stage 'ingest-wards'" in done.stdout
    assert "Running stage 'ingest-visits'" not in done.stdout
    assert "Running stage 'combine'" in done.stdout


def test_compile_warns_about_a_source_file_outside_git_and_dvc(project: Path) -> None:
    _multi_source_project(project)
    (project / "raw" / "extra.csv").write_text("ward,manager\na,x\nb,y\nc,z\n")
    text = DATA.replace(
        "combine:", "  managers:\n    kind: csv\n    params: {path: raw/extra.csv}\ncombine:"
    ).replace("target:", "    - {source: managers, keys: ward}\ntarget:")
    (project / "conf" / "data" / "visits.yaml").write_text(text)
    done = conveyor_in_process("compile", cwd=project)
    assert "warning: 'raw/extra.csv' (read by stage 'ingest-managers') is tracked by neither" in (
        done.stderr
    )
    assert "run: dvc add raw/extra.csv" in done.stderr
    assert "raw/visits.csv" not in done.stderr  # committed to git: fine
    dvc("add", "raw/extra.csv", cwd=project)
    assert "warning" not in conveyor_in_process("compile", cwd=project).stderr


@pytest.mark.slow
def test_a_join_key_missing_from_a_source_fails_combine_with_its_columns(project: Path) -> None:
    _multi_source_project(project)
    (project / "raw" / "wards.csv").write_text("wardname,beds\na,1\n")
    done = dvc("repro", cwd=project, check=False)
    assert done.returncode != 0
    assert "data.combine.join.0: join key ['ward'] is not in source 'wards'" in done.stderr
    assert "columns there: wardname, beds" in done.stderr
    assert (project / "data" / "raw" / "visits.parquet").is_file()  # earlier outputs intact


@pytest.mark.slow
def test_sources_combined_by_a_sql_query(project: Path) -> None:
    _multi_source_project(project)
    data = project / "conf" / "data" / "visits.yaml"
    query = (
        "SELECT v.*, w.beds FROM visits v JOIN wards w USING (ward) WHERE v.age < 60 "
        "ORDER BY v.patient, v.age"
    )
    text = (
        DATA.split("combine:")[0]
        + f"combine:\n  sql: {query}\n"
        + "target:"
        + (DATA.split("target:")[1])
    )
    data.write_text(text)
    conveyor_in_process("compile", cwd=project)
    dvc("repro", "combine", cwd=project)
    import pandas as pd

    combined = pd.read_parquet(project / "data" / "combined.parquet")
    assert list(combined.columns) == ["patient", "ward", "age", "label", "beds"]
    assert combined["age"].max() < 60
    assert len(combined) == sum(20 + i % 50 < 60 for i in range(200))
