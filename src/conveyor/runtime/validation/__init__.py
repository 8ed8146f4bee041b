"""Data validation: check a dataset against ``data.schema``, and draft a schema from data."""

from __future__ import annotations

from conveyor.runtime.validation.checks import validate_frame
from conveyor.runtime.validation.report import CheckFailure, ValidationReport

__all__ = ["CheckFailure", "ValidationReport", "validate_frame"]
