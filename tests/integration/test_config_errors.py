"""Configuration mistakes, made the way users make them, through the real ``conveyor compile``.

Each case edits the default project's conf/ (or passes an override) and pins the whole message:
where (dotted path + conf file, ``file:line``, or ``override '...'``), what is wrong, and the fix.
Every case exits 2, prints no traceback, and leaves dvc.yaml and params.yaml byte-identical.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from tests.conftest import conveyor_in_process

if TYPE_CHECKING:
    from pathlib import Path

GENERATED = ("dvc.yaml", "params.yaml")
MODELS = "hist_gradient_boosting, logistic_regression, random_forest, xgboost"
SYNTAX = (
    "write overrides as key=value, group=option, +new.key=value, ~key (Hydra's override grammar)"
)


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` (exactly once) by ``new`` in ``file``; with no ``old``, overwrite it."""

    file: str
    old: str | None
    new: str

    def apply(self, root: Path) -> None:
        path = root / self.file
        if self.old is None:
            path.write_text(self.new)
            return
        text = path.read_text()
        assert text.count(self.old) == 1, f"{self.old!r} is not once in {self.file}"
        path.write_text(text.replace(self.old, self.new))


@dataclass(frozen=True)
class Problem:
    """One reported problem. In ``fix``, ``...`` stands for any text (a long list of options)."""

    where: str
    what: str
    fix: str | None

    def pattern(self, indent: str) -> str:
        line = re.escape(f"{indent}{self.where}: {self.what}") + "\n"
        if self.fix is None:
            return line
        fix = ".*".join(map(re.escape, self.fix.split("...")))
        return f"{line}{re.escape(indent)}  fix: {fix}\n"


@dataclass(frozen=True)
class Case:
    id: str
    problems: tuple[Problem, ...]
    edits: tuple[Edit, ...] = ()
    overrides: tuple[str, ...] = ()

    def expected_stderr(self) -> str:
        """The full stderr, as a regex: one problem like any error, several as a list."""
        if len(self.problems) == 1:
            return "error: " + self.problems[0].pattern("")
        head = re.escape(f"error: {len(self.problems)} problems in the configuration:") + "\n"
        return head + "".join(p.pattern("  ") for p in self.problems)


XGB = "conf/model/xgboost.yaml"
CONFIG = "conf/config.yaml"
DATA = "conf/data/breast_cancer.yaml"
EVALUATE = "conf/evaluate/classification.yaml"
SVC = "_target_: sklearn.svm.SVC\nparams:\n  C_: 1\n  probability: true\n"

