"""``conveyor adopt EXP``: turn any DVC experiment into conf/ edits, for review.

DVC records an experiment's ``dvc exp run -S ...`` overrides only in the params.yaml it
composed, so conveyor reads that file from the experiment's commit, infers the overrides that
turn conf/ into it (:mod:`conveyor.experiments.infer`; checked by composing before anything
changes), runs ``dvc exp apply`` (which checks out the experiment's outputs, so ``dvc status``
is clean), writes each override where it belongs (:mod:`conveyor.config.edit`: group options in
the defaults list, values on the lines that set them, comments kept), recompiles, and requires
``compile --check`` to pass. ``conveyor sweep --apply`` is this, for a sweep's trial.

EXP is resolved as ``dvc exp apply`` resolves it: a git revision (a sha) first, else an
experiment name, the one whose baseline is HEAD when several share the name.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor import _atomic, _git
from conveyor.config import CONFIG_DIR
from conveyor.config.edit import set_group_option, set_value
from conveyor.errors import ExperimentError
from conveyor.experiments import _dvc
from conveyor.experiments.infer import infer_overrides

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from conveyor.compiler import Stage

PARAMS = "params.yaml"
GENERATED = ("dvc.yaml", PARAMS)


@dataclass(frozen=True)
class Experiment:
    """A finished DVC experiment: its name, commit, and the commit it was run from."""

    name: str
    commit: str
    baseline: str


@dataclass
class Adopted:
    """What ``adopt`` did: the overrides it wrote into conf/, and the files that changed."""

    name: str
    overrides: list[str]
    changed: list[str] = field(default_factory=list)
    """conf/ files edited, relative to the project root."""
    compiled: list[str] = field(default_factory=list)
    """Generated files that the compile after the edits rewrote."""
    not_checked_out: list[str] = field(default_factory=list)
    """Outputs ``dvc exp apply`` could not restore: stages the experiment did not run."""


def adopt_experiment(
    root: Path,
    exp: str,
    *,
    echo: Callable[[str], None],
    target: str | None = None,
    where: str = "conveyor adopt",
) -> Adopted:
    """Make experiment ``exp`` conf/'s own: infer, ``dvc exp apply``, edit conf/, recompile.

    ``target`` is the stage the experiment ran to (a sweep's ``--target``): outputs of later
    stages are not in the cache and are left for ``dvc repro``.

    Raises:
        ExperimentError: conf/ has uncommitted changes, ``exp`` names no experiment, or its
            params.yaml is not conf/ plus overrides. Nothing on disk has changed then.
    """
    dirty = _dvc.dirty(root, [CONFIG_DIR])
    if dirty:
        raise ExperimentError(
            f"uncommitted changes in {', '.join(dirty[:5])}",
            where=where,
            fix="commit or stash them first, so the adopted change can be reviewed on its own",
        )
    experiment = resolve_experiment(root, exp, where=where)
    text = _git.show_file(root, experiment.commit, PARAMS)
    if text is None:
        raise ExperimentError(
            f"experiment '{experiment.name}' has no {PARAMS}",
            where=where,
            fix="adopt an experiment of this conveyor project ('dvc exp show' lists them)",
        )
    with _conf_of(root, experiment.commit) as conf_dir:
        inferred = infer_overrides(
            conf_dir, text.decode("utf-8"), where=f"{where} {experiment.name}"
        )
    echo(f"dvc exp apply {experiment.name}")
    adopted = Adopted(experiment.name, list(inferred.overrides))
    adopted.not_checked_out = exp_apply(root, experiment, target, where=where)
    before = _snapshot(root)
    try:
        for override in inferred.groups:
            adopted.changed += set_group_option(root, override)
        for override in inferred.values:
            adopted.changed += set_value(root, override)
        from conveyor.compiler import check, compile_files

        adopted.compiled = compile_files(root).write(root)
        diff = check(root)
    except BaseException:
        _restore(before)
        raise
    if diff:
        _restore(before)
        raise ExperimentError(
            "conf/ was updated, but 'conveyor compile --check' still differs:\n" + diff,
            where=where,
            fix="conf/ is back as 'dvc exp apply' left it; this is a bug in conveyor",
        )
    adopted.changed = sorted(set(adopted.changed))
    return adopted


def resolve_experiment(root: Path, exp: str, *, where: str) -> Experiment:
    """The experiment ``exp`` names: a git revision first, else an experiment name (as DVC)."""
    experiments = list_experiments(root)
    commit = _git.resolve_commit(root, exp) if not exp.startswith("-") else None
    if commit is not None:
        found = [e for e in experiments if e.commit == commit]
        if found:
            return found[0]
        raise ExperimentError(
            f"'{exp}' is a commit ({commit[:7]}), not a DVC experiment",
            where=where,
            fix="name an experiment from 'dvc exp show'",
        )
    named = [e for e in experiments if e.name == exp]
    if len(named) > 1:
        head = _dvc.head(root)
        named = [e for e in named if e.baseline == head] or named
    if len(named) > 1:
        shas = ", ".join(e.commit[:7] for e in named)
        raise ExperimentError(
            f"several experiments are named '{exp}' ({shas})",
            where=where,
            fix="name one by its sha, as 'dvc exp show --sha' prints them",
        )
    if not named:
        raise ExperimentError(
            f"no experiment or commit named '{exp}'",
            where=where,
            fix="name a finished experiment from 'dvc exp show' (a queued one must finish "
            "first: 'dvc queue status')",
        )
    return named[0]


def list_experiments(root: Path) -> list[Experiment]:
    """Every finished experiment under ``refs/exps/<2 hex>/<38 hex>/<name>``."""
    done = _dvc.run(
        root,
        "git",
        "for-each-ref",
        "--format=%(objectname) %(refname)",
        "refs/exps",
        what="listing experiments",
    )
    found: list[Experiment] = []
    for line in done.out.splitlines():
        sha, _, ref = line.partition(" ")
        parts = ref.split("/")
        if len(parts) == 5 and parts[1] == "exps" and len(parts[2]) == 2:
            found.append(Experiment(parts[4], sha, parts[2] + parts[3]))
    return found


@contextmanager
def _conf_of(root: Path, commit: str) -> Iterator[Path]:
    """The experiment's conf/: the work tree's when it is the same tree, else a copy from git.

    ``dvc exp apply`` brings the experiment's conf/ into the work tree, so that is the conf/
    the overrides must apply to (it differs when the experiment ran on another baseline or
    with uncommitted conf/ edits).
    """
    trees = _git.git(root, "rev-parse", f"{commit}:{CONFIG_DIR}", f"HEAD:{CONFIG_DIR}", check=False)
    ours, theirs = [*trees.out.split(), "", ""][:2]
    if trees.returncode == 0 and ours == theirs:
        yield root / CONFIG_DIR
        return
    archive = _git.git(root, "archive", "--format=tar", commit, CONFIG_DIR).stdout
    with tempfile.TemporaryDirectory(prefix="conveyor-adopt-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp) / CONFIG_DIR


def exp_apply(root: Path, experiment: Experiment, target: str | None, *, where: str) -> list[str]:
    """``dvc exp apply``; return the outputs it could not check out (stages not run).

    DVC checks out every output of dvc.yaml; an experiment run to ``target`` (a sweep's trial
    runs to ``gate``) has no outputs of later stages in the cache, so DVC reports them as
    missing after applying everything else.
    """
    done = _git.dvc(root, "exp", "apply", experiment.commit, check=False)
    if done.returncode == 0:
        return []
    lines = [line.strip() for line in done.output.splitlines()]
    marker = "ERROR: Checkout failed for following targets:"
    missing: list[str] = []
    if marker in lines:
        for line in lines[lines.index(marker) + 1 :]:
            if not line or line.startswith("Is your cache"):
                break
            missing.append(line)
    upstream: set[str] = set()
    if target is not None:
        from conveyor.compiler import compile_files

        upstream = _upstream_outputs(compile_files(root).pipeline.stages, target)
    if not missing or any(path in upstream for path in missing):
        raise ExperimentError(
            f"applying experiment '{experiment.name}' failed ('dvc exp apply' exited "
            f"{done.returncode}):\n    " + "\n    ".join(_dvc.tail(done.output)),
            where=where,
            fix="fix the cause above; 'git status' shows what was applied",
        )
    return missing


def _upstream_outputs(stages: tuple[Stage, ...], target: str) -> set[str]:
    """Every output of ``target`` and of the stages it depends on, directly or not."""
    chosen = [s for s in stages if s.name == target]
    changed = True
    while changed:
        needed = {dep for s in chosen for dep in s.deps}
        more = [s for s in stages if s not in chosen and needed & set(s.produces)]
        chosen += more
        changed = bool(more)
    return {path for s in chosen for path in s.produces}


def _snapshot(root: Path) -> dict[Path, str | None]:
    """The text of every conf/ file and generated file, to put back if adopting fails."""
    paths = [*sorted((root / CONFIG_DIR).rglob("*.yaml")), *(root / n for n in GENERATED)]
    return {p: p.read_text(encoding="utf-8") if p.is_file() else None for p in paths}


def _restore(before: dict[Path, str | None]) -> None:
    for path, text in before.items():
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if text is not None and current != text:
            _atomic.write_text(path, text)
