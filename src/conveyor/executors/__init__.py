"""Where heavy work runs: the built-in executors and the one way to build the configured one.

``local`` (a process pool, the default) and ``dask`` (``conveyor-mlops[dask]``) are registered
through conveyor's own ``conveyor.executors`` entry points, exactly like a third-party
executor; :func:`build_executor` loads whichever ``executor.kind`` names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from conveyor._paths import PARAMS_FILE
from conveyor.errors import SpecError
from conveyor.spec import ExecutorSpec

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from pathlib import Path

    from conveyor.plugins import Plugins
    from conveyor.plugins.executor import Executor, Session

__all__ = ["build_executor", "open_project_executor", "project_executor"]


def project_executor(root: Path) -> ExecutorSpec:
    """The ``executor:`` of the project at ``root`` (its params.yaml); ``local`` without one.

    Commands that run outside DVC (``conveyor score``) read it here: it is in params.yaml for
    them, and in no stage's ``params:``.
    """
    import yaml

    path = root / PARAMS_FILE
    if not path.is_file():
        return ExecutorSpec()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SpecError(
            f"cannot read {PARAMS_FILE}: {exc}",
            where=PARAMS_FILE,
            fix="regenerate it with 'conveyor compile' (it is generated; do not edit it)",
        ) from exc
    node = data.get("executor") if isinstance(data, dict) else None
    try:
        return ExecutorSpec.model_validate(node if node is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        path_text = ".".join(["executor", *map(str, first["loc"])])
        raise SpecError(
            f"invalid executor: {first['msg']}",
            where=f"{path_text} ({PARAMS_FILE})",
            fix="fix conf/executor/ and run 'conveyor compile' (params.yaml is generated)",
        ) from exc


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


def open_project_executor(
    root: Path, plugins: Plugins | None = None, *, subprocesses: bool = False
) -> AbstractContextManager[Session | None]:
    """The project's executor (params.yaml's ``executor:``), opened; None for ``local``.

    With ``local``, heavy work runs in the calling process as it always has; any other
    executor's session is what ``conveyor score`` and ``monitor`` fan their files out on.
    ``subprocesses``: the tasks start a process and wait for it
    (:meth:`Executor.open_for_subprocesses`).
    """
    from contextlib import nullcontext

    from conveyor.spec.executor import DEFAULT_EXECUTOR

    spec = project_executor(root)
    if spec.kind == DEFAULT_EXECUTOR:
        return nullcontext()
    if plugins is None:
        from conveyor.plugins import Plugins

        plugins = Plugins.discover()
    executor = build_executor(plugins, spec, source=PARAMS_FILE)
    opener = executor.open_for_subprocesses if subprocesses else executor.open
    return opener(where="executor", source=PARAMS_FILE)
