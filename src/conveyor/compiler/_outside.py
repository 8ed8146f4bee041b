"""Refuse, at compile time, a source whose files a symlink leads out of the project.

Ingest checks every file it reads (``components._files.refuse_outside``), which is the guard;
this is the early warning with the conf/ file named. Each ingest dependency (a file, a
database, a folder or a glob's folder) is checked, and every symlink below a folder, with the
same ``_paths`` check; a file that is not there yet (``dvc pull`` will bring it) is judged
when ingest reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor._paths import link_out_of
from conveyor.errors import ConfigProblem

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conveyor.config import LoadedProject

_FIX = (
    "sources read files inside the project only: copy the data in (then 'dvc add' it) and "
    "point the source at the copy; a symlink may point only inside the project"
)


def outside_sources(project: LoadedProject) -> list[ConfigProblem]:
    """One problem per source file or folder whose real path is outside the project."""
    problems = []
    for name, spec in project.spec.data.sources.items():
        where = f"data.sources.{name}"
        cls = project.plugins["source"].load(spec.kind, where=f"{where}.kind")
        deps = sorted(set(cls.from_config(spec.params).local_files()))  # type: ignore[attr-defined]
        for dep in deps:
            found = link_out_of(project.root, dep)
            if found is None:
                continue
            shown, real = found
            path = _key_of(dep, spec.params, f"{where}.params")
            problems.append(
                ConfigProblem(
                    path,
                    project.provenance.file(path),
                    f"'{shown}' is outside the project: its real path is '{real}'",
                    _FIX,
                )
            )
    return problems


def _key_of(dep: str, params: dict[str, Any], prefix: str) -> str:
    """The params key that names ``dep`` (itself, or a glob under it); else the params."""
    for key, value in _strings(params, prefix):
        if value == dep or value.startswith(f"{dep}/"):
            return key
    return prefix


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:  # noqa: ANN401 - YAML data
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}")
