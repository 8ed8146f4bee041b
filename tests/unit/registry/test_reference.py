"""The MODEL grammar: a directory, NAME@vX.Y.Z or NAME#STAGE, read by the registry, no CLI.

The end-to-end cases (a registry stage served and scored from the DVC cache) are in
tests/integration/test_score.py, test_serve.py and test_registry.py; these pin the grammar and
the messages each command gives when MODEL names nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from conveyor.bundle import load_bundle
from conveyor.errors import BundleError, RegistryError
from conveyor.registry import BundleDir, RegistryRef, locate, parse_model
from tests.unit.serving.conftest import IMPUTE_SCALE, fruit_frame, save

if TYPE_CHECKING:
    from pathlib import Path

NAME_FIX = "use letters, digits, '-', '_' or '/', starting and ending with a letter or digit"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.linear_model import LogisticRegression

    x, y = fruit_frame(60)
    path = tmp_path_factory.mktemp("bundles") / "fruit"
    model = LogisticRegression(max_iter=500)
    transforms = [*IMPUTE_SCALE, {"kind": "one_hot", "columns": ["color"]}]
    return save(path, x, y, transforms, model, "multiclass_classification", ["a", "b", "c"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("diagnostics@v1.2.0", RegistryRef("diagnostics", version="v1.2.0")),
        ("diagnostics#prod", RegistryRef("diagnostics", stage="prod")),
        ("diagnostics", RegistryRef("diagnostics")),
        ("team/churn@v0.1.0-rc.1", RegistryRef("team/churn", version="v0.1.0-rc.1")),
        ("m#staging-2", RegistryRef("m", stage="staging-2")),
        ("m@v1.0.0#prod", RegistryRef("m", version="v1.0.0#prod")),  # '@' splits first
        ("m@1.0", RegistryRef("m", version="1.0")),  # the version is checked when resolved
    ],
)
def test_a_registry_reference_parses_and_prints_back(text: str, expected: RegistryRef) -> None:
    parsed = RegistryRef.parse(text)
    assert parsed == expected
    assert str(parsed) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("@v1.0.0", r"^'' is not a valid model name$"),
        ("#prod", r"^'' is not a valid model name$"),
        ("m#", r"^'' is not a valid stage name$"),
        ("bad name#prod", r"^'bad name' is not a valid model name$"),
        ("m#prod!", r"^'prod!' is not a valid stage name$"),
        ("-m@v1.0.0", r"^'-m' is not a valid model name$"),
        ("m/@v1.0.0", r"^'m/' is not a valid model name$"),
        ("m#a#b", r"^'a#b' is not a valid stage name$"),
    ],
)
def test_an_invalid_reference_names_the_part_and_the_rule(text: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message) as caught:
        RegistryRef.parse(text)
    assert caught.value.fix == NAME_FIX


def test_a_directory_is_a_bundle_a_deploy_directory_or_neither(
    bundle: Path, tmp_path: Path
) -> None:
    shutil.copytree(bundle, tmp_path / "models" / "fruit")
    shutil.copytree(bundle, tmp_path / "deploy" / "rest" / "bundle")
    (tmp_path / "empty").mkdir()
    (tmp_path / "half" / "bundle").mkdir(parents=True)  # a bundle/ without its manifest

    found = parse_model("models/fruit", tmp_path)
    assert found == BundleDir("models/fruit", tmp_path / "models/fruit", tmp_path / "models/fruit")
    assert not found.deploy
    deploy = parse_model("deploy/rest", tmp_path)
    assert isinstance(deploy, BundleDir)
    assert (deploy.bundle, deploy.deploy) == (tmp_path / "deploy/rest/bundle", True)
    assert parse_model("empty", tmp_path) == BundleDir("empty", tmp_path / "empty", None)
    assert parse_model("half", tmp_path) == BundleDir("half", tmp_path / "half", None)
    absolute = str(tmp_path / "models" / "fruit")
    assert parse_model(absolute, tmp_path / "empty") == BundleDir(
        absolute, tmp_path / "models/fruit", tmp_path / "models/fruit"
    )


def test_a_directory_wins_over_a_reference_and_a_bare_name_is_a_path(tmp_path: Path) -> None:
    (tmp_path / "m@v1.0.0").mkdir()
    assert parse_model("m@v1.0.0", tmp_path) == BundleDir("m@v1.0.0", tmp_path / "m@v1.0.0", None)
    assert parse_model("m@v2.0.0", tmp_path) == RegistryRef("m", version="v2.0.0")
    assert parse_model("m#prod", tmp_path) == RegistryRef("m", stage="prod")
    assert parse_model("team/m#prod", tmp_path) == RegistryRef("team/m", stage="prod")
    assert parse_model("diagnostics", tmp_path) is None
    assert parse_model("models/nope", tmp_path) is None
    (tmp_path / "file.txt").write_text("x")
    assert parse_model("file.txt", tmp_path) is None
    with pytest.raises(RegistryError, match=r"^'m m' is not a valid model name$"):
        parse_model("m m#prod", tmp_path)


def test_a_bundle_directory_is_located_in_place_and_loads(bundle: Path, tmp_path: Path) -> None:
    found = parse_model(str(bundle), tmp_path)
    assert isinstance(found, BundleDir)
    located = locate(found, tmp_path)
    assert (located.path, located.version, located.label) == (bundle, "local", str(bundle))
    assert located.trusted == frozenset()  # no params.yaml at tmp_path vouches for anything
    assert load_bundle(located.path, trusted=located.trusted).classes == ["a", "b", "c"]
    with pytest.raises(BundleError, match=r"^directory 'x' holds no model bundle$"):
        locate(BundleDir("x", tmp_path, None), tmp_path)


def test_a_reference_outside_a_git_repository_is_a_registry_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"is not in a git repository, and the registry is"):
        locate(RegistryRef("m", stage="prod"), tmp_path, scratch=tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()


# The messages each command gives when MODEL names nothing, unchanged by the move.


def test_score_and_monitor_say_what_model_is(bundle: Path, tmp_path: Path) -> None:
    from conveyor.cli._model import resolve_model_version

    with pytest.raises(BundleError) as nothing:
        resolve_model_version("nope", tmp_path)
    assert nothing.value.render() == (
        "MODEL: 'nope' is not a directory, nor a registry reference\n  fix: give a bundle "
        "directory (models/NAME), NAME@vX.Y.Z, or NAME#STAGE; 'conveyor registry list' shows "
        "the registered models"
    )
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError) as empty:
        resolve_model_version("empty", tmp_path)
    assert empty.value.render() == (
        "MODEL: directory 'empty' holds no model bundle (no manifest.json, nor "
        "bundle/manifest.json)\n  fix: give a bundle directory (models/NAME), NAME@vX.Y.Z, or "
        "NAME#STAGE; 'dvc repro' trains models/NAME"
    )
    shutil.copytree(bundle, tmp_path / "models" / "fruit")
    with pytest.raises(BundleError) as parent:
        resolve_model_version("models", tmp_path)
    assert parent.value.fix == "did you mean 'models/fruit'?"
    loaded, version = resolve_model_version("models/fruit", tmp_path)
    assert (loaded.classes, version) == (["a", "b", "c"], "local")


def test_serve_says_what_model_is(bundle: Path, tmp_path: Path) -> None:
    from conveyor.serving.server import open_model

    fix = (
        "give a bundle directory (models/<name>), a deploy directory holding bundle/ and "
        "serve.json (deploy/rest), or a registry reference: name@v1.2.0 or name#prod"
    )
    with pytest.raises(BundleError) as missing:
        open_model("models/nope", root=tmp_path)
    assert missing.value.render() == f"MODEL 'models/nope' does not exist\n  fix: {fix}"
    (tmp_path / "file").write_text("x")
    with pytest.raises(BundleError, match=r"^MODEL 'file' is a file, not a directory$"):
        open_model("file", root=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError) as empty:
        open_model("empty", root=tmp_path)
    assert empty.value.render() == (
        f"'empty' holds neither a bundle (manifest.json) nor a deploy directory (bundle/)\n"
        f"  fix: {fix}"
    )
    shutil.copytree(bundle, tmp_path / "deploy" / "rest" / "bundle")
    (tmp_path / "deploy" / "rest" / "serve.json").write_text("{}")
    opened = open_model("deploy/rest/", root=tmp_path)
    assert (opened.label, opened.version) == ("deploy/rest", "local")
    assert opened.config_file == tmp_path / "deploy" / "rest" / "serve.json"
    plain = open_model(str(bundle), root=tmp_path)
    assert (plain.label, plain.config_file) == (str(bundle), None)


def test_the_grammar_imports_without_the_cli() -> None:
    code = (
        "import sys\nfrom conveyor.registry import parse_model, locate\n"
        "print(sorted(m for m in sys.modules if m.startswith('conveyor.cli')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
