"""The params view: a stage reads only the params.yaml keys that its dvc.yaml ``params:`` list.

That list is what DVC watches, so a key read behind DVC's back would make ``dvc repro`` skip a
stage whose result depends on it. The view turns that silent staleness into an error.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

import yaml

from conveyor.errors import StageError, UndeclaredParamError
from conveyor.runtime.layout import PARAMS_FILE

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import TypeAdapter

_MISSING: Any = object()
T = TypeVar("T")


def load_params(root: Path) -> dict[str, Any]:
    """Parse ``params.yaml`` at ``root``."""
    path = root / PARAMS_FILE
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - safe
    except FileNotFoundError as exc:
        raise StageError(
            f"no {PARAMS_FILE} in '{root}'", fix="run 'conveyor compile' first"
        ) from exc
    except yaml.YAMLError as exc:
        raise StageError(
            f"{PARAMS_FILE} is not valid YAML: {exc}",
            fix="regenerate it with 'conveyor compile' (it is generated; do not edit it)",
        ) from exc
    if not isinstance(data, dict):
        raise StageError(f"{PARAMS_FILE} must be a mapping", fix="run 'conveyor compile'")
    return data


@dataclass(frozen=True)
class ParamsView:
    """Read access to ``declared`` keys (and anything under them) for one ``stage``."""

    data: dict[str, Any]
    declared: tuple[str, ...]
    stage: str

    def get(self, key: str, default: Any = _MISSING) -> Any:  # noqa: ANN401 - plain YAML data
        """A deep copy of the value at dotted ``key``; raises if ``key`` is undeclared.

        ``default`` is returned when conf/ left a declared key to its default (so it is not in
        params.yaml); without one, a missing key is an error.
        """
        if not any(key == d or key.startswith(f"{d}.") for d in self.declared):
            raise UndeclaredParamError(
                f"stage '{self.stage}' read '{key}', which its params: list does not declare "
                f"(declared: {', '.join(self.declared)})",
                where=f"stages.{self.stage}.params (dvc.yaml)",
                fix=f"add '{key}' to the reads of stage '{self.stage}' and run 'conveyor compile'",
            )
        node: Any = self.data
        for part in key.split("."):
            node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING
            if node is _MISSING:
                if default is not _MISSING:
                    return copy.deepcopy(default)
                raise StageError(
                    f"'{key}' is missing from {PARAMS_FILE}",
                    where=f"stage '{self.stage}'",
                    fix="run 'conveyor compile' to regenerate params.yaml from conf/",
                )
        return copy.deepcopy(node)

    @overload
    def parse(self, key: str, model: type[T] | TypeAdapter[T]) -> T: ...
    @overload
    def parse(self, key: str, model: type[T] | TypeAdapter[T], default: None) -> T | None: ...
    @overload
    def parse(self, key: str, model: type[T] | TypeAdapter[T], default: T) -> T: ...
    def parse(
        self, key: str, model: type[T] | TypeAdapter[T], default: T | None = _MISSING
    ) -> T | None:
        """Validate the value at ``key`` with a pydantic model class, a type or ``TypeAdapter``.

        A ``None`` default also accepts an explicit null: the value is read as ``model | None``.
        """
        from pydantic import TypeAdapter, ValidationError

        adapter: TypeAdapter[Any]
        if isinstance(model, TypeAdapter):
            adapter = model
        else:
            form: Any = model if default is not None else model | None
            adapter = TypeAdapter(form)
        try:
            return adapter.validate_python(self.get(key, default))
        except ValidationError as exc:
            first = exc.errors()[0]
            path = ".".join([key, *map(str, first["loc"])])
            raise StageError(
                f"'{path}' in {PARAMS_FILE} is invalid: {first['msg']}",
                where=f"stage '{self.stage}'",
                fix="run 'conveyor compile' to see where in conf/ (params.yaml is generated)",
            ) from exc

    def section(self, *keys: str) -> dict[str, Any]:
        """A nested dict holding just ``keys`` — the shape a partial spec model validates."""
        out: dict[str, Any] = {}
        for key in keys:
            *parents, leaf = key.split(".")
            node = out
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = self.get(key)
        return out


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
