"""The request of ``conveyor monitor CURRENT...``: its options over the project's defaults.

Inside a project (a params.yaml in the root) the defaults come from it: the reference is
``reports/profile.json``, the model ``models/<project.name>``, the target ``data.target``, the
tests and thresholds ``monitor.drift``/``monitor.quality``, the metric
``monitor.performance.metric`` or ``evaluate.primary``. Outside one, ``reference_data`` (a
profile is built from it) or ``reference`` names the reference. It lives here, above
``runtime`` and the registry, because it reads params.yaml and resolves model references.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from conveyor.bundle import Bundle
    from conveyor.bundle.predictor import Predictor
    from conveyor.monitoring import MonitorRequest
    from conveyor.monitoring.profile import Profile
    from conveyor.spec import MonitorSpec
    from conveyor.spec.facts import ProjectFacts

    ModelResolver = Callable[[str, Path], tuple[Bundle, str]]
    """``(MODEL, root) -> (bundle, version label)``: the CLI's reading of a model reference."""

__all__ = ["MonitorArgs", "project_request"]


@dataclass(frozen=True)
class MonitorArgs:
    """What ``conveyor monitor`` was asked; None takes the project's default."""

    current: tuple[str, ...]
    output: str = "reports"
    reference: str | None = None
    reference_data: tuple[str, ...] | None = None
    model: str | None = None
    no_model: bool = False
    labels: tuple[str, ...] = ()
    id_column: str | None = None
    target: str | None = None
    metric: str | None = None
    max_drop: float | None = None


@dataclass(frozen=True)
class _Project:
    """What params.yaml says: its facts and ``monitor:`` (None and defaults outside a project)."""

    facts: ProjectFacts | None
    monitor: MonitorSpec


def project_request(
    root: Path, args: MonitorArgs, *, resolve_model: ModelResolver
) -> MonitorRequest:
    """The monitoring request of ``args`` in the project at ``root`` (if there is one).

    Args:
        root: The working directory: a project root, or any folder.
        args: The command's options.
        resolve_model: Loads a MODEL argument (a bundle directory or a registry reference).

    Returns:
        The request, with every reference, model and setting resolved.

    Raises:
        SpecError: params.yaml's ``monitor`` is invalid.
        DataError: The reference profile cannot be read.
        BundleError: The model cannot be loaded.
    """
    from conveyor.monitoring import MonitorRequest, drift_options
    from conveyor.monitoring.monitor import read_reference_metrics
    from conveyor.runtime import layout

    project = _project(root)
    facts = project.facts
    target = args.target or (facts.target if facts else None)
    predictor = _predictor(args, project, root, resolve_model)
    reference, reference_name = _reference(args, root, predictor, target)
    performance = project.monitor.performance
    output = Path(args.output)
    return MonitorRequest(
        current=tuple(args.current),
        reference=reference,
        predictor=predictor,
        out_dir=output if output.is_absolute() else root / output,
        options=drift_options(project.monitor.drift, project.monitor.quality),
        labels=tuple(args.labels),
        id_column=args.id_column or project.monitor.id_column,
        target=target,
        metric=args.metric or performance.metric or (facts.primary_metric if facts else None),
        max_drop=args.max_drop if args.max_drop is not None else performance.max_drop,
        relative=performance.relative,
        reference_metrics=read_reference_metrics(root / layout.METRICS_FILE),
        reference_name=reference_name,
        where="CURRENT",
        labels_where="--labels",
    )


def _project(root: Path) -> _Project:
    """The defaults params.yaml gives, validated as the pipeline would validate them."""
    from pydantic import ValidationError

    from conveyor.errors import SpecError
    from conveyor.runtime.layout import PARAMS_FILE
    from conveyor.runtime.params import load_params
    from conveyor.spec import MonitorSpec
    from conveyor.spec.facts import ProjectFacts

    if not (root / PARAMS_FILE).is_file():
        return _Project(None, MonitorSpec())
    params = load_params(root)
    try:
        monitor = MonitorSpec.model_validate(params.get("monitor") or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(["monitor", *map(str, first["loc"])])
        raise SpecError(
            f"'{path}' in {PARAMS_FILE} is invalid: {first['msg']}",
            where=PARAMS_FILE,
            fix="run 'conveyor compile' to see where in conf/ (params.yaml is generated)",
        ) from exc
    return _Project(ProjectFacts.from_params(params), monitor)


def _predictor(
    args: MonitorArgs, project: _Project, root: Path, resolve_model: ModelResolver
) -> Predictor | None:
    """The model option, else (with the project's profile) the project's bundle if it is there."""
    import os

    from conveyor.monitoring import model_predictor

    ref = args.model
    if ref is None and not args.no_model and args.reference_data is None and project.facts:
        default = project.facts.model_dir
        ref = default if (root / default / "manifest.json").is_file() else None
    if ref is None or args.no_model:
        return None
    bundle, version = resolve_model(ref, root)
    predictor = model_predictor(bundle, threads=os.cpu_count() or 1)
    if predictor is not None:
        predictor.version = version
    return predictor


def _reference(
    args: MonitorArgs, root: Path, predictor: Predictor | None, target: str | None
) -> tuple[Profile, str]:
    """The reference profile and how the reports name it."""
    from conveyor.errors import DataError
    from conveyor.monitoring import profile_data
    from conveyor.monitoring.profile import Profile
    from conveyor.runtime.layout import PROFILE_FILE

    if args.reference_data is not None:
        profile = profile_data(
            root,
            args.reference_data,
            predictor=predictor,
            exclude=[target] if target else [],
            where="--reference-data",
        )
        return profile, ", ".join(args.reference_data)
    shown = args.reference or PROFILE_FILE
    path = Path(shown) if Path(shown).is_absolute() else root / shown
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fix = (
            "give a profile with --reference, or data to profile with --reference-data"
            if args.reference
            else "run 'dvc repro profile' in the project, or give --reference-data FILE"
        )
        raise DataError(
            f"cannot read the reference profile '{shown}': {exc.strerror or exc}",
            where="--reference",
            fix=fix,
        ) from exc
    return Profile.from_json(text, where=shown), shown
