"""``conveyor schema infer``: draft a ``data.schema`` from the data it should describe.

Like TFX's SchemaGen, the draft states what the data holds today: each column's dtype, whether
it has nulls, its observed range, its levels when there are few, ``unique`` for id columns, a
floor on the row count and the order of a time column. It is a starting point to review, and
it passes ``validate`` on the data it came from.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from conveyor.errors import DataError, StageError
from conveyor.runtime import layout
from conveyor.runtime.validation import dtypes
from conveyor.runtime.validation.report import json_safe

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from conveyor.spec import DataSpec

MAX_LEVELS = 20
"""Text and bool columns with at most this many distinct values get an ``allowed`` list."""
EXACT_INT = 2**53
"""Bounds are floats in the schema; beyond this, an int does not survive the trip."""
_ID_NAMES = (
    re.compile(r"(?:^|[^a-z])(?:id|uuid|guid|key)$", re.IGNORECASE),  # id, user_id, Order ID
    re.compile(r"[a-z0-9](?:Id|ID)$"),  # userId, orderID (but not 'paid')
)


@dataclass
class SchemaDraft:
    """An inferred ``data.schema``, with a comment on the rules a reviewer should look at."""

    rows: int
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[tuple[str, str], str] = field(default_factory=dict)
    """(column, rule key) -> why the rule is there; key ``""`` comments on the column."""
    time: dict[str, Any] | None = None

    @property
    def min_rows(self) -> int:
        """The floor on the row count: half the rows seen."""
        return max(1, self.rows // 2) if self.rows else 0

    def as_dict(self) -> dict[str, Any]:
        """The draft as the mapping under ``schema:``."""
        schema: dict[str, Any] = {
            "columns": self.columns,
            "extra_columns": "warn",
            "rows": {"min": self.min_rows},
        }
        if self.time is not None:
            schema["time"] = self.time
        return schema


def infer_schema(frame: pd.DataFrame, *, max_levels: int = MAX_LEVELS) -> SchemaDraft:
    """Draft the schema that ``frame`` meets today.

    Args:
        frame: The data to describe.
        max_levels: Text, category and bool columns with at most this many distinct values get
            an ``allowed`` list.

    Returns:
        The draft; :func:`render_schema` turns it into reviewable YAML.
    """
    draft = SchemaDraft(rows=len(frame))
    datetimes = []
    for column in frame.columns:
        name = str(column)
        series = frame[column]
        kind = dtypes.classify(series)
        draft.columns[name] = _column_rules(draft, name, series, kind, max_levels)
        if kind == "datetime":
            datetimes.append(name)
    if len(datetimes) == 1:
        draft.time = _time_rules(draft, frame[datetimes[0]], datetimes[0])
    return draft


def _column_rules(
    draft: SchemaDraft, name: str, series: pd.Series, kind: str | None, max_levels: int
) -> dict[str, Any]:
    rules: dict[str, Any] = {}

    def note(key: str, text: str) -> None:
        draft.notes[(name, key)] = text

    if kind is None:
        note("", f"mixed value types, {dtypes.describe(series)}: no dtype")
    else:
        rules["dtype"] = kind
    nulls = int(series.isna().sum())
    if nulls == 0:
        rules["nullable"] = False
    else:
        # A little above the share seen, so the next batch of similar data passes.
        rules["max_null_fraction"] = min(1.0, (math.ceil(nulls / len(series) * 100) + 1) / 100)
        note("max_null_fraction", f"{nulls} of {len(series)} rows were null")
    known = series.dropna()
    if known.empty:
        return rules
    if kind in ("int", "float"):
        low, high = json_safe(known.min()), json_safe(known.max())
        if isinstance(low, int | float) and isinstance(high, int | float):
            if max(abs(low), abs(high)) < EXACT_INT:
                rules["min"], rules["max"] = low, high
                note("min", "the observed range: widen it to what is valid")
            else:
                note("dtype", "values too large for exact min/max bounds: none set")
    looks_like_id = kind in ("int", "str") and any(p.search(name) for p in _ID_NAMES)
    if looks_like_id and known.is_unique:
        rules["unique"] = True
        note("unique", "every value is distinct and the name looks like an id")
    elif kind in ("str", "category", "bool"):
        levels = [json_safe(v) for v in known.unique()]
        if len(levels) <= max_levels and all(isinstance(v, str | int | float) for v in levels):
            rules["allowed"] = sorted(levels, key=lambda v: (type(v).__name__, v))
            note("allowed", f"{len(levels)} levels seen (<= {max_levels}): a new one will fail")
        elif len(levels) > max_levels:
            note("", f"{len(levels)} distinct values (> {max_levels}): no allowed list")
    return rules


def _time_rules(draft: SchemaDraft, series: pd.Series, name: str) -> dict[str, Any]:
    known = series.dropna()
    rules: dict[str, Any] = {"column": name}
    if known.is_monotonic_increasing:
        rules["monotonic"] = "strictly_increasing" if known.is_unique else "increasing"
        draft.notes[("time", "monotonic")] = "the rows are in time order now"
    draft.notes[("time", "column")] = "add max_age_days: N to fail on stale data"
    return rules


def render_schema(draft: SchemaDraft, *, origin: str) -> str:
    """The draft as commented YAML, shaped ``schema: {...}`` to paste under conf/data/*.yaml.

    No date in it: the text is pasted into conf/, which git tracks, and the same data gives
    the same draft.

    Args:
        draft: The inferred schema.
        origin: Where the data came from, for the header comment.
    """
    lines = [
        f"# Drafted by `conveyor schema infer` from {origin} "
        f"({draft.rows} rows x {len(draft.columns)} columns).",
        "# Review it before use: it describes what this data holds, not what is valid.",
        "# Paste it into a conf/data/*.yaml file, then run `conveyor compile`.",
        "schema:",
        "  columns:",
    ]
    for name, rules in draft.columns.items():
        lines.append(f"    {_yaml(name)}:{_comment(draft.notes.get((name, '')))}")
        lines += [
            f"      {key}: {_yaml(value)}{_comment(draft.notes.get((name, key)))}"
            for key, value in rules.items()
        ]
    lines.append("  extra_columns: warn  # a new or renamed column is reported; 'error' fails")
    lines += ["  rows:", f"    min: {draft.min_rows}  # half the rows seen"]
    if draft.time is not None:
        lines.append("  time:")
        lines += [
            f"    {key}: {_yaml(value)}{_comment(draft.notes.get(('time', key)))}"
            for key, value in draft.time.items()
        ]
    return "\n".join(lines) + "\n"


def _yaml(value: Any) -> str:  # noqa: ANN401 - a YAML scalar or a list of them
    """``value`` as inline YAML: quoted only when needed, floats exact."""
    text: str = yaml.safe_dump(value, default_flow_style=True, width=math.inf, sort_keys=False)
    return text.removesuffix("\n").removesuffix("\n...").removesuffix("...").strip()


def _comment(note: str | None) -> str:
    return f"  # {note}" if note else ""


def draft_schema(root: Path, *, source: str | None = None, file: str | None = None) -> str:
    """The YAML draft for the project's dataset, one source's rows, or any parquet/csv ``file``.

    Args:
        root: The project root (its params.yaml names the dataset and sources).
        source: Draft from ``data/raw/<source>.parquet`` instead of the dataset.
        file: Draft from this parquet or CSV file instead; needs no compiled project.
    """
    path = root / (file if file is not None else _project_dataset(root, source))
    frame = read_table(path)
    shown = file if file is not None else path.relative_to(root).as_posix()
    return render_schema(infer_schema(frame), origin=shown)


def _project_dataset(root: Path, source: str | None) -> str:
    """The project-relative file that ``validate`` reads, or the rows of one source."""
    data = _data_spec(root)
    if source is None:
        relative = layout.dataset_path(data)
        stage = "combine" if data.combine is not None else f"ingest-{next(iter(data.sources))}"
    elif source in data.sources:
        relative, stage = layout.raw_path(source), f"ingest-{source}"
    else:
        import difflib

        close = difflib.get_close_matches(source, list(data.sources), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise DataError(
            f"no source named '{source}'",
            where="--source",
            fix=f"{hint}this project's sources: {', '.join(data.sources)}",
        )
    if not (root / relative).is_file():
        raise DataError(
            f"'{relative}' does not exist yet",
            where="schema infer",
            fix=f"run 'dvc repro {stage}' to produce it, or point --file at a parquet/csv file",
        )
    return relative


def _data_spec(root: Path) -> DataSpec:
    from pydantic import ValidationError

    from conveyor.runtime.params import load_params
    from conveyor.spec import ProjectSpec

    try:
        return ProjectSpec.model_validate(load_params(root)).data
    except ValidationError as exc:
        raise StageError(
            f"{layout.PARAMS_FILE} is not a valid configuration ({exc.error_count()} problems)",
            where="schema infer",
            fix="run 'conveyor compile' to see each problem with its conf/ file",
        ) from exc


def read_table(path: Path) -> pd.DataFrame:
    """Read a parquet or CSV file, with a located error when it is missing or unreadable."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv"):
        raise DataError(
            f"cannot read '{path}': unknown file type '{suffix}'",
            where="--file",
            fix="give a .parquet or .csv file",
        )
    if not path.is_file():
        raise DataError(f"'{path}' does not exist", where="--file", fix="check the path")
    try:
        return pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(
            f"cannot read '{path}': {exc}",
            where="--file",
            fix="check that the file is a valid parquet or CSV file",
        ) from exc
