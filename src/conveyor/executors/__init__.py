"""Where heavy work runs: the built-in executors and the one way to build the configured one.

``local`` (a process pool, the default) and ``dask`` (``conveyor-mlops[dask]``) are registered
through conveyor's own ``conveyor.executors`` entry points, exactly like a third-party
executor; :func:`build_executor` loads whichever ``executor.kind`` names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from conveyor.errors import SpecError

if TYPE_CHECKING:
    from conveyor.plugins import Plugins
    from conveyor.plugins.executor import Executor
    from conveyor.spec import ExecutorSpec

__all__ = ["build_executor"]


def build_executor(
    plugins: Plugins, spec: ExecutorSpec, *, where: str = "executor", source: str | None = None
) -> Executor[Any]:
    """The configured executor (``conveyor compile`` has checked its params already)."""
    located = f" ({source})" if source else ""
    cls = plugins["executor"].load(spec.kind, where=f"{where}.kind{located}")
    try:
        return cast("Executor[Any]", cls.from_config(spec.params))
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join([f"{where}.params", *map(str, first["loc"])])
        raise SpecError(
            f"invalid params for executor '{spec.kind}': {first['msg']}",
            where=f"{path}{located}",
            fix="run 'conveyor compile' to see every problem with its conf/ file",
        ) from exc
