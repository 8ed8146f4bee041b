"""A model bundle: one fitted scikit-learn Pipeline, its input schema, lineage, and a manifest.

Layout of ``models/<name>/``::

    pipeline.skops   the Pipeline (features + model), in skops' format (no pickle)
    schema.json      task, target, classes and the input columns (dtype, nulls, ranges)
    metadata.json    lineage: params, data hashes, library versions
    manifest.json    sha256 of every other file; checked before anything is loaded

A bundle is data from outside the trust boundary (a DVC remote, a registry version, a pull
request), so loading it runs none of its code. In order, before any object is built:

1. every file is a regular file inside the bundle, listed in the manifest with its sha256
   (:mod:`conveyor.bundle.manifest`); the bytes hashed are the bytes loaded;
2. manifest.json, schema.json and metadata.json have their documented shapes
   (:mod:`conveyor.bundle.document`);
3. the root of ``pipeline.skops`` is a ``sklearn.pipeline.Pipeline``, and every type any of
   its nodes names is on the exact-type allowlist of :mod:`conveyor.bundle.trust`. The list
   is fixed by installed code and by the caller (the project's ``model._target_`` and
   ``model.trusted_types``); nothing in the bundle widens it (a ``trusted_modules`` key in
   metadata.json is ignored).

Only then does skops build the Pipeline, which must be fitted, end in a ``model`` step that
predicts, and have transformers before it. Each refusal is a :class:`BundleError` (exit 4).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor import _atomic
from conveyor.bundle._booster import booster_file, booster_problem, boosters
from conveyor.bundle._canonical import canonical_skops
from conveyor.bundle._trees import tree_problem
from conveyor.bundle.document import MetadataDocument, SchemaDocument, parse_document
from conveyor.bundle.manifest import read_verified, write_manifest
from conveyor.bundle.trust import refused_types, schema_types
from conveyor.errors import BundleError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from sklearn.pipeline import Pipeline

PIPELINE_FILE = "pipeline.skops"
SCHEMA_FILE = "schema.json"
METADATA_FILE = "metadata.json"
MODEL_STEP = "model"
_PIPELINE = "sklearn.pipeline.Pipeline"
_MALFORMED = "a tree of the model is malformed, so it was not used"
_FIX_MALFORMED = (
    "the file was altered or not written by conveyor's train stage: load bundles only from "
    "sources you trust, or retrain the model"
)
_FIX_UNTRUSTED = (
    "load bundles only from sources you trust. If you trust this model: an installed model "
    "plugin declares its types in 'trusted_types'; a project's params.yaml trusts its "
    "model._target_ class and the exact classes its reviewed conf/ lists in "
    "model.trusted_types (run from that project)"
)


@dataclass(frozen=True)
class Bundle:
    """A verified, loaded bundle."""

    path: Path
    pipeline: Any
    schema: dict[str, Any]
    metadata: dict[str, Any]

    @property
    def classes(self) -> list[Any] | None:
        """Class labels in the order of ``predict_proba`` columns (classification only)."""
        classes = self.schema.get("classes")
        return list(classes) if classes is not None else None


def _dump_json(path: Path, data: dict[str, Any]) -> None:
    _atomic.write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def dump_pipeline(pipeline: Pipeline) -> bytes:
    """The skops bytes of ``pipeline``: what :func:`save_bundle` writes as ``pipeline.skops``.

    Canonical (:mod:`conveyor.bundle._canonical`): equal pipelines give equal bytes, so
    retraining on the same data and params leaves the model's md5 in dvc.lock unchanged.
    Clears ``pipeline``'s record of its fit's threads first (:func:`_forget_fit_threads`).
    """
    import skops.io as sio

    _forget_fit_threads(pipeline)
    return canonical_skops(bytes(sio.dumps(pipeline)))


def _forget_fit_threads(pipeline: Pipeline) -> None:
    """Drop the thread count a histogram gradient boosting model keeps from its fit.

    Its ``_bin_mapper`` holds the OpenMP threads the fit ran on (``n_threads``): the same data
    and params gave another ``pipeline.skops``, and another md5 in dvc.lock, on a machine with
    another core count or under ``OMP_NUM_THREADS``. Nothing else it learns depends on it
    (the trees are equal), and None is what it means to bin with: the threads at hand.
    """
    steps = [step for _, step in getattr(pipeline, "steps", [])] or [pipeline]  # a bare model too
    for step in steps:
        mapper = getattr(step, "_bin_mapper", None)
        if mapper is not None and hasattr(mapper, "n_threads"):
            mapper.n_threads = None


def save_bundle(
    path: Path,
    pipeline: Pipeline,
    schema: dict[str, Any],
    metadata: dict[str, Any],
) -> None:
    """Write the bundle to ``path`` atomically (a killed run leaves the old bundle or none).

    ``pipeline`` is the fitted Pipeline, or the bytes :func:`dump_pipeline` made of it (so
    the bytes whose types the caller checked are the bytes written).
    """
    data = pipeline if isinstance(pipeline, bytes) else dump_pipeline(pipeline)
    with _atomic.atomic_dir(path) as tmp:
        (tmp / PIPELINE_FILE).write_bytes(data)
        _dump_json(tmp / SCHEMA_FILE, schema)
        _dump_json(tmp / METADATA_FILE, metadata)
        write_manifest(tmp)


def load_bundle(path: Path, *, trusted: Iterable[str] = ()) -> Bundle:
    """Verify the bundle at ``path``, then build its Pipeline from allowlisted types only.

    Args:
        path: The bundle directory.
        trusted: Exact ``module.Class`` names the caller vouches for beyond the installed
            components: :func:`conveyor.bundle.trust.project_types` of the project that
            trained it. Never anything read from the bundle.

    Returns:
        The loaded bundle.

    Raises:
        BundleError: The bundle is incomplete, altered, oddly shaped, or names a type that is
            not trusted (exit code 4). Nothing in it has been built then.
    """
    _, data = read_verified(path, (PIPELINE_FILE, SCHEMA_FILE, METADATA_FILE))
    schema = parse_document(data[SCHEMA_FILE], SchemaDocument, where=f"{path / SCHEMA_FILE}")
    metadata = parse_document(
        data[METADATA_FILE], MetadataDocument, where=f"{path / METADATA_FILE}"
    )
    pipeline = _load_pipeline(data[PIPELINE_FILE], f"{path / PIPELINE_FILE}", trusted)
    return Bundle(path, pipeline, schema, metadata)


def untrusted_types(data: bytes, trusted: Iterable[str], *, where: str) -> list[str]:
    """The types in the skops ``data`` of a Pipeline that no list trusts, sorted.

    The check :func:`load_bundle` makes, for ``train`` to make before it writes a bundle.
    """
    return _types(data, where, trusted, complete=True)[0]


def _types(
    data: bytes, where: str, trusted: Iterable[str], *, complete: bool = False
) -> tuple[list[str], set[str], Any]:
    """(refused, every type named, schema), for a skops archive whose root is a Pipeline.

    skops' own scan (types nodes hold besides their own) is skipped when the schema alone is
    refused, unless ``complete``.
    """
    trusted = frozenset(trusted)  # checked twice: a generator would be empty the second time
    root = _read_skops_schema(data, where)
    if not isinstance(root, dict) or (
        f"{root.get('__module__')}.{root.get('__class__')}" != _PIPELINE
        or root.get("__loader__") != "ObjectNode"
    ):
        found = (
            f"{root.get('__module__')}.{root.get('__class__')}" if isinstance(root, dict) else "?"
        )
        raise BundleError(
            f"holds a '{found}', not a scikit-learn Pipeline",
            where=where,
            fix="a bundle holds the Pipeline conveyor's train stage fits; retrain the model",
        )
    found_types = schema_types(root, where=where)
    refused = refused_types(found_types, trusted)
    if complete or not refused:  # skops' own view too: types its nodes hold besides their own
        import skops.io as sio  # only now: refusing above needs no skops

        try:
            found_types |= set(sio.get_untrusted_types(data=data))
        except Exception as exc:  # skops raises many kinds on a corrupt archive
            raise BundleError(f"cannot read it: {exc}", where=where, fix="retrain") from exc
        refused = refused_types(found_types, trusted)
    return refused, found_types, root


def _load_pipeline(data: bytes, where: str, trusted: Iterable[str]) -> Pipeline:
    refused, found_types, root = _types(data, where, trusted)
    if refused:
        raise BundleError(
            f"holds types that are not trusted, so nothing in it was loaded: "
            f"{', '.join(map(repr, refused))}",
            where=where,
            fix=_FIX_UNTRUSTED,
        )
    _check_boosters(data, root, where)
    import skops.io as sio

    try:
        pipeline = sio.loads(data, trusted=sorted(found_types))
    except Exception as exc:  # skops raises many kinds on a corrupt archive
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(  # one line: xgboost appends its C++ backtrace
            f"cannot load it: {first}", where=where, fix="retrain the model"
        ) from exc
    _check_pipeline(pipeline, where)
    problem = tree_problem(pipeline)
    if problem is not None:
        raise BundleError(f"{_MALFORMED}: {problem}", where=where, fix=_FIX_MALFORMED)
    _sum_in_order(pipeline)
    return pipeline


def _sum_in_order(pipeline: Pipeline) -> None:
    """Make forests and bagging ensembles predict in one thread.

    With ``n_jobs > 1`` they add up their members' predictions in whatever order the threads
    finish, so the same rows give different last bits from call to call (3 distinct
    ``predict_proba`` results in 10 calls of a 300-tree forest), and every report, plot and
    batch of scores built on them changes on each ``dvc repro``. Training keeps its threads.
    """
    from sklearn import ensemble

    summing = (
        ensemble.RandomForestClassifier,
        ensemble.RandomForestRegressor,
        ensemble.ExtraTreesClassifier,
        ensemble.ExtraTreesRegressor,
        ensemble.BaggingClassifier,
        ensemble.BaggingRegressor,
    )
    for _, step in pipeline.steps:
        if isinstance(step, summing):
            step.n_jobs = 1


def _check_boosters(data: bytes, root: Any, where: str) -> None:  # noqa: ANN401
    """Each xgboost Booster's trees, before xgboost's C++ parses them (it trusts them)."""
    found = list(boosters(root))
    if not found:
        return
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for owner, node in found:
            file = booster_file(node)
            try:
                raw = archive.read(file) if file is not None else None
            except KeyError:
                raw = None
            problem = (
                "it is not in the form skops writes (a bytearray file)"
                if raw is None
                else booster_problem(raw)
            )
            if problem is not None:
                raise BundleError(
                    f"{_MALFORMED}: the booster of '{owner}', {problem}",
                    where=where,
                    fix=_FIX_MALFORMED,
                )


def _read_skops_schema(data: bytes, where: str) -> Any:  # noqa: ANN401 - parsed JSON
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise BundleError(
            f"is not a skops archive: {exc}", where=where, fix="retrain the model"
        ) from exc


def _check_pipeline(pipeline: Pipeline, where: str) -> None:
    """A fitted Pipeline: transformers, then a fitted ``model`` step that predicts."""
    from sklearn.exceptions import NotFittedError
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import check_is_fitted

    steps = getattr(pipeline, "steps", None) if isinstance(pipeline, Pipeline) else None
    problem = None
    if not isinstance(steps, list) or not steps:
        problem = "is not a Pipeline with steps"
    elif not all(isinstance(s, tuple) and len(s) == 2 and isinstance(s[0], str) for s in steps):
        problem = "has steps that are not (name, estimator) pairs"
    elif steps[-1][0] != MODEL_STEP or not callable(getattr(steps[-1][1], "predict", None)):
        problem = f"does not end in a '{MODEL_STEP}' step that predicts"
    elif not all(callable(getattr(step, "transform", None)) for _, step in steps[:-1]):
        problem = "has a step before the model that is not a transformer"
    else:
        try:
            for _, step in steps:
                check_is_fitted(step)
        except (NotFittedError, TypeError) as exc:
            problem = f"is not fitted: {exc}"
    if problem:
        raise BundleError(
            f"the Pipeline {problem}",
            where=where,
            fix="a bundle holds the fitted Pipeline conveyor's train stage writes; retrain it",
        )
