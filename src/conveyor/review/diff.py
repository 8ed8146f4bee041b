"""``conveyor diff``: what a change to conf/ does to the pipeline, between two git revisions.

Each side is compiled from its own conf/ (a revision is materialised into a temporary
directory; the working tree is compiled in place), then compared: config leaves with the file
that set them, policy changes apart from tuning, stages added/removed/changed, the stages
``dvc repro`` will rerun and why, metric deltas, and the gate result of each side.
:func:`diff_revisions` returns a :class:`PipelineDiff`; renderers live beside it
(:func:`to_markdown`, :func:`print_rich`) and ``to_dict()`` gives the JSON form.
"""

from __future__ import annotations

import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from conveyor._paths import BLESSING_FILE
from conveyor.compiler import compile_project
from conveyor.config import CONFIG_DIR, CONFIG_NAME, load_project
from conveyor.errors import ConveyorError, RevisionError
from conveyor.review import _revision
from conveyor.review._changes import (
    ChoiceChange,
    ConfigChange,
    StageChange,
    choice_changes,
    config_changes,
    external_deps,
    plan_reruns,
    stage_changes,
)
from conveyor.review._inputs import revision_identities, working_identities
from conveyor.review._metrics_diff import GateResult, MetricDelta, gate_result, metric_deltas
from conveyor.review._side import Side
from conveyor.review.rerun import Reason, Rerun

if TYPE_CHECKING:
    from collections.abc import Iterable

    from conveyor.compiler.ir import Pipeline
    from conveyor.config import LoadedProject
    from conveyor.plugins import Plugins
    from conveyor.review._revision import RevisionTree

__all__ = [
    "ChoiceChange",
    "ConfigChange",
    "GateResult",
    "MetricDelta",
    "PipelineDiff",
    "Reason",
    "Rerun",
    "Side",
    "StageChange",
    "diff_revisions",
]

_PRIMARY = f"{CONFIG_DIR}/{CONFIG_NAME}.yaml"


