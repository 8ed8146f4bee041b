"""A model bundle: one fitted scikit-learn Pipeline, its input schema, lineage, and a manifest.

Layout of ``models/<name>/``::

    pipeline.skops   the Pipeline (features + model), in skops' safe format
    schema.json      task, target, classes and the input columns (dtype, nulls, ranges)
    metadata.json    lineage: git commit, params, data hashes, library versions
    manifest.json    sha256 of every other file; checked before anything is loaded

Loading never unpickles: skops only rebuilds types on an explicit trust list (the libraries
below plus the module of the model that trained the bundle), and only after the manifest passes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor import _atomic
from conveyor.bundle.manifest import verify_manifest, write_manifest
from conveyor.errors import BundleError

if TYPE_CHECKING:
    from pathlib import Path

PIPELINE_FILE = "pipeline.skops"
SCHEMA_FILE = "schema.json"
METADATA_FILE = "metadata.json"
TRUSTED_PREFIXES = (
    "sklearn.",
    "xgboost.",
    "numpy.",
    "scipy.",
    "builtins.",
    "collections.",
    "conveyor.components.",
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


def save_bundle(
    path: Path,
    pipeline: Any,  # noqa: ANN401 - any fitted scikit-learn Pipeline
    schema: dict[str, Any],
    metadata: dict[str, Any],
) -> None:
    """Write the bundle to ``path`` atomically (a killed run leaves the old bundle or none)."""
    import skops.io as sio

    with _atomic.atomic_dir(path) as tmp:
        sio.dump(pipeline, tmp / PIPELINE_FILE)
        _dump_json(tmp / SCHEMA_FILE, schema)
        _dump_json(tmp / METADATA_FILE, metadata)
        write_manifest(tmp)


def load_bundle(path: Path) -> Bundle:
    """Verify the manifest, then load the pipeline trusting only expected types."""
    verify_manifest(path)
    try:
        schema = json.loads((path / SCHEMA_FILE).read_text(encoding="utf-8"))
        metadata = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BundleError(f"bundle '{path}' has unreadable metadata: {exc}") from exc
    pipeline = _load_pipeline(path / PIPELINE_FILE, _trusted_prefixes(metadata))
    return Bundle(path, pipeline, schema, metadata)


def _trusted_prefixes(metadata: dict[str, Any]) -> tuple[str, ...]:
    """The libraries conveyor's own components use, plus the trained model's own module."""
    extra = [f"{m}." for m in metadata.get("trusted_modules", []) if isinstance(m, str) and m]
    return (*TRUSTED_PREFIXES, *extra)


def _load_pipeline(file: Path, prefixes: tuple[str, ...]) -> Any:  # noqa: ANN401
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=file)
        refused = [t for t in untrusted if not t.startswith(prefixes)]
        if refused:
            raise BundleError(
                f"'{file}' holds types outside the trust list: {', '.join(refused)}",
                fix="only load bundles trained by conveyor from models you know",
            )
        return sio.load(file, trusted=untrusted)
    except BundleError:
        raise
    except Exception as exc:  # skops raises many kinds on a corrupt archive
        raise BundleError(f"cannot load '{file}': {exc}", fix="retrain the model") from exc
