"""The manifest in process, on hand-made bundles: every refusal's exact message and fix.

The same hostile shapes go through ``conveyor score``/``serve`` in
``tests/security/test_bundle_shape.py`` (slow); here each is one function call, fast enough to
run against every mutant of ``bundle/manifest.py``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tracemalloc
from typing import TYPE_CHECKING

import pytest

from conveyor.bundle.manifest import MANIFEST, read_verified, verify_manifest, write_manifest
from conveyor.errors import BundleError

if TYPE_CHECKING:
    from pathlib import Path

FIX_LINKS = (
    "a bundle holds regular files only: copy the real files in; with DVC, use a copying cache "
    "type ('dvc config cache.type reflink,copy' and 'dvc checkout --relink')"
)
FIX_EDITED = "do not edit bundles by hand; restore it with 'dvc checkout' or retrain"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    root = tmp_path / "bundle"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "model.bin").write_bytes(b"weights")
    (root / "sub" / "deep" / "schema.json").write_bytes(b"{}")
    write_manifest(root)
    return root


def _refusal(bundle: Path, keep: tuple[str, ...] = ()) -> BundleError:
    with pytest.raises(BundleError) as caught:
        read_verified(bundle, keep)
    assert caught.value.exit_code == 4
    return caught.value


def test_verify_returns_the_manifest_and_read_verified_the_kept_bytes(bundle: Path) -> None:
    files = {"model.bin": _sha(b"weights"), "sub/deep/schema.json": _sha(b"{}")}
    document = json.loads((bundle / MANIFEST).read_text())
    assert document == {"algorithm": "sha256", "files": files}
    assert verify_manifest(bundle) == files
    assert read_verified(bundle, ["sub/deep/schema.json"]) == (
        files,
        {"sub/deep/schema.json": b"{}"},
    )
    assert read_verified(bundle, ()) == (files, {})


def test_missing_extra_and_altered_members_are_listed_together(bundle: Path) -> None:
    (bundle / "sub" / "deep" / "schema.json").unlink()
    (bundle / "sub" / "evil.py").write_text("import os")
    (bundle / "model.bin").write_bytes(b"weightz")
    error = _refusal(bundle, ("model.bin",))
    assert error.what == (
        f"bundle '{bundle}' failed its integrity check: 'sub/deep/schema.json' is missing; "
        "'sub/evil.py' is not in the manifest; 'model.bin' does not match its sha256"
    )
    assert error.fix == FIX_EDITED


def test_a_symlinked_member_or_folder_is_refused_unread(bundle: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "schema.json").write_bytes(b"{}")
    (bundle / "model.bin").rename(tmp_path / "real.bin")
    (bundle / "model.bin").symlink_to(tmp_path / "real.bin")
    (bundle / "sub" / "deep" / "schema.json").unlink()
    (bundle / "sub" / "deep").rmdir()
    (bundle / "sub").rmdir()
    (bundle / "sub").symlink_to(outside)
    error = _refusal(bundle)
    assert error.what == (
        f"bundle '{bundle}' holds what is not a regular file: 'model.bin' is a symbolic link; "
        "'sub' is a symbolic link"
    )
    assert error.fix == FIX_LINKS


def test_a_fifo_is_refused_without_opening_it(bundle: Path) -> None:
    os.mkfifo(bundle / "sub" / "deep" / "pipe")  # opening it to read would block forever
    error = _refusal(bundle)
    assert error.what == (
        f"bundle '{bundle}' holds what is not a regular file: 'sub/deep/pipe' is not a regular file"
    )
    assert error.fix == FIX_LINKS


def test_a_symlinked_manifest_is_refused(bundle: Path, tmp_path: Path) -> None:
    (bundle / MANIFEST).rename(tmp_path / "real.json")
    (bundle / MANIFEST).symlink_to(tmp_path / "real.json")
    error = _refusal(bundle)
    assert (error.what, error.where, error.fix) == (
        f"{MANIFEST} '{MANIFEST}' is a symbolic link",
        f"{bundle / MANIFEST}",
        FIX_LINKS,
    )


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("../x", "leaves the bundle or is not normalised ('..', '.', '//')"),
        ("/etc/passwd", "is an absolute path"),
        (MANIFEST, "lists the manifest itself"),
    ],
)
def test_a_manifest_key_outside_the_bundle_is_refused(bundle: Path, key: str, why: str) -> None:
    document = json.loads((bundle / MANIFEST).read_text())
    document["files"][key] = _sha(b"")
    (bundle / MANIFEST).write_text(json.dumps(document))
    error = _refusal(bundle)
    assert (error.what, error.where, error.fix) == (
        f"key 'files.{key}' {why}",
        f"{bundle / MANIFEST}",
        FIX_EDITED,
    )


def test_no_manifest_and_no_bundle(bundle: Path, tmp_path: Path) -> None:
    (bundle / MANIFEST).unlink()
    error = _refusal(bundle)
    assert error.what == f"bundle '{bundle}' has no readable {MANIFEST}"
    assert error.fix == "the bundle is incomplete or was not written by conveyor; retrain it"
    error = _refusal(tmp_path / "nope")
    assert error.what == f"no model bundle at '{tmp_path / 'nope'}'"
    assert error.fix == "train one with 'dvc repro', or fetch it with 'dvc pull'"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_an_unreadable_member_is_a_bundle_error_not_a_traceback(bundle: Path) -> None:
    member = bundle / "sub" / "deep" / "schema.json"
    member.chmod(0)
    try:
        error = _refusal(bundle)
    finally:
        member.chmod(0o644)
    assert error.what.startswith(
        f"cannot read 'sub/deep/schema.json' of bundle '{bundle}': [Errno 13] Permission denied"
    )
    assert error.fix == FIX_LINKS
    assert isinstance(error.__cause__, PermissionError)


def test_a_disk_read_error_is_a_bundle_error_not_a_traceback(
    bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an I/O error cannot be made on a healthy disk: fail the open of that one inode
    inode = (bundle / "model.bin").stat().st_ino
    real_fdopen = os.fdopen

    def failing(fd: int, *args: object, **kwargs: object) -> object:
        if os.fstat(fd).st_ino == inode:
            raise OSError(errno.EIO, "Input/output error")
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", failing)
    error = _refusal(bundle)
    assert error.what == (
        f"cannot read 'model.bin' of bundle '{bundle}': [Errno 5] Input/output error"
    )
    assert error.fix == FIX_LINKS
    assert isinstance(error.__cause__, OSError)


def test_verifying_a_large_member_reads_it_in_chunks(bundle: Path) -> None:
    size = 16 << 20
    (bundle / "model.bin").write_bytes(b"\1" * size)
    write_manifest(bundle)
    tracemalloc.start()
    try:
        verify_manifest(bundle)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size // 4  # one 1 MiB chunk at a time, not the whole file


def test_the_manifest_bytes_are_sorted_by_name_and_indented(tmp_path: Path) -> None:
    root = tmp_path / "b"
    (root / "a").mkdir(parents=True)
    (root / "a" / "b").write_bytes(b"1")
    (root / "a-c").write_bytes(b"2")  # '-' sorts before '/' as text, after it as path parts
    write_manifest(root)
    assert (root / MANIFEST).read_text() == (
        "{\n"
        '  "algorithm": "sha256",\n'
        '  "files": {\n'
        f'    "a-c": "{_sha(b"2")}",\n'
        f'    "a/b": "{_sha(b"1")}"\n'
        "  }\n"
        "}\n"
    )


def test_every_bad_key_and_a_malformed_manifest_are_located(bundle: Path) -> None:
    document = json.loads((bundle / MANIFEST).read_text())
    document["files"]["../x"] = document["files"]["/y"] = _sha(b"")
    (bundle / MANIFEST).write_text(json.dumps(document))
    error = _refusal(bundle)
    assert error.what == (
        "key 'files.../x' leaves the bundle or is not normalised ('..', '.', '//'); "
        "key 'files./y' is an absolute path"
    )
    (bundle / MANIFEST).write_text(json.dumps({"algorithm": "md5", "files": {}}))
    assert _refusal(bundle).where == f"{bundle / MANIFEST}"


def test_writing_the_manifest_of_a_large_member_reads_it_in_chunks(bundle: Path) -> None:
    size = 16 << 20
    (bundle / "model.bin").write_bytes(b"\1" * size)
    tracemalloc.start()
    try:
        write_manifest(bundle)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size // 4
    assert verify_manifest(bundle)["model.bin"] == _sha(b"\1" * size)
