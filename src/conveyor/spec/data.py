"""``data:`` — the sources, how they combine, the schema they must meet, the target, the split."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from conveyor.spec._base import NAME_PATTERN, StrictModel
from conveyor.spec.component import ComponentSpec
from conveyor.spec.schema import SchemaSpec

SourceName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
Column = Annotated[str, StringConstraints(min_length=1)]
SCHEMA_FILE_PATTERN = r"^conf/(?!(?:.*/)?\.\.?(?:/|$))[^\\]+\.ya?ml$"


def _schema_file(value: str) -> str:
    if re.match(SCHEMA_FILE_PATTERN, value) is None:
        msg = (
            f"'{value}' is not a schema file: give the path of a .yaml file under conf/, "
            "relative to the project (e.g. conf/schemas/orders.yaml)"
        )
        raise ValueError(msg)
    return value


SchemaFile = Annotated[str, AfterValidator(_schema_file)]
"""``data.schema_file``: a project-relative YAML file under conf/ (``conf/schemas/x.yaml``).

A wide table's schema is bulky, and DVC re-reads params.yaml once for every stage that has
params, so a schema kept in its own file (a dependency of ``validate``) keeps ``dvc status``
and ``dvc repro`` fast on large pipelines. Under conf/ so that the compile cache and
``compile --check`` see its edits like any other config.
"""


class JoinSpec(StrictModel):
    """One join onto the rows combined so far: ``{source: stores, keys: store_id, how: left}``.

    ``keys``, not pandas' ``on``: YAML 1.1 reads a bare ``on`` key as the boolean true.
    """

    source: SourceName
    keys: Column | list[Column]
    how: Literal["inner", "left", "right", "outer"] = "left"

    @property
    def columns(self) -> list[str]:
        """``keys`` as a list."""
        return [self.keys] if isinstance(self.keys, str) else list(self.keys)


class CombineSpec(StrictModel):
    """How several sources become one table: joins onto ``base``, or one SQL query.

    In ``sql`` each source is a table named after it: ``SELECT * FROM sales JOIN stores USING
    (store_id)``.
    """

    base: SourceName | None = None
    join: list[JoinSpec] | None = Field(default=None, min_length=1)
    sql: Annotated[str, StringConstraints(min_length=1)] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> CombineSpec:
        if (self.join is None) == (self.sql is None):
            msg = "give either 'join' (with 'base') or 'sql', not both or neither"
            raise ValueError(msg)
        if self.join is not None and self.base is None:
            msg = "'join' needs 'base': the source the joins start from"
            raise ValueError(msg)
        if self.sql is not None and self.base is not None:
            msg = "'base' is only for 'join'; an 'sql' query names its own tables"
            raise ValueError(msg)
        return self


class SplitSpec(StrictModel):
    """How rows become train / (valid) / test splits.

    ``random`` and ``stratified`` shuffle with the project seed; ``group`` keeps every value of
    ``group_column`` on one side; ``time`` sorts by ``time_column`` and puts the latest rows in
    test (and valid), by fraction or from the ``test_from``/``valid_from`` dates.
    """

    strategy: Literal["random", "stratified", "group", "time"] = "stratified"
    test_size: float = Field(default=0.2, gt=0.0, lt=1.0)
    valid_size: float = Field(default=0.0, ge=0.0, lt=1.0)
    group_column: Column | None = None
    time_column: Column | None = None
    test_from: str | None = None
    """``time`` only: rows at or after this date/time are the test split."""
    valid_from: str | None = None
    """``time`` only: rows at or after this date/time (and before ``test_from``) are valid."""

    @model_validator(mode="after")
    def _consistent(self) -> SplitSpec:
        problems = []
        if self.test_size + self.valid_size >= 1.0:
            problems.append(
                f"test_size + valid_size is {self.test_size + self.valid_size:g}, which leaves "
                "no rows for training; keep the sum below 1"
            )
        if (self.strategy == "group") != (self.group_column is not None):
            problems.append("'group_column' is required by strategy 'group' and used by no other")
        if (self.strategy == "time") != (self.time_column is not None):
            problems.append("'time_column' is required by strategy 'time' and used by no other")
        if self.strategy != "time" and (self.test_from or self.valid_from):
            problems.append("'test_from'/'valid_from' are dates for strategy 'time' only")
        if self.valid_from is not None and self.test_from is None:
            problems.append("'valid_from' needs 'test_from' (the valid rows end where test begins)")
        if self.test_from is not None and {"test_size", "valid_size"} & self.model_fields_set:
            problems.append("give the time split as dates (test_from) or fractions, not both")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class DataSpec(StrictModel):
    """Sources by name, how they combine, the schema they must meet, the target, the split."""

    sources: dict[SourceName, ComponentSpec] = Field(min_length=1)
    combine: CombineSpec | None = None
    schema_: SchemaSpec | None = Field(default=None, alias="schema")
    schema_file: SchemaFile | None = None
    """The schema's checks in a YAML file of their own (instead of ``schema``)."""
    target: Column
    split: SplitSpec = Field(default_factory=SplitSpec)

    @model_validator(mode="after")
    def _combine_covers_sources(self) -> DataSpec:
        names = list(self.sources)
        if self.combine is None:
            if len(names) > 1:
                msg = (
                    f"{len(names)} sources ({', '.join(names)}) need a 'combine:' that joins "
                    "them ('base' + 'join') or queries them ('sql')"
                )
                raise ValueError(msg)
            return self
        if self.combine.join is None:
            return self
        used = [str(self.combine.base), *(j.source for j in self.combine.join)]
        unknown = sorted({n for n in used if n not in self.sources})
        repeated = sorted({n for n in used if used.count(n) > 1})
        unused = [n for n in names if n not in used]
        problems = []
        if unknown:
            problems.append(f"combine names unknown sources {unknown}; sources are {names}")
        if repeated:
            problems.append(f"combine uses {repeated} more than once")
        if unused:
            problems.append(f"sources {unused} are never joined; add them under combine.join")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _one_schema(self) -> DataSpec:
        if self.schema_ is not None and self.schema_file is not None:
            msg = "give the schema inline ('schema') or in a file ('schema_file'), not both"
            raise ValueError(msg)
        return self
