"""``DeployTargetContract``: the suite every ``conveyor.targets`` component passes."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from conveyor._paths import BLESSING_FILE, PARAMS_FILE, model_dir
from conveyor.plugins.base import DeployContext
from conveyor.testing._contract import ComponentContract
from conveyor.testing._data import task_data

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from conveyor.plugins import DeployTarget
    from conveyor.spec import Task

MODEL = "contract_model"
"""``project.name`` of the suite's project: the bundle is ``models/contract_model``."""
TARGET = "contract"
"""The target's name under ``deploy:`` when the suite runs it."""
ROWS_PARQUET = "data/rows.parquet"
ROWS_CSV = "data/rows.csv"
"""The bundle's feature rows, written into the project for targets that score a file."""

Snapshot = dict[str, bytes | None]
"""Project-relative POSIX path -> file bytes (``None`` for a directory)."""


@dataclass(frozen=True)
class Deployed:
    """One run of the target in a fresh project, with the tree before and after it."""

    target: DeployTarget[Any]
    ctx: DeployContext
    before: Snapshot
    after: Snapshot
    cwd: Path
    """The empty working directory of the run; relative paths must not land here."""

    def run_again(self) -> Snapshot:
        """Run the target once more on the same project; the tree afterwards."""
        with contextlib.chdir(self.cwd):
            self.target.run(self.ctx)
        return snapshot(self.ctx.root)


