"""Turn pydantic validation errors into located, fixable ConfigProblems."""

from __future__ import annotations

import difflib
import types
import typing
from typing import TYPE_CHECKING, Any, Union

from pydantic import BaseModel

from conveyor.errors import ConfigProblem

if TYPE_CHECKING:
    from pydantic import ValidationError
    from pydantic_core import ErrorDetails

    from conveyor.config.provenance import Provenance


def problems_from(
    exc: ValidationError, model: type[BaseModel], prefix: str, provenance: Provenance
) -> list[ConfigProblem]:
    """One problem per located field of ``exc`` (union branches merged), in error order."""
    grouped: dict[str, list[ErrorDetails]] = {}
    parents: dict[str, type[BaseModel] | None] = {}
    for error in exc.errors():
        parts, parent = _walk(model, error["loc"])
        path = ".".join([prefix, *parts] if prefix else parts) or prefix or "(root)"
        grouped.setdefault(path, []).append(error)
        parents[path] = parent
    return [_problem(path, errors, parents[path], provenance) for path, errors in grouped.items()]


def _problem(
    path: str, errors: list[ErrorDetails], parent: type[BaseModel] | None, provenance: Provenance
) -> ConfigProblem:
    file = provenance.file(path)
    first = errors[0]
    key = path.rsplit(".", 1)[-1]
    kind = first["type"]
    given = first.get("input")
    if given == MISSING:  # the same problem load.py reports for every '???' value
        return ConfigProblem(path, file, f"required value is missing ('{MISSING}')")
    if kind == "extra_forbidden":
        noun = "parameter" if path.rsplit(".", 2)[-2:-1] == ["params"] else "key"
        fields = _field_names(parent)
        close = difflib.get_close_matches(key, fields, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        return ConfigProblem(
            path, file, f"unknown {noun} '{key}'", f"{hint}valid {noun}s: {', '.join(fields)}"
        )
    if kind == "missing":
        origin = provenance.origin(path)
        fix = f"drop the {file}" if origin.override else f"add '{key}: <value>' to {file}"
        return ConfigProblem(path, file, f"required key '{key}' is missing", fix)
    if kind == "literal_error" and len(errors) == 1:
        options = _literal_options(first)
        close = difflib.get_close_matches(str(given), options, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return ConfigProblem(
            path,
            file,
            f"'{given}' is not a valid {key}",
            f"{hint}choose one of: {', '.join(options)}",
        )
    if kind == "invalid_key":
        hint = (
            " (YAML 1.1 reads a bare on/off/yes/no as a boolean)" if isinstance(given, bool) else ""
        )
        return ConfigProblem(
            path,
            file,
            f"a key reads as {given!r}, not a name{hint}",
            "quote the key ('on': ...) or use the key the docs name "
            "(a join's columns are 'keys', not 'on')",
        )
    if kind in {"value_error", "assertion_error"}:
        message = first["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        said = first.get("ctx", {}).get("fix")  # a validator's PydanticCustomError may say it
        return ConfigProblem(path, file, message, said if isinstance(said, str) else None)
    expected = "; or ".join(_lower(e["msg"]) for e in errors)
    takes = _expected(parent, key)
    fix = f"set '{key}' to {takes}" if takes else f"set a valid '{key}'"
    return ConfigProblem(path, file, f"got {given!r}: {expected}", fix)


MISSING = "???"
_NOUNS: dict[Any, str] = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "true or false",
    list: "a list",
    dict: "a mapping",
}
_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def _expected(model: type[BaseModel] | None, key: str) -> str | None:
    """What a field takes, in words: 'a number > 0 and <= 1, or null'."""
    info = _field(model, key) if model is not None else None
    if info is None:
        return None
    members = _unwrap(info.annotation)
    nouns: list[str] = []
    for member in members:
        if typing.get_origin(member) is typing.Literal:
            nouns.append(f"one of {', '.join(map(repr, typing.get_args(member)))}")
        elif (noun := _NOUNS.get(typing.get_origin(member) or member)) and noun not in nouns:
            nouns.append(noun)
    if not nouns:
        return None
    bounds = [
        f"{sign} {getattr(meta, attr)}"
        for meta in info.metadata
        for attr, sign in _BOUNDS
        if getattr(meta, attr, None) is not None
    ]
    bounds += [f"of length >= {m.min_length}" for m in info.metadata if getattr(m, "min_length", 0)]
    bounds += [f"matching {m.pattern}" for m in info.metadata if getattr(m, "pattern", None)]
    text = " or ".join(nouns) + (f" {' and '.join(bounds)}" if bounds else "")
    return f"{text}, or null" if type(None) in members else text


def _lower(message: str) -> str:
    return message[:1].lower() + message[1:]


def _literal_options(error: ErrorDetails) -> list[str]:
    expected = str(error.get("ctx", {}).get("expected", ""))
    return [part.strip().strip("'") for part in expected.replace(" or ", ", ").split(",") if part]


def _field_names(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return sorted(info.alias or name for name, info in model.model_fields.items())


def _walk(
    model: type[BaseModel], loc: tuple[int | str, ...]
) -> tuple[list[str], type[BaseModel] | None]:
    """Follow ``loc`` through the model's types; stop where pydantic names a union branch.

    Returns the located path parts and the model that owns the last part (for suggestions).
    """
    parts: list[str] = []
    current: Any = model
    parent: type[BaseModel] | None = None
    for step in loc:
        options = _unwrap(current)
        next_type: Any = None
        for option in options:
            origin = typing.get_origin(option)
            if isinstance(option, type) and issubclass(option, BaseModel) and isinstance(step, str):
                field = _field(option, step)
                if field is not None or not _is_branch_tag(step):
                    parent = option
                    next_type = field.annotation if field is not None else None
                    break
            elif origin is dict and isinstance(step, str):
                next_type = typing.get_args(option)[1]
                break
            elif origin is list and isinstance(step, int):
                next_type = typing.get_args(option)[0]
                break
        else:
            return parts, parent  # a union-branch tag such as 'int' or 'literal[...]'
        parts.append(str(step))
        current = next_type
    return parts, parent


def _field(model: type[BaseModel], key: str) -> Any:  # noqa: ANN401 - pydantic FieldInfo
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def _is_branch_tag(step: str) -> bool:
    """Pydantic names union branches in ``loc``: ``int``, ``list[str]``, ``literal['a']``..."""
    return "[" in step or step in {"int", "float", "str", "bool", "none", "list", "dict"}


def _unwrap(annotation: Any) -> list[Any]:  # noqa: ANN401 - any type annotation
    """The members of a union (or the type itself), with ``Annotated`` stripped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _unwrap(arg)]
    return [annotation]
