"""Compile stays bounded: alias bombs, huge or deep conf files, many keys, absurd parameters.

Each hostile config runs through the real ``conveyor compile`` in a real git + DVC project. A
config that would expand without its bound (an alias bomb, a huge or deep file) compiles in a
subprocess, whose timeout stands guard against a hang; the others compile in this process
(``conveyor_in_process``: the same ``main``, exit codes and messages). No test asserts a time:
the bounds are counted (nodes, aliases, bytes, depth, dict scans), and each is tested exactly
at the limit (accepted) and one past it (refused with a located error and a fix).
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from conveyor.components import models
from conveyor.components.transforms.categorical import TargetEncodingParams
from conveyor.config import limits, sweep
from conveyor.config.provenance import Origin, Provenance
from conveyor.config.sweep import grid, load_space_file, parse_space
from conveyor.errors import SpecError, SweepError
from tests.conftest import VENV_BIN, conveyor_in_process

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

HANG = 120  # seconds: far longer than any of these compiles takes when it is bounded


def _compile(root: Path, *args: str, isolated: bool = True) -> subprocess.CompletedProcess[str]:
    """``conveyor compile``: in a subprocess with a timeout, or (not ``isolated``) in process."""
    if not isolated:
        return conveyor_in_process("compile", *args, cwd=root, check=False)
    return subprocess.run(
        [str(VENV_BIN / "conveyor"), "compile", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=HANG,
        check=False,
    )


def _refused(root: Path, *args: str, isolated: bool = True) -> str:
    """Compile, expect exit 2 with a plain error (no traceback), and nothing rewritten."""
    before = {name: (root / name).read_bytes() for name in ("dvc.yaml", "params.yaml")}
    done = _compile(root, *args, isolated=isolated)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: "), done.stderr
    assert {name: (root / name).read_bytes() for name in before} == before
    return done.stderr


# --- YAML alias bombs and file bounds -------------------------------------------------------

BILLION_LAUGHS = "lol:\n  a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)
)


def test_an_alias_bomb_is_refused_at_its_file_and_line_before_it_expands(project: Path) -> None:
    xgb = project / "conf" / "model" / "xgboost.yaml"
    xgb.write_text(xgb.read_text() + BILLION_LAUGHS)  # 387,420,489 nodes once expanded
    error = _refused(project)
    first_line = len(xgb.read_text().splitlines()) - 9 + 1  # where the limit is crossed
    assert "conf/model/xgboost.yaml:" in error
    line = int(error.split("conf/model/xgboost.yaml:")[1].split(":")[0])
    assert first_line <= line <= first_line + 9
    assert "aliases expand to more than 10,000 nodes" in error
    assert "fix: " in error


def test_a_recursive_alias_is_refused(project: Path) -> None:
    xgb = project / "conf" / "model" / "xgboost.yaml"
    xgb.write_text(xgb.read_text() + "loop: &loop [1, *loop]\n")
    error = _refused(project)
    lines = len(xgb.read_text().splitlines())
    assert f"conf/model/xgboost.yaml:{lines}: alias '*loop' is inside the node it names" in error


def _schema_with_aliases(columns: int, last: str = "") -> str:
    """A data option whose schema columns share one anchored list of 99 allowed codes.

    The anchored list is 100 nodes (the list and its items), so each alias adds 100.
    """
    codes = ", ".join(str(i) for i in range(99))
    body = "".join(f"    c{i}: {{dtype: int, allowed: *codes}}\n" for i in range(columns))
    return (
        "sources:\n  breast_cancer:\n    kind: sklearn_dataset\n"
        "    params: {name: breast_cancer, target: diagnosis}\n"
        "target: diagnosis\n"
        "schema:\n  extra_columns: allow\n  columns:\n"
        f"    diagnosis: {{dtype: int, allowed: &codes [{codes}]}}\n{body}{last}"
    )


def test_aliases_up_to_the_limit_compile_and_one_node_more_is_refused(project: Path) -> None:
    data = project / "conf" / "data" / "breast_cancer.yaml"
    assert limits.MAX_ALIAS_NODES == 100 * 100
    data.write_text(_schema_with_aliases(100))  # exactly 10,000 nodes through aliases
    done = _compile(project)
    assert done.returncode == 0, done.stderr
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["data"]["schema"]["columns"]["c99"]["allowed"] == list(range(99))

    one_more = "    last: {dtype: int, min: &zero 0, max: *zero}\n"  # an alias of one scalar
    data.write_text(_schema_with_aliases(100, one_more))
    error = _refused(project)
    lines = len(data.read_text().splitlines())
    assert f"conf/data/breast_cancer.yaml:{lines}: aliases expand to more than 10,000" in error


def test_a_file_past_the_size_limit_is_refused(project: Path) -> None:
    xgb = project / "conf" / "model" / "xgboost.yaml"
    text = xgb.read_text()
    xgb.write_text(text + "#" * (limits.MAX_FILE_BYTES + 1 - len(text.encode()) - 1) + "\n")
    assert xgb.stat().st_size == limits.MAX_FILE_BYTES + 1
    error = _refused(project)
    assert "conf/model/xgboost.yaml: the file is 4,194,305 bytes" in error
    assert "at most 4,194,304" in error


def test_a_file_nested_past_the_depth_limit_is_refused(project: Path) -> None:
    xgb = project / "conf" / "model" / "xgboost.yaml"
    text = xgb.read_text()
    xgb.write_text(text + "deep: " + "[" * limits.MAX_DEPTH + "]" * limits.MAX_DEPTH)
    error = _refused(project)  # 'deep:' sits in the file's mapping: one level more
    line = len(text.splitlines()) + 1
    assert f"conf/model/xgboost.yaml:{line}: mappings and lists nest more than 50 levels" in error


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conf.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("#" * (limits.MAX_FILE_BYTES - 1) + "\n", None),
        ("#" * limits.MAX_FILE_BYTES + "\n", "the file is 4,194,305 bytes"),
        ("[" * limits.MAX_DEPTH + "]" * limits.MAX_DEPTH, None),
        ("[" * (limits.MAX_DEPTH + 1) + "]" * (limits.MAX_DEPTH + 1), "more than 50 levels"),
        # a list of N - 1 scalars is N nodes
        ("[" + "1," * (limits.MAX_NODES - 1) + "]", None),
        ("[" + "1," * limits.MAX_NODES + "]", "more than 200,000 keys and values"),
        ("a: &a [1, 2]\nb: [*a, *a]\n", None),
        ("a: &a [1, 2]\nb: [*a, *b]\n", None),  # an undefined alias is Hydra's to report
        ("a: [1, 2\n", None),  # a syntax error is Hydra's to report, located
    ],
)
def test_each_file_bound_accepts_its_limit_and_refuses_one_more(
    tmp_path: Path, text: str, message: str | None
) -> None:
    path = _write(tmp_path, text)
    if message is None:
        limits.check_conf_file(path)
    else:
        with pytest.raises(SpecError, match=message):
            limits.check_conf_file(path)


# --- many keys: provenance is linear -----------------------------------------------------------


class _CountingDict(dict[str, Origin]):
    """An origins dict that counts the entries every full scan visits, and stops a runaway."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.visited = 0
        self.budget = budget

    def __iter__(self) -> Iterator[str]:
        for key in super().__iter__():
            self.visited += 1
            if self.visited > self.budget:
                raise AssertionError("provenance scans every recorded key per write")
            yield key