CASES = [
    Case(
        "yaml-syntax-error",
        edits=(Edit(XGB, "max_depth: 4", "max_depth: [4"),),
        problems=(
            Problem(
                f"{XGB}:5",
                "invalid YAML: expected ',' or ']', but got ':' "
                "(while parsing a flow sequence that starts at line 4)",
                "fix the YAML syntax at that line or just above it "
                "(indentation, a tab, a missing ':', quote or bracket)",
            ),
        ),
    ),
    Case(
        "yaml-unclosed-quote",
        edits=(Edit(XGB, "max_depth: 4", 'max_depth: "4'),),
        problems=(
            Problem(
                f"{XGB}:9",
                "invalid YAML: found unexpected end of stream "
                "(while scanning a quoted scalar that starts at line 4)",
                "fix the YAML syntax at that line or just above it ...",
            ),
        ),
    ),
    Case(
        "unknown-group-option-override",
        overrides=("model=xgbost",),
        problems=(
            Problem(
                "override 'model=xgbost'",
                "config group 'model' has no option 'xgbost'",
                f"did you mean 'xgboost'? available options in 'model': {MODELS}",
            ),
        ),
    ),
    Case(
        "unknown-option-in-defaults-list",
        edits=(Edit(CONFIG, "model: xgboost", "model: xgbost"),),
        problems=(
            Problem(
                f"defaults.model ({CONFIG})",
                "config group 'model' has no option 'xgbost' (no conf/model/xgbost.yaml)",
                f"did you mean 'xgboost'? available options in 'model': {MODELS}",
            ),
        ),
    ),
    Case(
        "override-without-equals",
        overrides=("model.params.max_depth",),
        problems=(
            Problem(
                "override 'model.params.max_depth'",
                "cannot parse the override: missing '=' at the end",
                "did you mean 'model.params.max_depth=<value>'? "
                "(or '~model.params.max_depth' to delete the key)",
            ),
        ),
    ),
    Case(
        "override-bad-character",
        overrides=("model..params=3",),
        problems=(
            Problem(
                "override 'model..params=3'",
                "cannot parse the override: unexpected '.' at character 6",
                f"{SYNTAX}; quote values with spaces or brackets",
            ),
        ),
    ),
    Case(
        "override-of-missing-key",
        overrides=("model.params.max_dept=3",),
        problems=(
            Problem(
                "override 'model.params.max_dept=3'",
                "the composed config has no key 'model.params.max_dept'",
                "did you mean 'model.params.max_depth'? "
                "to add a new key write '+model.params.max_dept=3'",
            ),
        ),
    ),
    Case(
        "group-override-with-a-non-name",
        overrides=("model=3",),
        problems=(
            Problem(
                "override 'model=3'",
                "config group 'model' takes one option name, not '3'",
                f"write model=<option>; available options in 'model': {MODELS}",
            ),
        ),
    ),
    Case(
        "plus-on-a-chosen-group",
        overrides=("+model=random_forest",),
        problems=(
            Problem(
                "override '+model=random_forest'",
                f"config group 'model' already has an option in {CONFIG}",
                "to switch to another option write 'model=random_forest'",
            ),
        ),
    ),
    Case(
        "unknown-model-kind",
        edits=(Edit(XGB, "kind: xgboost", "kind: xgbost"),),
        problems=(
            Problem(
                f"model.kind ({XGB})",
                "unknown model 'xgbost'",
                f"did you mean 'xgboost'? available: {MODELS}",
            ),
        ),
    ),
    Case(
        "unknown-transform-kind",
        edits=(
            Edit("conf/features/standard.yaml", "kind: standard_scaler", "kind: standard_scalar"),
        ),
        problems=(
            Problem(
                "features.transforms.1.kind (conf/features/standard.yaml)",
                "unknown transform 'standard_scalar'",
                "did you mean 'standard_scaler'? available: ...standard_scaler...",
            ),
        ),
    ),
    Case(
        "estimator-param-typo",
        edits=(Edit(XGB, "max_depth: 4", "max_dept: 4"),),
        problems=(
            Problem(
                f"model.params.max_dept ({XGB})",
                "unknown parameter 'max_dept'",
                "did you mean 'max_depth'...? valid parameters: ...max_depth...",
            ),
        ),
    ),
    Case(
        "estimator-param-typo-after-group-override",
        edits=(Edit("conf/model/random_forest.yaml", "max_depth: 8", "max_dept: 8"),),
        overrides=("model=random_forest",),
        problems=(
            Problem(
                "model.params.max_dept (conf/model/random_forest.yaml)",
                "unknown parameter 'max_dept'",
                "did you mean 'max_depth'...? valid parameters: ...",
            ),
        ),
    ),
    Case(
        "wrong-type",
        edits=(Edit(XGB, "max_depth: 4", "max_depth: four"),),
        problems=(
            Problem(
                f"model.params.max_depth ({XGB})",
                "got 'four': input should be a valid integer, unable to parse string as an integer",
                "set 'max_depth' to an integer >= 0 and <= 1000, or null",
            ),
        ),
    ),
    Case(
        "wrong-type-in-override",
        overrides=("seed=abc",),
        problems=(
            Problem(
                "seed (override 'seed=abc')",
                "got 'abc': input should be a valid integer, unable to parse string as an integer",
                "set 'seed' to an integer >= 0 and <= 4294967295",
            ),
        ),
    ),
    Case(
        "value-out-of-range",
        edits=(Edit(XGB, "subsample: 0.9", "subsample: 2"),),
        problems=(
            Problem(
                f"model.params.subsample ({XGB})",
                "got 2: input should be less than or equal to 1",
                "set 'subsample' to a number > 0 and <= 1, or null",
            ),
        ),
    ),
    Case(
        "missing-required-key",
        edits=(Edit(DATA, "\ntarget: diagnosis\n", "\n"),),
        problems=(
            Problem(
                f"data.target ({DATA})",
                "required key 'target' is missing",
                f"add 'target: <value>' to {DATA}",
            ),
        ),
    ),
    Case(
        "required-section-deleted-by-override",
        overrides=("~model",),
        problems=(
            Problem(
                "model (override '~model')",
                "required key 'model' is missing",
                "drop the override '~model'",
            ),
        ),
    ),
    Case(
        "invalid-literal",
        overrides=("project.task=binary",),
        problems=(
            Problem(
                "project.task (override 'project.task=binary')",
                "'binary' is not a valid task",
                "choose one of: binary_classification, multiclass_classification, regression",
            ),
        ),
    ),
    Case(
        "target-param-checked-against-real-signature",
        edits=(Edit(XGB, None, SVC),),
        problems=(
            Problem(
                f"model.params.C_ ({XGB})",
                "sklearn.svm.SVC has no parameter 'C_'",
                "did you mean 'C'? valid parameters: C, kernel, ...probability...",
            ),
        ),
    ),
    Case(
        "target-module-does-not-exist",
        edits=(Edit(XGB, None, "_target_: sklearnx.svm.SVC\n"),),
        problems=(
            Problem(
                f"model._target_ ({XGB})",
                "cannot import 'sklearnx.svm' for _target_ 'sklearnx.svm.SVC': "
                "No module named 'sklearnx'",
                "check the spelling, install the package, or put your module at the project root",
            ),
        ),
    ),
    Case(
        "metric-does-not-fit-task",
        edits=(Edit(EVALUATE, "[roc_auc,", "[rmse, roc_auc,"),),
        problems=(
            Problem(
                f"evaluate.metrics.0 ({EVALUATE})",
                "metric 'rmse' does not support project.task 'binary_classification'",
                "choose a metric made for binary_classification; 'rmse' supports: regression",
            ),
        ),
    ),
    Case(
        "unknown-metric",
        edits=(Edit(EVALUATE, "[roc_auc,", "[roc_aux, roc_auc,"),),
        problems=(
            Problem(
                f"evaluate.metrics.0 ({EVALUATE})",
                "unknown metric 'roc_aux'",
                "did you mean 'roc_auc'...? available: accuracy, ...roc_auc",
            ),
        ),
    ),
    Case(
        "missing-value",
        edits=(Edit(XGB, "max_depth: 4", "max_depth: ???"),),
        problems=(
            Problem(
                f"model.params.max_depth ({XGB})",
                "required value is missing ('???')",
                f"set it in {XGB}, or on the command line: model.params.max_depth=<value>",
            ),
        ),
    ),
    Case(
        "group-option-left-missing",
        edits=(Edit(CONFIG, "model: xgboost", "model: ???"),),
        problems=(
            Problem(
                f"defaults.model ({CONFIG})",
                "config group 'model' has no option chosen ('???')",
                "choose one in the defaults list or on the command line (model=<option>); "
                f"available options in 'model': {MODELS}",
            ),
        ),
    ),
    Case(
        "unknown-top-level-key",
        edits=(Edit(CONFIG, "seed: 42\n", "seed: 42\nmodle:\n  kind: xgboost\n"),),
        problems=(
            Problem(
                f"modle ({CONFIG})",
                "unknown key 'modle'",
                "did you mean 'model'? valid keys: card, data, deploy, evaluate, executor, "
                "features, model, monitor, project, seed, tracking",
            ),
        ),
    ),
    Case(
        "several-mistakes-at-once",
        edits=(
            Edit(XGB, "max_depth: 4", "max_dept: 4"),
            Edit(XGB, "subsample: 0.9", "subsample: 2"),
            Edit(DATA, "\ntarget: diagnosis\n", "\n"),
            Edit(EVALUATE, "[roc_auc,", "[roc_aux, roc_auc,"),
        ),
        overrides=("project.task=binary",),
        problems=(
            Problem(
                "project.task (override 'project.task=binary')",
                "'binary' is not a valid task",
                "choose one of: binary_classification, multiclass_classification, regression",
            ),
            Problem(
                f"data.target ({DATA})",
                "required key 'target' is missing",
                f"add 'target: <value>' to {DATA}",
            ),
            Problem(
                f"model.params.subsample ({XGB})",
                "got 2: input should be less than or equal to 1",
                "set 'subsample' to a number > 0 and <= 1, or null",
            ),
            Problem(
                f"model.params.max_dept ({XGB})",
                "unknown parameter 'max_dept'",
                "did you mean 'max_depth'...? valid parameters: ...",
            ),
            Problem(
                f"evaluate.metrics.0 ({EVALUATE})",
                "unknown metric 'roc_aux'",
                "did you mean 'roc_auc'...? available: ...",
            ),
        ),
    ),
    Case(
        "time-split-without-a-time-column",
        edits=(Edit(DATA, "strategy: stratified", "strategy: time"),),
        problems=(
            Problem(
                f"data.split ({DATA})",
                "'time_column' is required by strategy 'time' and used by no other",
                None,
            ),
        ),
    ),
    Case(
        "join-with-a-bare-on-key",
        edits=(
            Edit(
                DATA,
                "      target: diagnosis\n",
                "      target: diagnosis\n  wine: {kind: sklearn_dataset, params: {name: wine}}\n",
            ),
            Edit(
                DATA,
                "target: diagnosis\nsplit",
                "combine:\n  base: breast_cancer\n  join:\n    - {source: wine, on: id}\n"
                "target: diagnosis\nsplit",
            ),
        ),
        problems=(
            Problem(
                f"data.combine.join.0.keys ({DATA})",
                "required key 'keys' is missing",
                f"add 'keys: <value>' to {DATA}",
            ),
            Problem(
                f"data.combine.join.0 ({DATA})",
                "a key reads as True, not a name (YAML 1.1 reads a bare on/off/yes/no as a "
                "boolean)",
                "quote the key ('on': ...) or use the key the docs name (a join's columns are "
                "'keys', not 'on')",
            ),
        ),
    ),
    Case(
        "several-bad-overrides-at-once",
        overrides=("a b=3", "model=3", "seed=1"),
        problems=(
            Problem(
                "override 'a b=3'",
                "cannot parse the override: unexpected ' ' at character 2",
                f"{SYNTAX}; quote values with spaces or brackets",
            ),
            Problem(
                "override 'model=3'",
                "config group 'model' takes one option name, not '3'",
                f"write model=<option>; available options in 'model': {MODELS}",
            ),
        ),
    ),
]


