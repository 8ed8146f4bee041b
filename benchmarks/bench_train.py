"""``conveyor run train`` vs a hand-written script doing the same fit. Goal: ratio <= 1.10.

Setup, in a temporary copy of the project: ``git init``, ``dvc init`` with the repo's
``.dvc/config``, then ``dvc repro split`` (scikit-learn's bundled breast-cancer data, no
download) so that ``data/split/train.parquet`` exists. Both commands then run as whole
subprocesses (imports included) on that parquet file. The baseline builds the Pipeline that
``conveyor.runtime.estimator`` builds, fits it and saves it with ``skops.io.dump``; afterwards
both saved pipelines must predict the same probabilities on the test split.

    .venv/bin/python benchmarks/bench_train.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from typing import TYPE_CHECKING, Any

import yaml
from _timing import (
    REPO,
    VENV_BIN,
    Command,
    bench_env,
    compare,
    measure,
    project_copy,
    run_checked,
    verdict,
    write_result,
)

if TYPE_CHECKING:
    from pathlib import Path

NAME = "bench_train"
GOAL_RATIO = 1.10
BASELINE = """\
from pathlib import Path

import pandas as pd
import skops.io as sio
import yaml
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler
from xgboost import XGBClassifier

params = yaml.safe_load(Path("params.yaml").read_text())
target = params["data"]["target"]
frame = pd.read_parquet("data/split/train.parquet")
x = frame.drop(columns=[target])
y = LabelEncoder().fit_transform(frame[target])


def numeric(name, transformer):
    step = ColumnTransformer(
        [(name, transformer, make_column_selector(dtype_include="number"))],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    return name, step


model = XGBClassifier(**params["model"]["params"], random_state=params["seed"])
pipeline = Pipeline(
    [
        numeric("0_impute", SimpleImputer(strategy="median")),
        numeric("1_standard_scaler", StandardScaler()),
        ("model", model),
    ]
).fit(x, y)
Path("baseline").mkdir(exist_ok=True)
sio.dump(pipeline, "baseline/pipeline.skops")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    if not (REPO / ".dvc" / "config").is_file():
        sys.exit(f"{REPO} has no .dvc/config: run this from a conveyor project with DVC set up")

    env = bench_env()
    commands = [
        Command("conveyor run train", [str(VENV_BIN / "conveyor"), "run", "train"]),
        Command("hand-written fit", [sys.executable, "baseline_train.py"]),
    ]
    with project_copy("train", ".dvcignore") as project:
        print(f"{NAME}: setting up {project} (git init, dvc init, dvc repro split)")
        set_up(project, env)
        print(f"{NAME}: {args.repeats} interleaved rounds")
        timings = measure(commands, cwd=project, env=env, repeats=args.repeats)
        difference = max_probability_difference(project)

    summary = compare(*timings)
    print(f"max |predict_proba difference| on the test split: {difference:.2e}")
    met = verdict("ratio of medians", summary["ratio_median"], GOAL_RATIO)
    write_result(
        NAME,
        {
            "goal": f"median(conveyor run train) / median(hand-written fit) <= {GOAL_RATIO}",
            "goal_met": met,
            "repeats": args.repeats,
            **summary,
            "max_probability_difference": difference,
        },
    )
    return 0


def set_up(project: Path, env: dict[str, str]) -> None:
    """Make the copy a DVC repo with the repo's DVC config, then produce the training split."""
    run_checked(["git", "init", "-q"], project, env)
    run_checked([str(VENV_BIN / "dvc"), "init", "-q"], project, env)
    shutil.copy2(REPO / ".dvc" / "config", project / ".dvc" / "config")
    run_checked([str(VENV_BIN / "dvc"), "repro", "split"], project, env)
    (project / "baseline_train.py").write_text(BASELINE, encoding="utf-8")


def max_probability_difference(project: Path) -> float:
    """Largest gap between the two saved pipelines' probabilities on the test split."""
    import pandas as pd
    import skops.io as sio

    params: dict[str, Any] = yaml.safe_load((project / "params.yaml").read_text())
    test = pd.read_parquet(project / "data" / "split" / "test.parquet")
    x = test.drop(columns=[params["data"]["target"]])
    files = [
        project / "models" / params["project"]["name"] / "pipeline.skops",
        project / "baseline" / "pipeline.skops",
    ]
    # Both files were written by this run, in its own temporary directory.
    conveyor, baseline = (sio.load(f, trusted=sio.get_untrusted_types(file=f)) for f in files)
    return float(abs(conveyor.predict_proba(x) - baseline.predict_proba(x)).max())


if __name__ == "__main__":
    sys.exit(main())