def test_provenance_records_many_keys_without_rescanning_them(tmp_path: Path) -> None:
    keys = 20_000
    columns = "".join(f"  c{i}: {{dtype: float, min: {i}}}\n" for i in range(keys))
    first = yaml.compose(f"columns:\n{columns}", Loader=yaml.CSafeLoader)
    second = yaml.compose("columns:\n  c7: {dtype: int}\n", Loader=yaml.CSafeLoader)
    provenance = Provenance(origins=_CountingDict(budget=keys))
    provenance.record(first, "schema", "conf/a.yaml")
    provenance.record(first, "schema", "conf/a.yaml")  # a second writer of every key
    assert provenance.origin("schema.columns.c12345.min") == Origin("conf/a.yaml", 12347)
    provenance._set("schema.columns.c7", Origin("conf/b.yaml", 2))  # replaces a whole subtree
    provenance.record(second.value[0][1], "schema.columns", "conf/b.yaml")
    assert "schema.columns.c7.min" not in provenance.origins
    assert provenance.origin("schema.columns.c7.min") == Origin("conf/b.yaml", 2)
    assert provenance.origin("schema.columns.c7.dtype") == Origin("conf/b.yaml", 2)
    assert provenance.origin("schema.columns.c8.min") == Origin("conf/a.yaml", 10)
    assert len(provenance.origins) == 1 + 1 + keys * 3 - 1  # schema, columns, cN + 2 leaves


