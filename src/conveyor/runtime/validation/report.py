"""The validation report: failed checks as JSON-safe records, and the error that sums them up.

``reports/validation.json`` lists only the checks that failed (``checked`` counts all that ran),
each with its column, the ``data.schema`` rule, what was expected and observed, how many rows
broke it and up to five of them (``_row`` is the row's index in the dataset).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from conveyor import _atomic
from conveyor.errors import DataValidationError

if TYPE_CHECKING:
    from pathlib import Path

    from conveyor.spec.schema import Severity

SAMPLE_SIZE = 5
"""Offending rows kept per failed check."""
ROW_KEY = "_row"


@dataclass(frozen=True)
class CheckFailure:
    """One failed check, with the evidence a user needs to find and fix the rows."""

    column: str | None
    """The column checked; None for table-level checks (row count, unlisted columns)."""
    check: str
    """The rule's key: ``dtype``, ``max``, ``allowed``, ``present``, ``min_rows``, ..."""
    rule: str
    """Where the rule is configured: ``data.schema.columns.age.max``."""
    severity: Severity
    expected: Any
    observed: Any
    detail: str
    """The failure in words: ``expected <= 120, observed 430``."""
    failed_rows: int | None = None
    """Rows that break the check; None for a check on the whole column or table."""
    sample: tuple[dict[str, Any], ...] = ()

    def line(self) -> str:
        """One line for the terminal: ``'age' max: expected <= 120, observed 430 in 2 rows ...``."""
        subject = self.check if self.column is None else f"'{self.column}' {self.check}"
        text = f"{subject}: {self.detail}"
        if self.failed_rows:
            rows = ", ".join(str(json_safe(r[ROW_KEY])) for r in self.sample)
            more = ", ..." if self.failed_rows > len(self.sample) else ""
            plural = "s" if self.failed_rows != 1 else ""
            label = "rows" if len(self.sample) > 1 else "row"
            text += f" in {self.failed_rows} row{plural} ({label} {rows}{more})"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The JSON record (JSON-safe: no NaN, timestamps as ISO strings)."""
        return {
            "column": self.column,
            "check": self.check,
            "rule": self.rule,
            "severity": self.severity,
            "expected": json_safe(self.expected),
            "observed": json_safe(self.observed),
            "failed_rows": self.failed_rows,
            "sample": json_safe(list(self.sample)),
            "message": self.line(),
        }


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of validating one dataset against ``data.schema``."""

    dataset: str
    rows: int
    columns: int
    checked: int
    """Checks that ran, passed or failed."""
    failures: tuple[CheckFailure, ...]

    @property
    def errors(self) -> list[CheckFailure]:
        """Failed checks that stop the pipeline."""
        return [f for f in self.failures if f.severity == "error"]

    @property
    def warnings(self) -> list[CheckFailure]:
        """Failed checks that are reported and let the run go on."""
        return [f for f in self.failures if f.severity == "warning"]

    @property
    def passed(self) -> bool:
        """No error-level check failed."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """The report as written to ``reports/validation.json``."""
        return {
            "dataset": self.dataset,
            "rows": self.rows,
            "columns": self.columns,
            "passed": self.passed,
            "checked": self.checked,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "checks": [f.to_dict() for f in self.failures],
        }

    def write(self, path: Path) -> None:
        """Write the JSON report atomically; NaN or infinity would be a bug, so they raise."""
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False, ensure_ascii=False)
        _atomic.write_text(path, f"{text}\n")

    def summary(self, report_file: str) -> str:
        """What the stage prints when no error-level check failed."""
        shape = f"{self.rows} rows x {self.columns} columns"
        if not self.warnings:
            return f"{self.dataset} passed {plural(self.checked, 'check')} ({shape})"
        head = (
            f"{self.dataset} passed with {plural(len(self.warnings), 'warning')} ({shape}; "
            f"details in {report_file}):"
        )
        return "\n".join([head, *(f"  - {w.line()}" for w in self.warnings)])

    def error(self, report_file: str, schema_file: str | None = None) -> DataValidationError:
        """The error for failed error-level checks: a headline, one line per failure, a fix.

        ``schema_file`` is where the checks are when ``data.schema_file`` names one.
        """
        failed = self.errors
        also = f" (and {plural(len(self.warnings), 'warning')})" if self.warnings else ""
        head = (
            f"{plural(len(failed), 'check')} failed{also} on {self.dataset} "
            f"(details in {report_file}):"
        )
        update = (
            f"update {schema_file} and rerun 'dvc repro'"
            if schema_file
            else "update data.schema in conf/data/ and run 'conveyor compile'"
        )
        fix = (
            "correct the rows at the source (the report samples them), or, if the data changed "
            f"on purpose, {update}"
        )
        lines = "\n".join(f"  - {f.line()}" for f in failed)
        where = f"data.schema ({schema_file})" if schema_file else "data.schema"
        return DataValidationError(f"{head}\n{lines}", where=where, fix=fix)


def plural(n: int, noun: str) -> str:
    """``1 check``, ``2 checks``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def json_safe(value: Any) -> Any:  # noqa: ANN401 - any value a check observed
    """``value`` as plain JSON data: NaN/NA/NaT -> None, numpy scalars -> Python, times -> ISO."""
    # Exact types first: numpy's float64 and str_ subclass Python's float and str.
    if value is None or type(value) in (bool, int, str):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    import numpy as np
    import pandas as pd

    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.datetime64):
        return json_safe(pd.Timestamp(value))
    if isinstance(value, np.timedelta64):
        return json_safe(pd.Timedelta(value))
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return str(value)