def _generated(root: Path) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in GENERATED}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_config_mistake_is_located_and_fixable(project: Path, case: Case) -> None:
    before = _generated(project)
    for edit in case.edits:
        edit.apply(project)
    done = conveyor_in_process("compile", *case.overrides, cwd=project, check=False)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert re.fullmatch(case.expected_stderr(), done.stderr, flags=re.DOTALL), done.stderr
    assert _generated(project) == before


def test_there_are_enough_distinct_mistakes() -> None:
    assert len({c.id for c in CASES}) == len(CASES) >= 14


@pytest.mark.parametrize(
    ("args", "env"),
    [(("compile", "model=xgbost"), "1"), (("-v", "compile", "model=xgbost"), None)],
    ids=["CONVEYOR_FULL_ERROR", "-v"],
)
def test_full_error_shows_the_traceback(
    project: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], env: str | None
) -> None:
    if env is not None:
        monkeypatch.setenv("CONVEYOR_FULL_ERROR", env)
    done = conveyor_in_process(*args, cwd=project, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("Traceback (most recent call last):")
    assert "hydra.errors.MissingConfigException" in done.stderr  # the chained cause is kept
    assert done.stderr.endswith(
        "error: override 'model=xgbost': config group 'model' has no option 'xgbost'\n"
        f"  fix: did you mean 'xgboost'? available options in 'model': {MODELS}\n"
    )


def test_without_full_error_there_is_no_traceback(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVEYOR_FULL_ERROR", "0")
    done = conveyor_in_process("compile", "model=xgbost", cwd=project, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("error: override 'model=xgbost'")
    assert "Traceback" not in done.stderr
