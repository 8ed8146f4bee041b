"""A bundle of the wrong shape, or with files that are not its own, is refused with exit 4.

The old code gave tracebacks, read files through symlinks (a symlinked pipeline.skops, a
symlinked folder, a link to /etc/passwd all passed the manifest), or started a server that
answered 500 to every request. Each case goes through ``conveyor score`` and ``conveyor serve``,
each a process forked from the warm stage server (``conveyor_warm``: the console script's
``main``, exit code and streams, without 1-3 s of imports per case); the untouched bundle scores
through the console script itself.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import conveyor, conveyor_warm
from tests.security.hostile_bundles import rewrite_manifest, sha256
from tests.unit.bundle.test_scoring import features, make_bundle

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = pytest.mark.slow  # each case starts 'conveyor score' or 'serve' (the slow rule)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The untouched bundle, with the rows each case scores in ``../../rows.csv``."""
    bundle = make_bundle(tmp_path_factory.mktemp("shape") / "models" / "tiny")
    features().iloc[:20].to_csv(bundle.parent.parent / "rows.csv", index=False)
    return bundle


def _resave(bundle: Path, pipeline: Any) -> None:
    import skops.io as sio

    (bundle / "pipeline.skops").write_bytes(sio.dumps(pipeline))
    rewrite_manifest(bundle)


def _fitted_logistic() -> Any:
    from sklearn.linear_model import LogisticRegression

    x = features().iloc[:, :2]
    return LogisticRegression(max_iter=1000).fit(x, x.iloc[:, 0] > x.iloc[:, 0].median())


def _not_a_pipeline(bundle: Path) -> None:
    _resave(bundle, _fitted_logistic())


def _unfitted(bundle: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    _resave(bundle, Pipeline([("model", LogisticRegression())]))


def _no_model_step(bundle: Path) -> None:
    from sklearn.pipeline import Pipeline

    _resave(bundle, Pipeline([("classifier", _fitted_logistic())]))


def _json(name: str, edit: Callable[[Any], Any], *, rehash: bool = True) -> Callable[[Path], None]:
    def apply(bundle: Path) -> None:
        document = json.loads((bundle / name).read_text())
        (bundle / name).write_text(json.dumps(edit(document)))
        if rehash:
            rewrite_manifest(bundle)

    return apply


def _manifest_lists(name: str, data: bytes) -> Callable[[Path], None]:
    def apply(bundle: Path) -> None:
        manifest = json.loads((bundle / "manifest.json").read_text())
        manifest["files"][name] = sha256(data)
        (bundle / "manifest.json").write_text(json.dumps(manifest))

    return apply


def _traversal(bundle: Path) -> None:
    (bundle.parent / "outside.txt").write_text("not part of the bundle")
    _manifest_lists("../outside.txt", b"not part of the bundle")(bundle)


def _symlinked_pipeline(bundle: Path) -> None:
    real = bundle.parent / "elsewhere.skops"
    shutil.move(bundle / "pipeline.skops", real)
    (bundle / "pipeline.skops").symlink_to(real)  # same bytes, same hash: the manifest passes


def _symlinked_folder(bundle: Path) -> None:
    outside = bundle.parent / "unchecked"
    outside.mkdir()
    (outside / "x.json").write_text("{}")
    (bundle / "extra").symlink_to(outside, target_is_directory=True)
    rewrite_manifest(bundle)  # rglob follows the link: 'extra/x.json' gets listed


def _link_to_passwd(bundle: Path) -> None:
    (bundle / "notes.txt").symlink_to("/etc/passwd")
    rewrite_manifest(bundle)


def _fifo(bundle: Path) -> None:
    os.mkfifo(bundle / "pipe")


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "root is not a Pipeline": (
        _not_a_pipeline,
        "pipeline.skops: holds a 'sklearn.linear_model._logistic.LogisticRegression', "
        "not a scikit-learn Pipeline",
    ),
    "unfitted Pipeline": (_unfitted, "pipeline.skops: the Pipeline is not fitted"),
    "no model step": (_no_model_step, "does not end in a 'model' step that predicts"),
    "manifest files is a list": (
        _json("manifest.json", lambda m: {**m, "files": list(m["files"])}, rehash=False),
        "manifest.json: has the wrong shape: key 'files'",
    ),
    "manifest hash is not hex": (
        _json(
            "manifest.json",
            lambda m: {**m, "files": {**m["files"], "schema.json": 1}},
            rehash=False,
        ),
        "manifest.json: has the wrong shape: key 'files.schema.json'",
    ),
    "manifest key leaves the bundle": (
        _traversal,
        "manifest.json: key 'files.../outside.txt' leaves the bundle",
    ),
    "manifest key is absolute": (
        _manifest_lists("/etc/passwd", b""),
        "manifest.json: key 'files./etc/passwd' is an absolute path",
    ),
    "schema columns is a string": (
        _json("schema.json", lambda s: {**s, "columns": "abc"}),
        "schema.json: has the wrong shape: key 'columns'",
    ),
    "schema column without a dtype": (
        _json("schema.json", lambda s: {**s, "columns": [{"name": "a"}]}),
        "schema.json: has the wrong shape: key 'columns.0.dtype'",
    ),
    "schema task unknown": (
        _json("schema.json", lambda s: {**s, "task": "clustering"}),
        "schema.json: has the wrong shape: key 'task'",
    ),
    "schema classes is a number": (
        _json("schema.json", lambda s: {**s, "classes": 5}),
        "schema.json: has the wrong shape: key 'classes'",
    ),
    "metadata is a list": (
        _json("metadata.json", lambda m: [m]),
        "metadata.json: holds a JSON list, not an object",
    ),
    "metadata name is a number": (
        _json("metadata.json", lambda m: {**m, "name": 5}),
        "metadata.json: has the wrong shape: key 'name'",
    ),
    "symlinked pipeline.skops": (_symlinked_pipeline, "'pipeline.skops' is a symbolic link"),
    "symlinked folder": (_symlinked_folder, "'extra' is a symbolic link"),
    "symlink to /etc/passwd": (_link_to_passwd, "'notes.txt' is a symbolic link"),
    "fifo in the bundle": (_fifo, "'pipe' is not a regular file"),
}


@pytest.fixture
def work(bundle: Path, tmp_path: Path) -> Path:
    shutil.copytree(bundle, tmp_path / "models" / "tiny")
    shutil.copy(bundle.parent.parent / "rows.csv", tmp_path / "rows.csv")
    return tmp_path


def test_the_untouched_bundle_scores(work: Path) -> None:
    """The baseline every case below edits: it works, so each refusal is the edit's doing."""
    conveyor("score", "models/tiny", "rows.csv", "-o", "out.parquet", cwd=work)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("command", ["score", "serve"])
def test_a_bad_bundle_exits_4_naming_the_file_and_key(case: str, command: str, work: Path) -> None:
    edit, message = CASES[case]
    edit(work / "models" / "tiny")
    if command == "score":
        done = conveyor_warm(
            "score", "models/tiny", "rows.csv", "-o", "o.parquet", cwd=work, check=False
        )
        assert not (work / "o.parquet").exists()
    else:  # a server that started (the bundle was accepted) is killed by the timeout
        done = conveyor_warm(
            "serve",
            "models/tiny",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            cwd=work,
            check=False,
            timeout=90,
        )
    assert done.returncode == 4, done.stdout + done.stderr
    assert done.stderr.startswith("error: ")
    assert message in done.stderr
    assert "fix:" in done.stderr
    assert "Traceback" not in done.stderr