class DeployTargetContract(ComponentContract):
    """The suite of a ``conveyor.targets`` component.

    Subclass with ``component``, ``name`` and ``params``. The declaration checks need no run:
    ``outs``, ``reports`` and ``deps`` are normalised project-relative POSIX paths that stay in
    the project, do not overlap each other or the stage's inputs, and differ between two
    targets of one kind. The run checks build a project holding a tiny real bundle
    (``models/contract_model``), a blessed ``reports/blessing.json`` and the bundle's feature
    rows (``data/rows.parquet``, ``data/rows.csv``), then call ``run`` from an unrelated
    working directory: every declared output appears, nothing else in the project or the
    working directory changes, and a second run leaves byte-identical ``outs`` (DVC caches
    them). Set ``run_params`` when the run needs other params than ``params`` (a local
    endpoint, a dry run), ``run_tasks`` to run on fewer tasks than ``component.tasks``, and
    override ``populate`` to write more input files.
    """

    kind = "target"
    component: ClassVar[type[DeployTarget[Any]]]
    run_params: ClassVar[dict[str, Any] | None] = None
    """The params of the run checks; ``params`` when None."""
    run_tasks: ClassVar[tuple[Task, ...] | None] = None
    """The tasks whose bundles the target is run on; ``component.tasks`` when None."""

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Also run each run check once per ``run_tasks``; one deployment serves them all."""
        super().pytest_generate_tests(metafunc)
        if "run_task" in metafunc.fixturenames:
            tasks = self.run_tasks or self.component.tasks
            metafunc.parametrize("run_task", tasks, ids=str, scope="class")

    def populate(self, root: Path, rows: pd.DataFrame) -> None:
        """Write the files the target reads; by default ``rows`` as Parquet and CSV.

        ``rows`` are the bundle's feature columns (``x0``..``x3`` floats, ``segment`` strings).
        """
        for file in (ROWS_PARQUET, ROWS_CSV):
            (root / file).parent.mkdir(parents=True, exist_ok=True)
        rows.to_parquet(root / ROWS_PARQUET, index=False)
        rows.to_csv(root / ROWS_CSV, index=False)

    @pytest.fixture(scope="class")
    @classmethod
    def deployed(cls, run_task: Task, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
        """The target run once in a fresh project with a bundle for ``run_task``."""
        self = cls()  # pytest gives each test its own instance; this one only builds the run
        base = tmp_path_factory.mktemp(f"deploy-{run_task}")
        root, cwd = base / "project", base / "cwd"
        cwd.mkdir()
        rows = write_project(root, run_task)
        self.populate(root, rows)
        params = self.params if self.run_params is None else self.run_params
        target: DeployTarget[Any] = self.make(params=params)
        for path in (*target.outs(TARGET), *target.reports(TARGET), *target.deps()):
            check_project_path(path, "declared path")  # never run a target that writes elsewhere
        ctx = DeployContext(
            root=root,
            target=TARGET,
            model=MODEL,
            bundle_dir=root / model_dir(MODEL),
            blessing=json.loads((root / BLESSING_FILE).read_text(encoding="utf-8")),
            outs=tuple(root / out for out in target.outs(TARGET)),
            reports=tuple(root / report for report in target.reports(TARGET)),
        )
        before = snapshot(root)
        with contextlib.chdir(cwd):
            target.run(ctx)
        return Deployed(target, ctx, before, snapshot(root), cwd)

    def test_declares_project_outputs(self) -> None:
        """At least one output; each a clean project path that no input or output overlaps."""
        target: DeployTarget[Any] = self.make()
        outputs = [*target.outs(TARGET), *target.reports(TARGET)]
        assert outputs, "outs() and reports() are both empty: DVC cannot tell that it ran"
        for path in outputs:
            check_project_path(path, "output")
        inputs = [model_dir(MODEL), BLESSING_FILE, PARAMS_FILE, "dvc.yaml", *target.deps()]
        for i, path in enumerate(outputs):
            for other in [*outputs[i + 1 :], *inputs]:
                assert not overlap(path, other), (
                    f"output '{path}' overlaps '{other}'; DVC refuses overlapping outputs and "
                    "an output inside an input is a cycle"
                )

    def test_outputs_depend_on_the_target_name(self) -> None:
        """Two targets of this kind (``rest`` and ``rest_canary``) never share an output."""
        target: DeployTarget[Any] = self.make()
        first = [*target.outs("first"), *target.reports("first")]
        second = [*target.outs("second"), *target.reports("second")]
        clashes = [(a, b) for a in first for b in second if overlap(a, b)]
        assert not clashes, f"targets 'first' and 'second' both write {clashes}; use the name"

    def test_deps_are_project_paths(self) -> None:
        """``deps()`` become DVC dependencies: clean project-relative paths, not globs."""
        for path in self.make().deps():
            check_project_path(path, "dependency")

    def test_deps_exist_before_the_run(self, deployed: Deployed) -> None:
        """Every dependency is in the project the run starts from (DVC checks it first)."""
        missing = [dep for dep in deployed.target.deps() if dep not in deployed.before]
        assert not missing, (
            f"deps {missing} are not in the project; override populate() to write them"
        )

    def test_run_writes_every_declared_output(self, deployed: Deployed) -> None:
        """Each of ``outs`` and ``reports`` exists after the run."""
        root = deployed.ctx.root
        missing = [
            path.relative_to(root).as_posix()
            for path in (*deployed.ctx.outs, *deployed.ctx.reports)
            if path.relative_to(root).as_posix() not in deployed.after
        ]
        assert not missing, f"run did not write the declared outputs {missing}"

    def test_run_writes_nothing_else(self, deployed: Deployed) -> None:
        """No file outside the outputs changes; the working directory stays empty."""
        declared = declared_outputs(deployed.ctx)
        changed = sorted(
            path
            for path in deployed.before.keys() | deployed.after.keys()
            if deployed.before.get(path, b"missing") != deployed.after.get(path, b"missing")
            and not any(
                inside(path, out) or (inside(out, path) and deployed.after.get(path, b"") is None)
                for out in declared
            )
        )
        assert not changed, (
            f"run changed {changed}, which it did not declare (declared: {declared}); "
            "leftover temporary files count too"
        )
        stray = sorted(p.name for p in deployed.cwd.iterdir())
        assert not stray, (
            f"run wrote {stray} into the working directory; resolve paths against ctx.root"
        )

    def test_rerun_gives_the_same_outputs(self, deployed: Deployed) -> None:
        """Run over its own outputs: ``outs`` byte for byte, the same report files, no leftovers.

        Reports (kept in git) may differ in content, e.g. a timing.
        """
        again = deployed.run_again()
        outs = [path.relative_to(deployed.ctx.root).as_posix() for path in deployed.ctx.outs]
        first = {p: v for p, v in deployed.after.items() if any(inside(p, o) for o in outs)}
        second = {p: v for p, v in again.items() if any(inside(p, o) for o in outs)}
        assert sorted(second) == sorted(first), "a second run wrote other files in its outs"
        differ = sorted(p for p in first if first[p] != second[p])
        assert not differ, f"a second run changed {differ}; DVC would cache a new version"
        assert sorted(again) == sorted(deployed.after), (
            "a second run changed which files the project holds: "
            f"{sorted(again.keys() ^ deployed.after.keys())}"
        )


def write_project(root: Path, task: Task) -> pd.DataFrame:
    """A project after ``gate``: a tiny real bundle and a blessing; returns its feature rows."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from conveyor.bundle import infer_schema, save_bundle
    from conveyor.registry.gate import bless
    from conveyor.spec import is_classification
    from conveyor.spec.gate import MetricGateSpec

    x, y = task_data(task)
    segments = ["north", "south", "east"]
    x["segment"] = pd.array([segments[i % 3] for i in range(len(x))], dtype="str")
    features = ColumnTransformer(
        [
            ("0_standard_scaler", StandardScaler(), ["x0", "x1", "x2", "x3"]),
            ("1_one_hot", OneHotEncoder(sparse_output=False), ["segment"]),
        ],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    classify = is_classification(task)
    # Estimators of built-in models: a bundle loads only with types installed models declare.
    model = (
        LogisticRegression(max_iter=500)
        if classify
        else RandomForestRegressor(n_estimators=5, random_state=0)
    )
    pipeline = Pipeline([("features", features), ("model", model)]).fit(x, y)
    classes = [f"class_{i}" for i in sorted(set(y.tolist()))] if classify else None
    schema = {"task": task, "target": "y", "classes": classes, "columns": infer_schema(x)}
    save_bundle(root / model_dir(MODEL), pipeline, schema, {"name": MODEL})
    blessing = bless(MODEL, {"score": 1.0}, {"score": MetricGateSpec(min=0.5)}, {"score": True})
    (root / BLESSING_FILE).parent.mkdir(parents=True, exist_ok=True)
    (root / BLESSING_FILE).write_text(
        json.dumps(blessing.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    return x


def snapshot(root: Path) -> Snapshot:
    """Every file (with its bytes) and directory under ``root``."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes() if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


def declared_outputs(ctx: DeployContext) -> list[str]:
    """The context's ``outs`` and ``reports``, project-relative."""
    return [path.relative_to(ctx.root).as_posix() for path in (*ctx.outs, *ctx.reports)]


def check_project_path(path: object, what: str) -> None:
    """Assert ``path`` is a normalised relative POSIX path inside the project, not a glob."""
    assert isinstance(path, str), f"{what} {path!r} is not a str"
    for flavour in (PurePosixPath, PureWindowsPath):
        assert not flavour(path).is_absolute(), f"{what} '{path}' is absolute"
    assert "\\" not in path, f"{what} '{path}' uses backslashes; DVC paths are POSIX"
    parts = PurePosixPath(path).parts
    assert parts, f"{what} '{path}' is the project root"
    assert ".." not in parts, f"{what} '{path}' leaves the project"
    assert PurePosixPath(path).as_posix() == path, (
        f"{what} '{path}' is not normalised; write '{PurePosixPath(path).as_posix()}'"
    )
    assert not set(path) & set("*?["), f"{what} '{path}' is a glob; DVC needs a real path"


def inside(path: str, parent: str) -> bool:
    """Whether ``path`` is ``parent`` or below it."""
    return path == parent or path.startswith(f"{parent}/")


def overlap(first: str, second: str) -> bool:
    """Whether one of the paths is the other or below it."""
    return inside(first, second) or inside(second, first)