def test_a_wide_schema_compiles_and_an_error_in_it_names_its_file(project: Path) -> None:
    columns = 3_000
    data = project / "conf" / "data" / "breast_cancer.yaml"
    text = data.read_text()
    wide = "".join(f"    w{i}: {{dtype: float, min: 0}}\n" for i in range(columns))
    typo = wide.replace("w2999: {dtype: float", "w2999: {dtype: flot")
    data.write_text(text.replace("  extra_columns:", f"{typo}  extra_columns:"))
    error = _refused(project, isolated=False)
    assert "data.schema.columns.w2999.dtype (conf/data/breast_cancer.yaml): 'flot'" in error
    data.write_text(text.replace("  extra_columns:", f"{wide}  extra_columns:"))
    done = _compile(project, isolated=False)
    assert done.returncode == 0, done.stderr
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert len(params["data"]["schema"]["columns"]) == 31 + columns


# --- numeric parameters: a sane upper bound, located -------------------------------------------


def test_n_estimators_at_the_limit_compiles_and_past_it_is_refused(project: Path) -> None:
    xgb = project / "conf" / "model" / "xgboost.yaml"
    text = xgb.read_text()
    assert text.count("n_estimators: 40") == 1
    xgb.write_text(text.replace("n_estimators: 40", "n_estimators: 100000"))
    done = _compile(project, isolated=False)
    assert done.returncode == 0, done.stderr
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["model"]["params"]["n_estimators"] == 100_000
    for value in ("100001", "1e15"):  # 1e15 is a float that pydantic took as an integer
        xgb.write_text(text.replace("n_estimators: 40", f"n_estimators: {value}"))
        error = _refused(project, isolated=False)
        assert "error: model.params.n_estimators (conf/model/xgboost.yaml): got " in error
        assert "less than or equal to 100000" in error
        assert "fix: set 'n_estimators' to an integer >= 1 and <= 100000, or null" in error


XGB, RF = models.XGBoostParams, models.RandomForestClassifierParams
RFR = models.RandomForestRegressorParams
HGB, LR = models.HistGradientBoostingClassifierParams, models.LogisticRegressionParams
INT32, SEED = 2**31 - 1, 2**32 - 1


@pytest.mark.parametrize(
    ("model", "at_limit", "past_limit"),
    [
        (XGB, {"n_estimators": 100_000}, {"n_estimators": 100_001}),
        (XGB, {"max_depth": 1_000}, {"max_depth": 1_001}),
        (XGB, {"max_leaves": INT32}, {"max_leaves": INT32 + 1}),
        (XGB, {"max_bin": 65_536}, {"max_bin": 65_537}),
        (XGB, {"n_jobs": 4_096}, {"n_jobs": 4_097}),
        (XGB, {"n_jobs": -4_096}, {"n_jobs": -4_097}),
        (XGB, {"random_state": SEED}, {"random_state": SEED + 1}),
        (XGB, {"max_cat_to_onehot": INT32}, {"max_cat_to_onehot": INT32 + 1}),
        (XGB, {"num_parallel_tree": 1_000}, {"num_parallel_tree": 1_001}),  # x 100 trees
        (
            XGB,
            {"n_estimators": 1_000, "num_parallel_tree": 100},
            {"n_estimators": 1_001, "num_parallel_tree": 100},
        ),
        (RF, {"n_estimators": 100_000}, {"n_estimators": 100_001}),
        (RF, {"max_depth": 1_000}, {"max_depth": 1_001}),
        (RF, {"min_samples_split": INT32}, {"min_samples_split": INT32 + 1}),
        (RF, {"min_samples_split": 1.0}, {"min_samples_split": 1.5}),
        (RF, {"max_features": 1.0}, {"max_features": 1.5}),
        (RF, {"max_samples": 1.0}, {"max_samples": 1e15 + 0.5}),
        (RF, {"max_leaf_nodes": INT32}, {"max_leaf_nodes": INT32 + 1}),
        (RF, {"random_state": SEED}, {"random_state": SEED + 1}),
        (RF, {"n_jobs": -1}, {"n_jobs": 10**6}),
        (RFR, {"max_features": 1.0}, {"max_features": 1e29}),
        (HGB, {"max_iter": 100_000}, {"max_iter": 100_001}),
        (HGB, {"max_depth": 1_000}, {"max_depth": 1_001}),
        (HGB, {"min_samples_leaf": INT32}, {"min_samples_leaf": INT32 + 1}),
        (HGB, {"validation_fraction": 0.5}, {"validation_fraction": 1.5}),
        (HGB, {"random_state": SEED}, {"random_state": SEED + 1}),
        (LR, {"max_iter": 100_000}, {"max_iter": 100_001}),
        (LR, {"random_state": SEED}, {"random_state": SEED + 1}),
        (LR, {"n_jobs": 4_096}, {"n_jobs": 4_097}),
        (TargetEncodingParams, {"random_state": SEED}, {"random_state": SEED + 1}),
    ],
)
def test_each_numeric_bound_accepts_its_limit_and_refuses_past_it(
    model: type[BaseModel], at_limit: dict[str, Any], past_limit: dict[str, Any]
) -> None:
    model.model_validate(at_limit)
    with pytest.raises(ValidationError, match=r"less than|greater than|trees; at most"):
        model.model_validate(past_limit)