@dataclass(frozen=True)
class PipelineDiff:
    """Everything that differs between two sides, in the order a reviewer reads it."""

    base: Side
    head: Side
    config: tuple[ConfigChange, ...]
    choices: tuple[ChoiceChange, ...]
    stages_added: tuple[str, ...]
    stages_removed: tuple[str, ...]
    stages_changed: tuple[StageChange, ...]
    reruns: tuple[Rerun, ...]
    """Stages ``dvc repro`` runs on HEAD after BASE was reproduced, in run order."""
    metrics: tuple[MetricDelta, ...]
    notes: tuple[str, ...]
    """Why something could not be compared (metrics missing on one side, say)."""
    base_gate: GateResult | None
    head_gate: GateResult | None
    base_pipeline: Pipeline = field(repr=False, compare=False)
    head_pipeline: Pipeline = field(repr=False, compare=False)

    @property
    def policy(self) -> tuple[ConfigChange, ...]:
        """Config changes to gates, promotion, deploy targets, monitoring and retraining."""
        return tuple(c for c in self.config if c.policy is not None)

    @property
    def tuning(self) -> tuple[ConfigChange, ...]:
        """Every other config change."""
        return tuple(c for c in self.config if c.policy is None)

    @property
    def stale(self) -> tuple[str, ...]:
        """Stages whose own inputs changed: what ``dvc status`` lists on HEAD."""
        return tuple(r.stage for r in self.reruns if r.direct)

    @property
    def empty(self) -> bool:
        """Whether the two sides compile to the same pipeline with the same config."""
        parts = (self.config, self.choices, self.stages_added, self.stages_removed)
        return not any((*parts, self.stages_changed, self.reruns))

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``conveyor diff --format json``."""
        return {
            "base": self.base.to_dict(),
            "head": self.head.to_dict(),
            "config": [c.to_dict() for c in self.config],
            "choices": [c.to_dict() for c in self.choices],
            "policy": [c.path for c in self.policy],
            "stages": {
                "added": list(self.stages_added),
                "removed": list(self.stages_removed),
                "changed": [s.to_dict() for s in self.stages_changed],
            },
            "rerun": [r.to_dict() for r in self.reruns],
            "metrics": [m.to_dict() for m in self.metrics],
            "gate": {
                "base": self.base_gate.to_dict() if self.base_gate else None,
                "head": self.head_gate.to_dict() if self.head_gate else None,
            },
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class _Opened:
    """A side ready to compile: where its files are, and its git listing for revisions."""

    side: Side
    root: Path
    tree: RevisionTree | None


def diff_revisions(root: Path, base: str | None = None, head: str | None = None) -> PipelineDiff:
    """Compare the project at ``root`` between two revisions.

    Args:
        root: the project directory (holding conf/), anywhere inside a git work tree.
        base: a git revision; None: the merge-base of HEAD with the main branch (``main``,
            else ``master``, else ``origin/HEAD``), which is HEAD itself on the main branch.
        head: a git revision; None: the working tree, uncommitted edits included.

    Raises:
        RevisionError: not a git repository, an unknown revision, a revision without conf/,
            or a side whose conf/ does not compile (the message says which and why).
    """
    from conveyor.plugins import Plugins

    repo, prefix = _revision.work_tree(root)
    base_rev = base if base is not None else _default_base_name(repo)
    plugins = Plugins.discover()
    with ExitStack() as stack:
        sides = [
            _open(stack, root, repo, prefix, "BASE", base_rev),
            _open(stack, root, repo, prefix, "HEAD", head),
        ]
        old, new = (_compile(opened, plugins) for opened in sides)
        return _compare(sides[0], old, sides[1], new)


def _default_base_name(repo: Path) -> str:
    commit = _revision.default_base(repo)
    head = _revision.resolve(repo, "HEAD")
    return "HEAD" if commit == head else commit


def _open(
    stack: ExitStack,
    root: Path,
    repo: Path,
    prefix: str,
    label: Literal["BASE", "HEAD"],
    rev: str | None,
) -> _Opened:
    if rev is None:
        if not (root / _PRIMARY).is_file():
            raise RevisionError(
                f"the working tree has no {_PRIMARY}",
                where=f"{label} (working tree, '{root}')",
                fix="run conveyor diff from the project root",
            )
        return _Opened(Side(label, None, None), root, None)
    tree = _revision.list_tree(repo, prefix, rev)
    side = Side(label, rev, tree.commit)
    if _PRIMARY not in tree.files:
        raise RevisionError(
            f"there is no {_PRIMARY} at this revision",
            where=f"{label} ({side.describe()})",
            fix=f"pick a revision that has the project: git log --oneline -- {CONFIG_DIR}/",
        )
    scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="conveyor-diff-")))
    _revision.materialise(tree, scratch)
    return _Opened(side, scratch, tree)


def _compile(opened: _Opened, plugins: Plugins) -> tuple[LoadedProject, Pipeline]:
    try:
        project = load_project(opened.root, plugins=plugins)
        return project, compile_project(project)
    except ConveyorError as exc:
        raise RevisionError(
            f"its {_PRIMARY} does not compile:\n  {exc.render()}",
            where=f"{opened.side.label} ({opened.side.describe()})",
            fix="fix conf/ on that side ('conveyor compile' there shows the same error), "
            "or compare other revisions",
        ) from exc
    finally:
        _forget_modules(opened.root)


def _forget_modules(root: Path) -> None:
    """Unload project-local modules imported from ``root``, so the other side imports its own."""
    top = str(root.resolve())
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if origin and str(Path(origin).resolve()).startswith(f"{top}/"):
            del sys.modules[name]


def _compare(
    base: _Opened,
    old: tuple[LoadedProject, Pipeline],
    head: _Opened,
    new: tuple[LoadedProject, Pipeline],
) -> PipelineDiff:
    (old_project, old_pipeline), (new_project, new_pipeline) = old, new
    config = config_changes(
        old_project.composed.data,
        new_project.composed.data,
        old_project.provenance,
        new_project.provenance,
    )
    added, removed, changed = stage_changes(old_pipeline, new_pipeline)
    inputs = external_deps(new_pipeline)
    old_ids, new_ids = _identities(base, inputs), _identities(head, inputs)
    changed_inputs = {dep for dep in inputs if old_ids[dep] != new_ids[dep]}
    reruns = plan_reruns(old_pipeline, new_pipeline, config, changed_inputs)
    metric_paths = sorted(
        {p for pl in (old_pipeline, new_pipeline) for s in pl.stages for p in s.metrics}
    )
    old_files = _read(base, [*metric_paths, BLESSING_FILE])
    new_files = _read(head, [*metric_paths, BLESSING_FILE])
    deltas, notes = metric_deltas(metric_paths, old_files, new_files, base.side, head.side)
    return PipelineDiff(
        base=base.side,
        head=head.side,
        config=tuple(config),
        choices=tuple(choice_changes(old_project.composed.choices, new_project.composed.choices)),
        stages_added=added,
        stages_removed=removed,
        stages_changed=changed,
        reruns=tuple(reruns),
        metrics=tuple(deltas),
        notes=tuple(notes),
        base_gate=gate_result(old_files[BLESSING_FILE]),
        head_gate=gate_result(new_files[BLESSING_FILE]),
        base_pipeline=old_pipeline,
        head_pipeline=new_pipeline,
    )


def _identities(opened: _Opened, deps: Iterable[str]) -> dict[str, tuple[str, ...]]:
    if opened.tree is not None:
        return revision_identities(opened.tree, deps)
    return working_identities(opened.root, deps)


def _read(opened: _Opened, paths: list[str]) -> dict[str, bytes | None]:
    if opened.tree is not None:
        tree = opened.tree
        present = {p: tree.files[p].sha for p in paths if p in tree.files}
        blobs = _revision.read_blobs(tree.repo, present.values())
        return {p: blobs[present[p]] if p in present else None for p in paths}
    return {
        p: (opened.root / p).read_bytes() if (opened.root / p).is_file() else None for p in paths
    }
