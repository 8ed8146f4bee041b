"""Model bundles: save, verify and load a trained pipeline with its schema and lineage."""

from __future__ import annotations

from conveyor.bundle.bundle import Bundle, load_bundle, save_bundle
from conveyor.bundle.manifest import sha256_file, verify_manifest
from conveyor.bundle.schema import infer_schema

__all__ = ["Bundle", "infer_schema", "load_bundle", "save_bundle", "sha256_file", "verify_manifest"]
