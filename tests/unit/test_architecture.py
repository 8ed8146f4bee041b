"""The layering in STYLE.md, the public surface, and the lint rules, checked on every run."""

from __future__ import annotations

import json
import subprocess
import sys

import conveyor
from tests.conftest import REPO, VENV_BIN


def test_import_linter_contracts_hold() -> None:
    done = subprocess.run(
        [VENV_BIN / "lint-imports"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 7 kept, 0 broken." in done.stdout


def test_ruff_is_clean() -> None:
    done = subprocess.run(
        [VENV_BIN / "ruff", "check", "src", "tests", "benchmarks"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_public_api_is_pinned() -> None:
    assert conveyor.__all__ == [
        "BundleError",
        "CompileError",
        "ConveyorError",
        "PluginError",
        "SpecError",
        "StageError",
        "__version__",
    ]
    assert conveyor.__version__ == "0.1.0"


def _modules_loaded_by(body: str, watched: tuple[str, ...]) -> list[str]:
    """Run ``body`` in a fresh interpreter; which of ``watched`` it imported."""
    report = f"print(json.dumps(sorted(m for m in {watched!r} if m in sys.modules)))"
    code = f"import json, sys\n{body}\n{report}"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_imports_no_heavy_library() -> None:
    body = "from conveyor.cli.main import main\ntry: main(['--help'])\nexcept SystemExit: pass"
    heavy = (
        *("sklearn", "xgboost", "pandas", "hydra", "dvc", "gto", "matplotlib", "filelock"),
        *("fastapi", "uvicorn", "starlette", "prometheus_client", "pyarrow", "numpy"),
        *("pydantic", "conveyor.spec"),  # init's --task choices once pulled in every spec model
    )
    assert _modules_loaded_by(body, heavy) == []


def test_compile_imports_no_ml_library() -> None:
    body = (
        "from pathlib import Path\nfrom conveyor.compiler import compile_files\n"
        f"compile_files(Path({str(REPO)!r}))"
    )
    heavy = (
        *("sklearn", "xgboost", "pandas", "pyarrow", "gto", "matplotlib", "duckdb"),
        *("fastapi", "uvicorn", "starlette", "prometheus_client"),
        "conveyor.bundle",  # stage runners load bundles; the plans compile imports do not
    )
    assert _modules_loaded_by(body, heavy) == []


def test_mypy_strict_is_clean() -> None:
    done = subprocess.run(
        [VENV_BIN / "mypy"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
