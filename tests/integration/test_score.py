"""``conveyor score`` as users run it: the console script, exit codes, messages, no traceback."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path  # noqa: TC003 - fixtures' annotations

import pandas as pd
import pytest

from tests.conftest import conveyor, dvc, sh
from tests.unit.bundle.test_scoring import features, make_bundle

pytestmark = pytest.mark.slow  # each case starts 'conveyor score' (the slow rule)

SUMMARY = re.compile(r"^scored ([\d,]+) rows from (\d+) files? in [\d.]+s \([\d,]+ rows/s\) -> ")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("score") / "models" / "tiny")


@pytest.fixture
def work(bundle: Path, tmp_path: Path) -> Path:
    """A directory with the bundle in models/tiny, and data/a.csv + data/b.parquet."""
    shutil.copytree(bundle, tmp_path / "models" / "tiny")
    (tmp_path / "data").mkdir()
    frame = features()
    frame.iloc[:300].to_csv(tmp_path / "data" / "a.csv", index=False)
    frame.iloc[300:].to_parquet(tmp_path / "data" / "b.parquet", index=False)
    bad = frame.astype(object)
    bad.iloc[3, 0] = "abc"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    return tmp_path


def test_scores_files_and_globs_and_prints_one_summary_line(work: Path) -> None:
    done = conveyor(
        "score", "models/tiny", "data/*.csv", "data/b.parquet", "-o", "out.parquet", cwd=work
    )
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    assert done.stdout.endswith(" -> out.parquet\n")
    match = SUMMARY.match(done.stdout)
    assert match is not None, done.stdout
    assert match.groups() == ("569", "2")
    out = pd.read_parquet(work / "out.parquet")
    assert len(out) == 569
    assert {"prediction", "proba_0", "proba_1", "_source_file", "_row"} <= set(out.columns)


def test_keep_columns_and_chunk_rows(work: Path) -> None:
    conveyor(
        "score",
        "models/tiny",
        "data",
        "-o",
        "out.parquet",
        "--keep-columns",
        "mean radius, worst area",
        "--chunk-rows",
        "100",
        cwd=work,
    )
    out = pd.read_parquet(work / "out.parquet")
    assert list(out.columns[:3]) == ["mean radius", "worst area", "prediction"]


def test_bad_rows_fail_with_exit_2_and_write_nothing(work: Path) -> None:
    done = conveyor("score", "models/tiny", "bad.csv", "-o", "out.parquet", cwd=work, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith(
        "error: bad.csv: column 'mean radius': expected a number, got 'abc' (str) at row 3\n"
        "  fix: correct or remove those rows"
    )
    assert "Traceback" not in done.stderr
    assert not (work / "out.parquet").exists()


def test_bad_rows_skip_writes_the_rest_and_a_report(work: Path) -> None:
    done = conveyor(
        "score",
        "models/tiny",
        "bad.csv",
        "-o",
        "out.parquet",
        "--bad-rows",
        "skip",
        "--report",
        "reports/bad.json",
        cwd=work,
    )
    assert done.stdout.rstrip().endswith(
        "-> out.parquet; skipped 1 bad rows (report: reports/bad.json)"
    )
    report = json.loads((work / "reports" / "bad.json").read_text())
    assert report["samples"] == [
        {
            "file": "bad.csv",
            "row": 3,
            "column": "mean radius",
            "message": "expected a number, got 'abc' (str)",
        }
    ]
    assert len(pd.read_parquet(work / "out.parquet")) == 568


def test_a_deploy_directory_holding_bundle_is_a_model(work: Path) -> None:
    shutil.copytree(work / "models" / "tiny", work / "deploy" / "rest" / "bundle")
    done = conveyor("score", "deploy/rest", "data/a.csv", "-o", "out.parquet", cwd=work)
    assert SUMMARY.match(done.stdout)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["nope", "data/a.csv"], 4, "error: MODEL: 'nope' is not a directory, nor a registry"),
        (["models", "data/a.csv"], 4, "holds no model bundle (no manifest.json, nor bundle/"),
        (["models", "data/a.csv"], 4, "fix: did you mean 'models/tiny'?"),
        (["models/tiny", "data/x.csv"], 1, "error: "),
        (["models/tiny", "data/*.json"], 1, "error: "),
        (["models/tiny", "data/a.csv", "--report", "r.json"], 2, "--report describes skipped"),
        (["models/tiny", "data/a.csv", "--chunk-rows", "0"], 2, "expected a whole number of at"),
    ],
)
def test_errors_exit_with_their_code_and_no_traceback(
    work: Path, args: list[str], code: int, message: str
) -> None:
    done = conveyor("score", *args, "-o", "out.parquet", cwd=work, check=False)
    assert done.returncode == code
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (work / "out.parquet").exists()


@pytest.mark.slow
def test_scores_with_the_model_a_registry_stage_holds(reproduced_project: Path) -> None:
    project = reproduced_project
    dvc("repro", "-q", cwd=project)
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", "model", cwd=project)
    conveyor("registry", "register", "diagnostics", cwd=project)
    conveyor(
        "registry",
        "promote",
        "diagnostics",
        "v1.0.0",
        "--to",
        "prod",
        "--force",
        "-m",
        "test",
        cwd=project,
    )
    shutil.rmtree(project / "models")  # the bundle comes from the DVC cache, not the workspace
    done = conveyor(
        "score",
        "diagnostics#prod",
        "data/split/test.parquet",
        "-o",
        "p.parquet",
        "--keep-columns",
        "diagnosis",
        cwd=project,
    )
    assert SUMMARY.match(done.stdout)
    out = pd.read_parquet(project / "p.parquet")
    assert (out["prediction"] == out["diagnosis"]).mean() > 0.9
