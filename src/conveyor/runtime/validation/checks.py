"""The checks of ``data.schema``, vectorised in pandas: one boolean mask per rule, no frame copy.

Each rule is one vectorised comparison over its column; only a failing rule pays for counting
its rows, finding its observed value and sampling up to five rows.

Why not pandera: it covers the column rules, but not the rest of this contract (lenient dtypes,
null fractions, did-you-mean for a renamed column, a warn policy for extra columns, time order
and freshness, an observed value per rule), and it builds one record per failing row. On
1,000,000 rows x 30 columns, a passing run took 0.45-0.9 s with pandera (plus 0.6 s to import
it) against 0.3 s here; a column broken in every other row took 42 s and 1.4 GB with pandera
against 0.4 s and no extra memory here.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from conveyor.runtime.validation import dtypes
from conveyor.runtime.validation._evidence import (
    SHOWN_VALUES,
    Evidence,
    as_mask,
    sample_rows,
)
from conveyor.runtime.validation._table import Column, FrameTable, Table
from conveyor.runtime.validation.report import (
    CheckFailure,
    ValidationReport,
    json_safe,
    plural,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    from conveyor.spec.schema import (
        ColumnSchema,
        RowsSchema,
        SchemaSpec,
        Severity,
        TimeSchema,
    )

    Mask = npt.NDArray[np.bool_]

NUMERIC = ("int", "float")


def validate_frame(
    frame: pd.DataFrame, schema: SchemaSpec, *, dataset: str, now: datetime | None = None
) -> ValidationReport:
    """Check ``frame`` (read from ``dataset``) against every rule of ``schema``.

    Args:
        frame: The dataset; it is read, never copied or changed.
        schema: The ``data.schema`` rules.
        dataset: The project-relative path the frame came from, for the report.
        now: The time freshness is measured against (default: now, in UTC); naive timestamps
            in the data are taken as UTC.

    Returns:
        The report: how many checks ran, and every check that failed with its evidence.
    """
    return validate_table(FrameTable(frame), schema, dataset=dataset, now=now)


def validate_table(
    table: Table, schema: SchemaSpec, *, dataset: str, now: datetime | None = None
) -> ValidationReport:
    """:func:`validate_frame` on any :class:`Table`: in memory, or merged from partitions."""
    results = _Results(names=table.names, rows=table.rows)
    unlisted = [n for n in results.names if n not in schema.columns]
    for name, rule in schema.columns.items():
        target = _Target(results, name, f"data.schema.columns.{name}", rule.severity)
        if target.present(table, unlisted, where=target.where):
            _check_column(target, table.column(name), rule)
    _check_extra_columns(results, schema)
    _check_finite(results, table, schema)
    if schema.rows is not None:
        rows = _Target(results, None, "data.schema.rows", schema.rows.severity)
        _check_rows(rows, schema.rows, table.rows)
    if schema.time is not None:
        time = schema.time
        target = _Target(results, time.column, "data.schema.time", time.severity)
        if target.present(table, results.names, where="data.schema.time.column"):
            _check_time(target, table.series(time.column), time, now or datetime.now(UTC))
    return ValidationReport(
        dataset=dataset,
        rows=table.rows,
        columns=len(results.names),
        checked=results.checked,
        failures=tuple(results.failures),
    )


@dataclass
class _Results:
    """Checks run so far and the failures among them."""

    names: list[str]
    rows: int
    checked: int = 0
    failures: list[CheckFailure] = field(default_factory=list)


@dataclass(frozen=True)
class _Target:
    """What a group of rules checks: a column (None: the table), where they live, severity."""

    results: _Results
    column: str | None
    where: str
    severity: Severity

    def check(self) -> None:
        """Count one more check run."""
        self.results.checked += 1

    def fail(
        self,
        check: str,
        expected: Any,  # noqa: ANN401 - a rule's value from YAML
        observed: Any,  # noqa: ANN401 - a value from the data
        detail: str,
        rows: Evidence | tuple[pd.Series, Mask] | None = None,
        *,
        at: str | None = None,
        previous: pd.Series | None = None,
    ) -> None:
        """Record a failure of the rule at ``at`` (default: ``<where>.<check>``).

        ``rows``, the rule's evidence or a series and its mask of offending rows, adds their
        count and a sample; ``previous`` adds each sampled row's predecessor (order checks).
        """
        failed_rows: int | None = None
        sample: tuple[dict[str, Any], ...] = ()
        if isinstance(rows, Evidence):
            failed_rows, sample = rows.rows, rows.sample
        elif rows is not None:
            failed_rows, sample = sample_rows(*rows, previous)
        rule = at or f"{self.where}.{check}"
        failure = CheckFailure(
            self.column, check, rule, self.severity, expected, observed, detail, failed_rows, sample
        )
        self.results.failures.append(failure)

    def present(self, table: Table, candidates: list[str], *, where: str) -> bool:
        """Whether the column exists; if not, a failure suggesting the close ``candidates``."""
        self.check()
        name = str(self.column)
        if table.has(name):
            return True
        # A renamed column shows up among the unlisted ones: the likeliest matches.
        close = _similar(name, candidates) or _similar(name, self.results.names)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        detail = f"column '{name}' is missing{hint}"
        self.fail("present", "present", "missing", detail, at=where)
        return False


def _check_column(target: _Target, column: Column, rule: ColumnSchema) -> None:
    """The rules of one listed column that exists."""
    kind, shown = column.kind, column.shown
    dtype_ok = rule.dtype is None or dtypes.matches(kind, rule.dtype)
    if rule.dtype is not None:
        target.check()
        if not dtype_ok:
            target.fail("dtype", rule.dtype, shown, f"expected {rule.dtype}, observed {shown}")
    if not rule.nullable or rule.max_null_fraction is not None:
        _check_nulls(target, column.evidence("nulls"), rule, target.results.rows)
    for key, bound in (("min", rule.min), ("max", rule.max)):
        if bound is None or (kind not in NUMERIC and not dtype_ok):
            continue  # a wrong dtype is one failure, not one per rule it makes meaningless
        target.check()
        if kind not in NUMERIC:
            target.fail(key, bound, shown, f"expected a numeric column, observed {shown}")
            continue
        found = column.evidence(key, bound)
        if found.rows:
            op = ">=" if key == "min" else "<="
            detail = f"expected {op} {_show(bound)}, observed {_show(found.observed)}"
            target.fail(key, bound, found.observed, detail, found)
    if rule.allowed is not None:
        target.check()
        found = column.evidence("allowed", rule.allowed)
        if found.rows:
            values = list(found.observed)
            detail = f"expected one of {_show_all(rule.allowed, 10)}, observed {_show_all(values)}"
            target.fail("allowed", rule.allowed, values[:SHOWN_VALUES], detail, found)
    if rule.unique:
        target.check()
        found = column.evidence("unique")
        if found.rows:
            repeated = found.observed
            detail = f"expected unique values, observed {plural(repeated, 'repeated value')}"
            target.fail("unique", True, repeated, detail, found)
    if rule.regex is not None:
        target.check()
        found = column.evidence("regex", rule.regex)
        if found.rows:
            values = list(found.observed)
            detail = f"expected a full match of {rule.regex!r}, observed {_show_all(values)}"
            target.fail("regex", rule.regex, values[:SHOWN_VALUES], detail, found)


def _check_nulls(target: _Target, nulls: Evidence, rule: ColumnSchema, rows: int) -> None:
    count = nulls.rows
    if not rule.nullable:
        target.check()
        if count:
            target.fail("nullable", False, count, "expected no nulls, observed nulls", nulls)
    if rule.max_null_fraction is not None:
        target.check()
        fraction = count / rows if rows else 0.0
        if fraction > rule.max_null_fraction:
            expected = _percent(rule.max_null_fraction)
            detail = f"expected <= {expected} nulls, observed {_percent(fraction)}"
            target.fail("max_null_fraction", rule.max_null_fraction, fraction, detail, nulls)


def _check_extra_columns(results: _Results, schema: SchemaSpec) -> None:
    """Columns the schema does not list: allowed, a warning, or an error."""
    if schema.extra_columns == "allow" or not schema.columns:
        return  # a schema that lists no columns has nothing to compare against
    severity: Severity = "error" if schema.extra_columns == "error" else "warning"
    target = _Target(results, None, "data.schema.extra_columns", severity)
    target.check()
    listed = set(schema.columns) | ({schema.time.column} if schema.time else set())
    unlisted = [n for n in results.names if n not in listed]
    if unlisted:
        detail = f"columns not in data.schema.columns: {_show_all(unlisted, 10)}"
        target.fail("extra_columns", "listed columns only", unlisted, detail, at=target.where)


def _check_finite(results: _Results, table: Table, schema: SchemaSpec) -> None:
    """Infinity in any float column, listed or not: no model can train on it, so an error.

    Not a ``data.schema`` rule, so ``checked`` does not count it: the report records it only
    when it fails (before, validate passed and train failed on scikit-learn's "Input X
    contains infinity", blaming the model).
    """
    for name in results.names:
        column = table.column(name)
        if not column.floating:
            continue
        found = column.evidence("finite")
        if not found.rows:
            continue
        signs = found.observed
        where = f"data.schema.columns.{name}" if name in schema.columns else "data.schema"
        target = _Target(results, name, where, "error")
        detail = f"expected finite numbers, observed {' and '.join(signs)}"
        target.fail("finite", "finite", signs, detail, found, at=where)


def _check_rows(target: _Target, rule: RowsSchema, count: int) -> None:
    """The row count is within ``data.schema.rows``."""
    for key, bound in (("min", rule.min), ("max", rule.max)):
        if bound is None:
            continue
        target.check()
        if count < bound if key == "min" else count > bound:
            op = ">=" if key == "min" else "<="
            detail = f"expected {op} {bound} rows, observed {count}"
            target.fail(f"{key}_rows", bound, count, detail, at=f"{target.where}.{key}")


def _check_time(target: _Target, series: pd.Series, rule: TimeSchema, now: datetime) -> None:
    """The time column is in order, and its newest row is recent enough."""
    times = _as_times(series)
    shown = dtypes.describe(series)
    if rule.monotonic is not None:
        target.check()
        if times is None:
            detail = (
                f"expected dates or numbers, observed {shown} values that do not parse as dates"
            )
            target.fail("monotonic", rule.monotonic, shown, detail)
        else:
            _check_order(target, times, rule.monotonic)
    if rule.max_age_days is not None:
        target.check()
        if times is None or times.dtype.kind != "M":
            detail = f"expected a datetime column, observed {shown}"
            target.fail("max_age_days", rule.max_age_days, shown, detail)
        else:
            _check_age(target, times, rule.max_age_days, now)


def _check_order(target: _Target, times: pd.Series, monotonic: str) -> None:
    known = times.dropna()  # missing times are the business of the column's null checks
    previous = known.shift()
    strict = monotonic == "strictly_increasing"
    mask = as_mask(known <= previous if strict else known < previous)
    if mask.any():
        than = "equal to or earlier than" if strict else "earlier than"
        detail = f"expected {monotonic.replace('_', ' ')}, observed times {than} the row before"
        rows = (known, mask)
        target.fail("monotonic", monotonic, "out of order", detail, rows, previous=previous)


def _check_age(target: _Target, times: pd.Series, max_age: float, now: datetime) -> None:
    import pandas as pd

    newest = times.max()
    if newest is pd.NaT:
        target.fail("max_age_days", max_age, None, "expected dates, observed no times at all")
        return
    stamp = pd.Timestamp(now)
    stamp = stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")
    if newest.tzinfo is None:
        stamp = stamp.tz_localize(None)  # naive data is taken as UTC
    age = (stamp - newest) / pd.Timedelta(days=1)
    if age > max_age:
        detail = (
            f"expected the newest row at most {_show(max_age)} days old, "
            f"observed {_show(newest)} ({age:.1f} days old)"
        )
        target.fail(
            "max_age_days", max_age, round(age, 3), detail, (times, as_mask(times == newest))
        )


def _similar(name: str, candidates: list[str]) -> list[str]:
    """Up to three names like ``name``: close spellings, then names that contain it."""
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    key = _squash(name)
    if len(key) >= 3:  # 'id' is in too many names to be a hint
        close += [c for c in candidates if c not in close and key in _squash(c)]
    return close[:3]


def _squash(name: str) -> str:
    """``Mean Radius`` and ``mean_radius`` alike: lower case, letters and digits only."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _as_times(series: pd.Series) -> pd.Series | None:
    """The column as datetimes or numbers, parsing text dates; None if it holds neither."""
    import pandas as pd

    if series.dtype.kind in "iufM":
        return series
    try:
        with warnings.catch_warnings():  # "could not infer format": parsing still works
            warnings.simplefilter("ignore", UserWarning)
            return pd.to_datetime(series)
    except (ValueError, TypeError, OverflowError):
        return None


def _show(value: Any) -> str:  # noqa: ANN401 - any value from YAML or the data
    if isinstance(value, date):
        return value.isoformat()
    safe = json_safe(value)
    if isinstance(safe, float) and safe.is_integer():
        return str(int(safe))
    return repr(safe) if isinstance(safe, str) else str(safe)


def _show_all(values: list[Any], limit: int = SHOWN_VALUES) -> str:
    shown = ", ".join(_show(v) for v in values[:limit])
    return f"{shown}, ..." if len(values) > limit else shown


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.3g}%"
