"""``data.schema_file``: the data schema kept in a YAML file of its own, out of params.yaml.

DVC re-reads params.yaml once for every stage that has params, so on a large pipeline its size
sets the pace of ``dvc status`` and ``dvc repro``. A wide table's schema is most of that size,
and only ``validate`` reads it: as a file, it is one dependency of that one stage. The file
holds what ``data.schema`` would (``columns``, ``extra_columns``, ``rows``, ``time``), at its
top level or under one ``schema:`` key as ``conveyor schema infer`` drafts it; it is checked
when the project compiles and read again when ``validate`` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

from conveyor._paths import real_path_outside
from conveyor.errors import ConfigProblem, SpecError
from conveyor.spec.schema import SchemaSpec

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["KEY", "load_schema_file"]

KEY = "data.schema_file"


def load_schema_file(root: Path, relative: str) -> SchemaSpec:
    """The schema in ``relative`` (project-relative); a SpecError that locates each problem."""
    where = f"{KEY} ({relative})"
    if (real := real_path_outside(root, root / relative)) is not None:
        raise SpecError(
            f"'{relative}' is outside the project: its real path is '{real}'",
            where=KEY,
            fix="keep the schema file in the project's conf/ (a symlink may point only inside)",
        )
    try:
        text = (root / relative).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        raise SpecError(
            f"no schema file '{relative}'",
            where=KEY,
            fix=f"create it (draft one with 'conveyor schema infer -o {relative}') or fix "
            f"{KEY} in conf/data/",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(
            f"cannot read '{relative}': {exc}", where=KEY, fix="make it a readable UTF-8 file"
        ) from exc
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError as exc:
        raise SpecError(
            f"not valid YAML: {exc}", where=where, fix="fix the YAML syntax in the file"
        ) from exc
    if not isinstance(data, dict):
        raise SpecError(
            f"a schema file holds a mapping (columns, extra_columns, rows, time), not "
            f"{type(data).__name__}",
            where=where,
            fix="write the checks as data.schema would hold them, e.g. 'columns: {age: {min: 0}}'",
        )
    from pydantic import ValidationError

    prefix: tuple[str, ...] = ()
    if list(data) == ["schema"] and isinstance(data["schema"], dict):
        prefix, data = ("schema",), data["schema"]  # as `conveyor schema infer` drafts it
    try:
        return SchemaSpec.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(error, relative, prefix) for error in exc.errors()]
        raise SpecError.from_problems(problems) from exc


def _problem(error: object, relative: str, prefix: tuple[str, ...]) -> ConfigProblem:
    """One pydantic error as a problem located in the schema file."""
    assert isinstance(error, dict)  # noqa: S101 - pydantic's ErrorDetails
    parts = [*prefix, *(str(part) for part in error["loc"])]
    path = ".".join(parts) or "(root)"
    if error["type"] == "extra_forbidden":
        return ConfigProblem(
            path,
            relative,
            f"unknown key '{parts[-1]}'",
            "a schema holds columns, extra_columns, rows and time; a column holds dtype, "
            "nullable, max_null_fraction, min, max, allowed, unique, regex and severity",
        )
    message = str(error["msg"]).removeprefix("Value error, ")
    return ConfigProblem(path, relative, message[:1].lower() + message[1:])