# --- sweeps: a bounded number of trials ---------------------------------------------------------


def test_a_grid_at_the_trial_limit_is_planned_and_one_more_is_refused(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    at_limit = parse_space(tmp_path / "conf", ["a=range(0,100)", "b=range(0,100)"])
    assert len(grid(at_limit)) == sweep.MAX_TRIALS == 10_000
    past = parse_space(tmp_path / "conf", ["a=range(0,100)", "b=range(0,100)", "c=1,2"])
    with pytest.raises(SweepError, match="the grid has 20,000 trials; a sweep runs at most"):
        grid(past)
    huge = ["a=range(0,1000)", "b=range(0,1000)", "c=range(0,1000)", "d=range(0,1000)"]
    with pytest.raises(SweepError, match="the grid has 1,000,000,000,000 trials"):
        grid(parse_space(tmp_path / "conf", huge))  # planned without building the product


@pytest.mark.parametrize(
    ("text", "values"),
    [("a=range(0,10000)", 10_000), ("a=range(0,0.5,0.0001)", 5_000)],
)
def test_a_range_at_the_limit_is_a_dimension(tmp_path: Path, text: str, values: int) -> None:
    (dimension,) = parse_space(tmp_path, [text])
    assert len(dimension.values) == values


@pytest.mark.parametrize("text", ["a=range(0,10001)", "a=range(0,10**12)", "a=range(0,2,0.0001)"])
def test_a_range_past_the_limit_is_refused_without_listing_it(tmp_path: Path, text: str) -> None:
    if "**" in text:
        text = text.replace("10**12", str(10**12))
    with pytest.raises(SweepError, match="the range has more than 10,000 values"):
        parse_space(tmp_path, [text])


def test_a_space_file_asking_for_too_many_trials_is_refused(project: Path) -> None:
    space = project / "conf" / "sweep" / "huge.yaml"
    space.write_text("optimizer: optuna\ntrials: 10001\nparams:\n  seed: range(0,3)\n")
    with pytest.raises(SweepError, match="'trials' asks for 10,001 trials"):
        load_space_file(project, "huge")
    space.write_text("optimizer: optuna\ntrials: 10000\nparams:\n  seed: range(0,3)\n")
    assert load_space_file(project, "huge").trials == 10_000


def test_a_target_estimator_gets_the_same_bound_on_trees_and_iterations(project: Path) -> None:
    xgb = project / "conf" / "model" / "xgboost.yaml"
    target = "_target_: sklearn.ensemble.ExtraTreesClassifier\nparams:\n  n_estimators: {}\n"
    xgb.write_text(target.format(100_000))
    done = _compile(project, isolated=False)
    assert done.returncode == 0, done.stderr
    xgb.write_text(target.format(100_001))
    error = _refused(project, isolated=False)
    where = "model.params.n_estimators (conf/model/xgboost.yaml)"
    assert f"{where}: got 100001: at most 100,000" in error
    assert "fix: " in error
