"""The one error tree: every exception lives in errors.py, drawn true in its docstring (httpx)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

import conveyor
from conveyor import errors
from conveyor.errors import ConveyorError, ServeError, StatusError, UsageError
from tests.conftest import REPO

_LINE = re.compile(
    r"^(?P<indent>(?:[│ ]   )*)(?P<branch>[├└]── )?(?P<name>\w+)\s*(?:exit (?P<code>\d+))?"
)


@dataclass(frozen=True)
class Drawn:
    """One class as the docstring draws it."""

    name: str
    parent: str | None
    exit_code: int


def drawn_tree(doc: str) -> dict[str, Drawn]:
    """The tree under ``::`` in ``doc``: each class with its drawn parent and exit code.

    A class without ``exit N`` inherits its parent's drawn code, as the class itself does.
    """
    block = doc.split("::\n", 1)[1]
    lines = [line[4:] for line in block.splitlines() if line.startswith("    ")]
    path: list[Drawn] = []
    tree: dict[str, Drawn] = {}
    for line in lines:
        match = _LINE.match(line)
        assert match, f"cannot read the tree line {line!r}"
        depth = len(match["indent"]) // 4 + (1 if match["branch"] else 0)
        assert depth <= len(path), f"{match['name']} is drawn deeper than its parent"
        path = path[:depth]
        parent = path[-1] if path else None
        code = match["code"]
        exit_code = int(code) if code else (parent.exit_code if parent else -1)
        node = Drawn(match["name"], parent.name if parent else None, exit_code)
        assert node.name not in tree, f"{node.name} is drawn twice"
        tree[node.name] = node
        path.append(node)
    return tree


def _subclasses(cls: type[BaseException]) -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


@pytest.fixture(scope="module")
def every_module_imported() -> None:
    """Import every conveyor module, so that every exception class it defines exists."""
    for info in pkgutil.walk_packages(conveyor.__path__, "conveyor."):
        if not info.name.endswith(".__main__"):  # runs the CLI
            importlib.import_module(info.name)


def test_errors_all_is_pinned() -> None:
    assert errors.__all__ == [
        "BundleError",
        "CommandNotFoundError",
        "CompileError",
        "ConfigProblem",
        "ContinuousTrainingError",
        "ConveyorError",
        "DataError",
        "DataValidationError",
        "ExecutorError",
        "ExperimentError",
        "GitError",
        "InitError",
        "InputError",
        "NotARepositoryError",
        "OverrideError",
        "PluginError",
        "RegistryError",
        "RequestError",
        "RevisionError",
        "ServeError",
        "SpecError",
        "StageError",
        "StatusError",
        "SweepError",
        "UndeclaredParamError",
        "UnknownComponentError",
        "UsageError",
    ]


@pytest.mark.usefixtures("every_module_imported")
def test_every_conveyor_exception_is_in_the_tree() -> None:
    """A public exception class anywhere in conveyor is a ConveyorError defined in errors.py.

    Private ones (``_Unsupported``) are signals caught in the module that raises them.
    """
    ours = {
        cls
        for cls in _subclasses(BaseException)
        if cls.__module__.split(".")[0] == "conveyor" and not cls.__name__.startswith("_")
    }
    outside = sorted(
        f"{c.__module__}.{c.__qualname__}" for c in ours if c.__module__ != "conveyor.errors"
    )
    assert outside == []
    assert all(issubclass(cls, ConveyorError) for cls in ours)
    assert {c.__name__ for c in ours} <= set(errors.__all__)


@pytest.mark.usefixtures("every_module_imported")
def test_the_docstring_draws_every_class_with_its_parent_and_exit_code() -> None:
    assert errors.__doc__ is not None
    tree = drawn_tree(errors.__doc__)
    classes = {
        c
        for c in _subclasses(ConveyorError)
        if issubclass(c, ConveyorError) and c.__module__.startswith("conveyor.")
    }
    actual = {
        cls.__name__: Drawn(cls.__name__, cls.__bases__[0].__name__, cls.exit_code)
        for cls in classes
    }
    actual["ConveyorError"] = Drawn("ConveyorError", None, ConveyorError.exit_code)
    assert tree == actual


def test_the_drawing_reader_sees_depth_and_inherited_codes() -> None:
    doc = "x\n\n::\n\n    A   exit 1\n    ├── B   exit 2  b\n    │   └── C   c\n    └── D   d\n"
    assert drawn_tree(doc) == {
        "A": Drawn("A", None, 1),
        "B": Drawn("B", "A", 2),
        "C": Drawn("C", "B", 2),
        "D": Drawn("D", "A", 1),
    }


def _names_root(node: ast.expr | None) -> bool:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr == "ConveyorError"
    return isinstance(node, ast.Name) and node.id == "ConveyorError"


def _bare_raises(source: str) -> list[int]:
    """Lines that raise ``ConveyorError`` itself rather than a subclass."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Raise) and _names_root(node.exc)
    ]


def test_no_bare_conveyor_error_is_raised() -> None:
    """Each failure has a class to catch: raise a subclass, never the root itself."""
    sources = sorted((REPO / "src" / "conveyor").rglob("*.py"))
    assert Path(errors.__file__).resolve() in sources
    found = [
        f"{path.relative_to(REPO)}:{line}"
        for path in sources
        for line in _bare_raises(path.read_text(encoding="utf-8"))
    ]
    assert found == []


@pytest.mark.parametrize(
    ("source", "lines"),
    [
        ("raise ConveyorError('x')\n", [1]),
        ("import conveyor.errors as e\nraise e.ConveyorError('x') from None\n", [2]),
        ("raise ConveyorError\n", [1]),
        ("raise SpecError('x')\n", []),
        ("raise exc\nraise\n", []),
    ],
)
def test_the_scan_finds_a_bare_raise(source: str, lines: list[int]) -> None:
    assert _bare_raises(source) == lines


def test_status_outside_a_dvc_project_raises_status_error(tmp_path: Path) -> None:
    from conveyor.review.status import pipeline_status

    with pytest.raises(StatusError, match=r"not a DVC project \(no \.dvc/ directory\)"):
        pipeline_status(tmp_path)
    (tmp_path / ".dvc").mkdir()
    with pytest.raises(StatusError, match=r"no dvc\.yaml to report on"):
        pipeline_status(tmp_path)


def test_a_taken_port_raises_serve_error() -> None:
    from conveyor.serving.server import _bind

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(ServeError, match=f"cannot listen on 127\\.0\\.0\\.1:{port}: ") as info:
            _bind("127.0.0.1", port)
    assert info.value.exit_code == 1
    assert "choose another --port" in str(info.value.fix)


def test_a_usage_error_prints_the_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    from conveyor.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(["compile", "--check", "seed=1"])
    assert info.value.code == 2 == UsageError.exit_code
    err = capsys.readouterr().err
    assert err.startswith("usage: conveyor ")
    assert err.endswith(
        "conveyor: error: --check compares against conf/ alone; drop the overrides\n"
    )
