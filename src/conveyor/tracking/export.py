"""``conveyor export mlflow [REV...]``: send the outbox, then back-fill commits and versions.

First the runs that stages queued in ``.conveyor/outbox/mlflow/`` while the server was down,
oldest first. Then one run per commit: each REV given, or else ``HEAD``, every DVC experiment
(``refs/exps``) and every commit a registry version points at. A commit's run holds the params
of its params.yaml, the metrics of its ``reports/metrics.json`` and its ``reports/`` files as
artifacts, all read through git; a commit that a registry version points at also gets the
version's bundle (from the DVC cache, verified) as a pyfunc model, an MLflow model version
tagged with conveyor's version, and the version's stages as aliases. A commit's run is tagged
``conveyor.rev``: exporting again finds it and adds nothing.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor import _git, _outbox
from conveyor._paths import METRICS_FILE, PARAMS_FILE, REPORTS_DIR
from conveyor.errors import ConveyorError, StageError
from conveyor.tracking._record import REV_TAG, TAG, Record, Registration, run_metrics, run_params
from conveyor.tracking.stage import BOX, send_or_reason

if TYPE_CHECKING:
    from conveyor.spec import TrackingSpec


@dataclass
class Exported:
    """What an export did: runs sent, already there (labels), waiting in the outbox, warnings."""

    sent: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    """Commits whose runs MLflow had already."""
    waiting: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Commit:
    sha: str
    label: str
    registrations: tuple[tuple[str, str, tuple[str, ...]], ...] = ()


def export_mlflow(root: Path, tracking: TrackingSpec, experiment: str, revs: list[str]) -> Exported:
    """Send the outbox, then one run per commit of ``revs`` (see the module docstring)."""
    result = Exported()
    if not flush(root, tracking, result):
        return result
    for commit in _commits(root, revs):
        with tempfile.TemporaryDirectory(prefix="conveyor-export-") as tmp:
            record, problem = _record(root, commit, experiment, Path(tmp))
            if problem is not None:
                result.warnings.append(f"{commit.label} ({commit.sha[:7]}): {problem}")
            reason, new = send_or_reason(record, Path(tmp), tracking)
        if reason is not None:
            result.warnings.append(f"{commit.label} ({commit.sha[:7]}) was not sent: {reason}")
            return result
        (result.sent if new else result.present).append(f"{commit.label} ({commit.sha[:7]})")
    return result


def flush(root: Path, tracking: TrackingSpec, result: Exported) -> bool:
    """Send the queued runs, oldest first; False when one could not be (the rest wait)."""
    try:
        found, problems = _outbox.documents(root, BOX)
    except OSError as exc:
        result.warnings.append(str(exc))
        return False
    result.warnings.extend(f"tracking outbox: {problem}" for problem in problems)
    for index, (file, document) in enumerate(found):
        shown = _outbox.shown(root, file)
        try:
            record = Record.from_json(document)
        except ValueError as exc:
            result.warnings.append(f"tracking outbox: {shown} cannot be read ({exc}); left alone")
            continue
        reason, _ = send_or_reason(record, _outbox.attachments(file), tracking)
        if reason is not None:
            result.warnings.append(f"{shown} still not sent: {reason}")
            result.waiting = len(found) - index
            return False
        _outbox.remove(file)
        result.sent.append(f"queued {record.stage} run ({shown})")
    return True


def _commits(root: Path, revs: list[str]) -> list[_Commit]:
    """The commits to back-fill, each once, in the order named."""
    versions = _versions(root)
    wanted: list[tuple[str, str]] = []
    if revs:
        for rev in revs:
            sha = _git.resolve_commit(root, rev)
            if sha is None:
                raise StageError(
                    f"'{rev}' names no commit",
                    where="conveyor export mlflow",
                    fix="name a branch, tag, commit or experiment ('git log', 'dvc exp list')",
                )
            wanted.append((sha, rev))
    else:
        head = _git.resolve_commit(root, "HEAD")
        if head is not None:
            wanted.append((head, "HEAD"))
        refs = _git.git(root, "for-each-ref", "--format=%(objectname) %(refname)", "refs/exps")
        for line in sorted(refs.out.splitlines()):
            sha, ref = line.split(" ", 1)
            if ref.count("/") >= 4:  # refs/exps/<xx>/<baseline>/<name>
                wanted.append((sha, f"experiment {ref.rsplit('/', 1)[-1]}"))
        wanted += [(sha, f"{regs[0][0]}@{regs[0][1]}") for sha, regs in versions.items()]
    seen: set[str] = set()
    commits = []
    for sha, label in wanted:
        if sha not in seen:
            seen.add(sha)
            commits.append(_Commit(sha, label, tuple(versions.get(sha, ()))))
    return commits


def _versions(root: Path) -> dict[str, list[tuple[str, str, tuple[str, ...]]]]:
    """Commit -> (model, version, stages) of every registry version."""
    from conveyor.registry.state import model_names, replay
    from conveyor.registry.tags import read_events

    try:
        events = read_events(root)
    except Exception:
        return {}
    out: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {}
    for name in model_names(events):
        state = replay(name, [e for e in events if e.name == name])
        for version in state.versions:
            stages = tuple(sorted(state.stages_of(version)))
            out.setdefault(state.commit_of(version), []).append((name, version, stages))
    return out


def _record(
    root: Path, commit: _Commit, experiment: str, folder: Path
) -> tuple[Record, str | None]:
    """The run of ``commit``: params, metrics, reports, registered bundle; a problem or None."""
    params = _json_or_yaml(_git.show_file(root, commit.sha, PARAMS_FILE), yaml=True)
    metrics = _json_or_yaml(_git.show_file(root, commit.sha, METRICS_FILE), yaml=False)
    files = []
    listing = _git.git(root, "ls-tree", "-r", "--name-only", commit.sha, "--", REPORTS_DIR)
    for name in listing.out.splitlines():
        data = _git.show_file(root, commit.sha, name)
        if data is not None:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
            files.append(name)
    record = Record(
        stage="export",
        experiment=experiment,
        run_name=f"{commit.label} {commit.sha[:7]}",
        params=run_params(params),
        metrics=run_metrics(metrics),
        tags={REV_TAG: commit.sha, f"{TAG}.commit": commit.sha, f"{TAG}.source": "export"},
        files=files,
        key=f"rev-{commit.sha}",
    )
    if commit.registrations:
        from conveyor.registry.materialise import materialise

        name, version, _ = commit.registrations[0]
        try:
            materialised = materialise(root, f"{name}@{version}", folder / "_bundle")
        except ConveyorError as exc:
            return record, f"sent without its model: {exc} ({exc.fix or 'dvc pull'})"
        record.model = "_bundle"
        record.trusted_types = sorted(materialised.trusted)
        record.registrations = [Registration(n, v, list(s)) for n, v, s in commit.registrations]
    return record, None


def _json_or_yaml(data: bytes | None, *, yaml: bool) -> dict[str, Any]:
    import yaml as pyyaml

    if data is None:
        return {}
    try:
        loaded = pyyaml.safe_load(data) if yaml else json.loads(data)
    except (ValueError, pyyaml.YAMLError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def project_tracking(
    root: Path, *, uri: str | None = None, experiment: str | None = None
) -> tuple[TrackingSpec, str]:
    """params.yaml's ``tracking:`` (with ``uri``/``experiment`` put first) and the experiment."""
    import yaml
    from pydantic import ValidationError

    from conveyor.errors import SpecError
    from conveyor.spec import TrackingSpec

    try:
        data = yaml.safe_load((root / PARAMS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SpecError(
            f"cannot read {PARAMS_FILE}: {exc}",
            where=PARAMS_FILE,
            fix="regenerate it with 'conveyor compile' (it is generated; do not edit it)",
        ) from exc
    data = data if isinstance(data, dict) else {}
    node = dict(data.get("tracking") or {})
    node["kind"] = "mlflow"  # exporting is asking for it, whatever the stages do
    if uri is not None:
        node["uri"] = uri
    if experiment is not None:
        node["experiment"] = experiment
    try:
        spec = TrackingSpec.model_validate(node)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SpecError(
            f"invalid tracking: {first['msg']}",
            where=f"{'.'.join(['tracking', *map(str, first['loc'])])} ({PARAMS_FILE})",
            fix="fix conf/tracking/ (or the option) and run 'conveyor compile'",
        ) from exc
    project = data.get("project")
    project = project if isinstance(project, dict) else {}
    name = spec.experiment or str(project.get("name") or root.resolve().name)
    return spec, name
