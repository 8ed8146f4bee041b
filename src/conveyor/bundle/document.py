"""The shapes of a bundle's JSON documents: manifest.json, schema.json and metadata.json.

Every document is checked before anything reads it, so a bundle that was edited by hand or
by an attacker is refused with the file and key at fault, instead of failing later as a
``KeyError`` in the server (which then answers 500 to every request).
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr
from pydantic import ValidationError as PydanticValidationError

from conveyor.errors import BundleError
from conveyor.spec import Task

_RETRAIN = "the bundle was not written by conveyor, or was edited; retrain it ('dvc repro')"
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Scalar = StrictBool | StrictInt | StrictFloat | StrictStr


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ManifestDocument(_Document):
    """``manifest.json``: the sha256 of every other file, by bundle-relative POSIX path."""

    algorithm: Literal["sha256"]
    files: dict[str, Sha256]


class ColumnDocument(_Document):
    """One input column in ``schema.json``."""

    name: StrictStr
    dtype: StrictStr
    nullable: StrictBool = True
    min: StrictInt | StrictFloat | None = None
    max: StrictInt | StrictFloat | None = None
    categories: list[StrictStr] | None = None


class SchemaDocument(_Document):
    """``schema.json``: the task, the target, the class labels and the input columns."""

    task: Task
    target: StrictStr | None = None
    classes: list[Scalar] | None = None
    columns: list[ColumnDocument] = Field(default_factory=list)


class MetadataDocument(BaseModel):
    """``metadata.json``: lineage, free-form, except for the keys conveyor reads."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: StrictStr | None = None
    model: StrictStr | None = None
    estimator: StrictStr | None = None


def parse_document(data: bytes, model: type[BaseModel], *, where: str) -> dict[str, Any]:
    """``data`` as JSON, checked against ``model``; every problem names its key."""
    try:
        loaded = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"is not valid JSON: {exc}", where=where, fix=_RETRAIN) from exc
    if not isinstance(loaded, dict):
        raise BundleError(
            f"holds a JSON {type(loaded).__name__}, not an object", where=where, fix=_RETRAIN
        )
    try:
        model.model_validate(loaded)
    except PydanticValidationError as exc:
        problems = [
            f"key '{'.'.join(map(str, error['loc'])) or '(top level)'}': {error['msg']}"
            for error in exc.errors()
        ]
        raise BundleError(
            f"has the wrong shape: {'; '.join(problems[:10])}", where=where, fix=_RETRAIN
        ) from exc
    return loaded


def bad_member_path(name: str) -> str | None:
    """Why ``name`` cannot be a file of the bundle (absolute, '..', backslash), or None."""
    path = PurePosixPath(name)
    if not name or "\\" in name or "\x00" in name:
        return "is not a plain relative path"
    if path.is_absolute():
        return "is an absolute path"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "leaves the bundle or is not normalised ('..', '.', '//')"
    return None
