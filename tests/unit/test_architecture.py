"""The layering in STYLE.md, the public surface, and the lint rules, checked on every run."""

from __future__ import annotations

import subprocess
import sys

import conveyor
from tests.conftest import REPO, VENV_BIN


def test_import_linter_contracts_hold() -> None:
    done = subprocess.run(
        [VENV_BIN / "lint-imports"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 4 kept, 0 broken." in done.stdout


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


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from conveyor.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('sklearn', 'xgboost', 'pandas', 'hydra', 'dvc')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_compile_imports_no_ml_library() -> None:
    code = (
        "import sys, os\n"
        f"os.chdir({str(REPO)!r})\n"
        "from conveyor.compiler import compile_files\n"
        "from pathlib import Path\n"
        "compile_files(Path('.'))\n"
        "print(sorted(m for m in ('sklearn', 'xgboost', 'pandas', 'pyarrow') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_mypy_strict_is_clean() -> None:
    done = subprocess.run(
        [VENV_BIN / "mypy"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
