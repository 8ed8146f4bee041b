"""Hostile sources: SQL that writes, and symlinks that lead out of the project.

Claims under test (docs/security.md): a source query only reads the declared files and database
and creates or changes no file anywhere; a source reads no file whose real path is outside the
project, whatever symlink leads there. Each attempt is refused with a located error, and ingest
writes no ``data/raw`` parquet.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd
import pytest
import yaml

from conveyor.components.sql import SqlParams, SqlSource
from conveyor.errors import DataError
from tests.conftest import conveyor, conveyor_in_process

if TYPE_CHECKING:
    from pathlib import Path

CONF = "conf/data/hostile.yaml"
RAW = "data/raw/src.parquet"
ROWS = pd.DataFrame({"store": ["S1", "S2", "S1", "S2"], "units": [3, 5, 4, 1], "label": [0, 1] * 2})


# --- helpers -----------------------------------------------------------------------------------


def _use_source(root: Path, kind: str, **params: Any) -> None:
    """Point the project at one source called 'src'."""
    data = {
        "sources": {"src": {"kind": kind, "params": params}},
        "target": "label",
        "split": {"strategy": "random", "test_size": 0.25},
    }
    (root / CONF).write_text(yaml.safe_dump(data, sort_keys=False))
    config = root / "conf" / "config.yaml"
    config.write_text(config.read_text().replace("data: breast_cancer", "data: hostile"))


def _snapshot(tree: Path) -> dict[str, tuple[int, int]]:
    """Every file and link under ``tree`` (but git's and DVC's own folders): size and mtime."""
    found = {}
    for path in tree.rglob("*"):
        parts = path.relative_to(tree).parts
        if ".git" in parts or ".dvc" in parts:
            continue
        stat = path.lstat()
        found[path.relative_to(tree).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found


def _write_params_query(root: Path, query: str) -> None:
    """What an attacker who commits params.yaml (not conf/) runs: compile never saw it."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"]["sources"]["src"]["params"]["query"] = query
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _sqlite(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as connection:
        ROWS.to_sql("sales", connection, index=False)
    return path


def _duckdb(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as connection:
        connection.register("frame", ROWS)
        connection.execute("CREATE TABLE sales AS SELECT * FROM frame")
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the project (which is tmp_path/project)."""
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


# --- SQL that writes: refused at compile time, with "writes" and the conf file ------------------

SQLITE_WRITES = [
    ("VACUUM INTO '{out}/vacuum.db'", "VACUUM"),
    ("ATTACH DATABASE '{out}/attached.db' AS y", "ATTACH"),
    ("attach '{out}/lower.db' as y", "ATTACH"),
    ("SELECT * FROM sales; ATTACH '{out}/second.db' AS y", "ATTACH"),
    ("/* SELECT */ VACUUM INTO '{out}/commented.db'", "VACUUM"),
    ("-- SELECT\nATTACH '{out}/line.db' AS y", "ATTACH"),
    ("INSERT INTO sales VALUES ('S9', 9, 1)", "INSERT"),
    ("UPDATE sales SET units = 0", "UPDATE"),
    ("DELETE FROM sales", "DELETE"),
    ("REPLACE INTO sales VALUES ('S9', 9, 1)", "REPLACE"),
    ("CREATE TABLE copy AS SELECT * FROM sales", "CREATE"),
    ("DROP TABLE sales", "DROP"),
    ("PRAGMA journal_mode = WAL", "PRAGMA"),
    ("WITH c AS (SELECT 'S9', 9, 1) INSERT INTO sales SELECT * FROM c", "INSERT"),
    ("WITH c(x) AS (SELECT ';') DELETE FROM sales WHERE store IN (SELECT x FROM c)", "DELETE"),
]


@pytest.mark.parametrize(("query", "statement"), SQLITE_WRITES)
def test_a_sqlite_query_that_writes_fails_compile(
    project: Path, outside: Path, query: str, statement: str
) -> None:
    database = _sqlite(project / "raw" / "shop.sqlite")
    before = database.read_bytes()
    _use_source(project, "sql", database="raw/shop.sqlite", query=query.format(out=outside))
    files = _snapshot(project.parent)
    done = conveyor_in_process("compile", cwd=project, check=False)
    assert done.returncode == 2, done.stderr
    assert f"error: data.sources.src.params.query ({CONF}): the query writes ('{statement}'" in (
        done.stderr
    )
    assert "fix:" in done.stderr
    assert "Traceback" not in done.stderr
    assert _snapshot(project.parent) == files  # nothing created, inside or outside the project
    assert database.read_bytes() == before


DUCKDB_WRITES = [
    ("COPY (SELECT 1) TO '{out}/copy.csv'", "COPY"),
    ("ATTACH '{out}/attached.duckdb' AS y; SELECT 1", "ATTACH"),
    ("EXPORT DATABASE '{out}/export'; SELECT 1", "EXPORT"),
    ("INSTALL httpfs; SELECT 1", "INSTALL"),
    ("LOAD httpfs; SELECT 1", "LOAD"),
    ("SET temp_directory = '{out}/spill'; SELECT * FROM t", "SET"),
    ("CALL enable_logging(storage = 'file', storage_path = '{out}/logs'); SELECT 1", "CALL"),
    ("CREATE TABLE x AS SELECT 1 AS a; INSERT INTO x VALUES (2); SELECT * FROM x", "INSERT"),
]


@pytest.mark.parametrize(("query", "statement"), DUCKDB_WRITES)
def test_a_duckdb_query_that_writes_fails_compile(
    project: Path, outside: Path, query: str, statement: str
) -> None:
    (project / "raw").mkdir()
    ROWS.to_csv(project / "raw" / "t.csv", index=False)
    _use_source(project, "sql", tables={"t": "raw/t.csv"}, query=query.format(out=outside))
    files = _snapshot(project.parent)
    done = conveyor_in_process("compile", cwd=project, check=False)
    assert done.returncode == 2, done.stderr
    assert f"error: data.sources.src.params.query ({CONF}): the query writes ('{statement}'" in (
        done.stderr
    )
    assert _snapshot(project.parent) == files


# --- the engines refuse writes too, when compile is bypassed ------------------------------------


@pytest.mark.slow
def test_a_write_slipped_into_params_yaml_is_refused_by_ingest(
    project: Path, outside: Path
) -> None:
    """params.yaml is generated, but a hostile commit can hand-edit it: ingest re-checks."""
    _sqlite(project / "raw" / "shop.sqlite")
    _use_source(project, "sql", database="raw/shop.sqlite", query="SELECT * FROM sales")
    conveyor_in_process("compile", cwd=project)
    _write_params_query(project, f"VACUUM INTO '{outside}/vacuum.db'")
    files = _snapshot(project.parent)
    done = conveyor("run", "ingest-src", cwd=project, check=False)
    assert done.returncode == 1, done.stderr
    assert "error: data.sources.src.params.query: the query writes ('VACUUM'" in done.stderr
    assert "fix:" in done.stderr
    assert "Traceback" not in done.stderr
    assert _snapshot(project.parent) == files
    assert not (project / RAW).exists()


@pytest.mark.parametrize(
    "query",
    [
        "VACUUM INTO '{out}/vacuum.db'",
        "ATTACH DATABASE '{out}/attached.db' AS y",
        "SELECT load_extension('{out}/evil')",
        "INSERT INTO sales VALUES ('S9', 9, 1)",
        "CREATE TEMP TABLE copy AS SELECT * FROM sales",
        "PRAGMA journal_mode = WAL",
    ],
)
def test_sqlite_authorizer_refuses_what_the_parser_check_might_miss(
    tmp_path: Path, outside: Path, query: str
) -> None:
    """The engine-level guard on its own: the query skips the Params check entirely."""
    database = _sqlite(tmp_path / "project" / "shop.sqlite")
    before = database.read_bytes()
    params = SqlParams.model_construct(query=query.format(out=outside), database="shop.sqlite")
    files = _snapshot(tmp_path)
    with pytest.raises(DataError, match="the query writes or leaves the declared database") as e:
        SqlSource(params).read(tmp_path / "project")
    assert e.value.fix is not None
    assert _snapshot(tmp_path) == files
    assert database.read_bytes() == before


def test_sqlite_still_reads_with_functions_and_recursive_ctes(tmp_path: Path) -> None:
    _sqlite(tmp_path / "shop.sqlite")
    query = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2) "
        "SELECT upper(store) AS store, sum(units) AS units FROM sales, n "
        "GROUP BY store ORDER BY store"
    )
    source = SqlSource.from_config({"query": query, "database": "shop.sqlite"})
    frame = source.read(tmp_path)  # type: ignore[attr-defined]
    assert frame.to_dict("list") == {"store": ["S1", "S2"], "units": [14, 12]}


_BYPASS = """
import sys
from pathlib import Path
from conveyor.components.sql import SqlParams, SqlSource
from conveyor.errors import DataError
params = SqlParams.model_construct(query=sys.argv[2], database=None, tables={"t": "t.csv"})
try:
    SqlSource(params).read(Path(sys.argv[1]))
except DataError as exc:
    print(exc.render())
    sys.exit(exc.exit_code)
"""


@pytest.mark.parametrize(
    "query",
    [
        # Passes any statement check (a SELECT), then turns on file logging: DuckDB aborted the
        # whole process (C++ terminate) before the configuration was locked.
        "SELECT * FROM enable_logging(storage = 'file', storage_path = '{out}/logs')",
        "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'k', SECRET 'v'); SELECT * FROM t",
        "SET temp_directory = '{out}/spill'; SELECT * FROM t",
        "SET allowed_directories = ['{out}']; COPY t TO '{out}/copy.csv'; SELECT * FROM t",
        "COPY t TO '{out}/copy.csv'; SELECT * FROM t",
        "ATTACH '{out}/attached.duckdb' AS y; SELECT * FROM t",
    ],
)
def test_duckdb_sandbox_refuses_writes_and_setting_changes(
    tmp_path: Path, outside: Path, query: str
) -> None:
    """DuckDB's own sandbox, with the Params check bypassed, in a child process (it may abort)."""
    root = tmp_path / "project"
    root.mkdir()
    ROWS.to_csv(root / "t.csv", index=False)
    home = tmp_path / "home"  # DuckDB keeps persistent secrets and extensions under ~/.duckdb
    home.mkdir()
    files = _snapshot(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", _BYPASS, str(root), query.format(out=outside)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "HOME": str(home)},
    )
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "writes" in done.stdout
    assert "fix:" in done.stdout
    assert _snapshot(tmp_path) == files


# --- symlinks out of the project ---------------------------------------------------------------


def _outside_csv(outside: Path) -> Path:
    target = outside / "secret.csv"
    ROWS.to_csv(target, index=False)
    return target


def _outside_parquet(outside: Path) -> Path:
    (outside / "dir").mkdir()
    ROWS.to_parquet(outside / "dir" / "secret.parquet")
    return outside / "dir" / "secret.parquet"


# kind, params, the path planted as a symlink, what it points at, the key and path in the message
SYMLINKS: dict[str, tuple[str, dict[str, Any], str, Any, str, str]] = {
    "csv -> /etc/passwd": (
        "csv",
        {"path": "raw/x.csv", "sep": ":"},
        "raw/x.csv",
        lambda out: "/etc/passwd",
        "params.path",
        "raw/x.csv",
    ),
    "csv -> a tmp file": (
        "csv",
        {"path": "raw/x.csv"},
        "raw/x.csv",
        _outside_csv,
        "params.path",
        "raw/x.csv",
    ),
    "parquet file": (
        "parquet",
        {"path": "raw/x.parquet"},
        "raw/x.parquet",
        _outside_parquet,
        "params.path",
        "raw/x.parquet",
    ),
    "parquet folder is a link": (
        "parquet",
        {"path": "raw/parts"},
        "raw/parts",
        lambda out: _outside_parquet(out).parent,
        "params.path",
        "raw/parts",
    ),
    "parquet file inside a folder": (
        "parquet",
        {"path": "raw/parts"},
        "raw/parts/b.parquet",
        _outside_parquet,
        "params.path",
        "raw/parts/b.parquet",
    ),
    "parquet glob": (
        "parquet",
        {"path": "raw/parts/*.parquet"},
        "raw/parts/b.parquet",
        _outside_parquet,
        "params.path",
        "raw/parts/b.parquet",
    ),
    "sql csv table": (
        "sql",
        {"query": "SELECT * FROM t", "tables": {"t": "raw/x.csv"}},
        "raw/x.csv",
        _outside_csv,
        "params.tables.t",
        "raw/x.csv",
    ),
    "sql glob table": (
        "sql",
        {"query": "SELECT * FROM t", "tables": {"t": "raw/parts/*.parquet"}},
        "raw/parts/b.parquet",
        _outside_parquet,
        "params.tables.t",
        "raw/parts/b.parquet",
    ),
    "sqlite database": (
        "sql",
        {"query": "SELECT * FROM sales", "database": "raw/shop.sqlite"},
        "raw/shop.sqlite",
        lambda out: _sqlite(out / "shop.sqlite"),
        "params.database",
        "raw/shop.sqlite",
    ),
    "duckdb database": (
        "sql",
        {"query": "SELECT * FROM sales", "database": "raw/shop.duckdb"},
        "raw/shop.duckdb",
        lambda out: _duckdb(out / "shop.duckdb"),
        "params.database",
        "raw/shop.duckdb",
    ),
}


def _plant_regular_files(root: Path) -> None:
    """Harmless files at every path the cases use, so that compile passes before the attack."""
    raw = root / "raw"
    (raw / "parts").mkdir(parents=True)
    ROWS.to_csv(raw / "x.csv", index=False)
    ROWS.to_parquet(raw / "x.parquet")
    ROWS.iloc[:2].to_parquet(raw / "parts" / "a.parquet")
    _sqlite(raw / "shop.sqlite")
    _duckdb(raw / "shop.duckdb")


def _plant_link(root: Path, link: str, target: Path | str) -> None:
    path = root / link
    if path.is_dir():
        for child in path.iterdir():
            child.unlink()
        path.rmdir()
    elif path.exists():
        path.unlink()
    path.symlink_to(target)


@pytest.mark.parametrize("case", list(SYMLINKS))
@pytest.mark.slow
def test_a_source_symlinked_out_of_the_project_is_refused(
    project: Path, outside: Path, case: str
) -> None:
    kind, params, link, target, key, shown = SYMLINKS[case]
    _plant_regular_files(project)
    _use_source(project, kind, **params)
    conveyor_in_process(
        "compile", cwd=project
    )  # reviewed and compiled while the files were regular
    real = target(outside)
    _plant_link(project, link, real)

    done = conveyor("run", "ingest-src", cwd=project, check=False)
    assert done.returncode == 1, done.stderr
    assert f"error: data.sources.src: '{shown}' ({key}) is outside the project" in done.stderr
    assert "fix:" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (project / RAW).exists()
    assert not list((project / "data").rglob("*.parquet"))

    compiled = conveyor_in_process("compile", cwd=project, check=False)
    assert compiled.returncode == 2, compiled.stderr
    declared = key.removeprefix("params.")
    assert f"data.sources.src.params.{declared} ({CONF}): " in compiled.stderr
    assert "is outside the project" in compiled.stderr


@pytest.mark.slow
def test_symlinks_that_stay_inside_the_project_are_read(project: Path) -> None:
    _plant_regular_files(project)
    (project / "store").mkdir()
    (project / "raw" / "x.csv").rename(project / "store" / "x.csv")
    (project / "raw" / "x.csv").symlink_to("../store/x.csv")  # relative, stays inside
    _use_source(project, "csv", path="raw/x.csv")
    conveyor_in_process("compile", cwd=project)
    conveyor("run", "ingest-src", cwd=project)
    assert pd.read_parquet(project / RAW).equals(ROWS)


@pytest.mark.parametrize(
    ("target", "inside"),
    [
        ("project", True),  # the project root itself: inside
        ("project/raw", True),
        ("project-copy", False),  # shares the project's name as a prefix: outside
        ("projec", False),
        ("", False),
    ],
)
def test_the_project_boundary_is_a_folder_not_a_name_prefix(
    tmp_path: Path, target: str, inside: bool
) -> None:
    root = tmp_path / "project"
    (root / "raw").mkdir(parents=True)
    folder = tmp_path / target
    folder.mkdir(exist_ok=True)
    ROWS.to_csv(folder / "rows.csv", index=False)
    (root / "link.csv").symlink_to(folder / "rows.csv")
    source = SqlSource.from_config({"query": "SELECT * FROM t", "tables": {"t": "link.csv"}})
    if inside:
        assert len(source.read(root)) == len(ROWS)  # type: ignore[attr-defined]
        return
    with pytest.raises(
        DataError, match=r"'link\.csv' \(params\.tables\.t\) is outside the project"
    ):
        source.read(root)  # type: ignore[attr-defined]
