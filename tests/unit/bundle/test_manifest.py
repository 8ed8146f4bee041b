"""The manifest hashes whole files: a byte changed anywhere, past 1 MiB too, is refused."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import pytest

from conveyor.bundle.manifest import MANIFEST, read_verified, verify_manifest, write_manifest
from conveyor.errors import BundleError

if TYPE_CHECKING:
    from pathlib import Path

MIB = 1 << 20
SIZE = 3 * MIB + 12345  # several read chunks and a partial last one


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    root = tmp_path / "bundle"
    (root / "sub").mkdir(parents=True)
    (root / "big.bin").write_bytes(bytes(range(256)) * (SIZE // 256) + b"x" * (SIZE % 256))
    (root / "sub" / "small.json").write_text('{"a": 1}\n')
    write_manifest(root)
    return root


def test_manifest_holds_sha256_of_the_whole_file(bundle: Path) -> None:
    listed = json.loads((bundle / MANIFEST).read_text())["files"]
    data = (bundle / "big.bin").read_bytes()
    assert len(data) == SIZE
    assert listed == {
        "big.bin": hashlib.sha256(data).hexdigest(),
        "sub/small.json": hashlib.sha256(b'{"a": 1}\n').hexdigest(),
    }
    files, kept = read_verified(bundle, {"big.bin"})
    assert files == listed
    assert kept == {"big.bin": data}


@pytest.mark.parametrize("offset", [MIB - 1, MIB, MIB + 1, 2 * MIB + 7, SIZE - 1])
def test_a_byte_changed_past_the_first_mib_is_refused(bundle: Path, offset: int) -> None:
    verify_manifest(bundle)
    path = bundle / "big.bin"
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"'big\.bin' does not match its sha256"):
        verify_manifest(bundle)
    with pytest.raises(BundleError, match=r"'big\.bin' does not match its sha256"):
        read_verified(bundle, {"big.bin"})


def test_a_byte_appended_to_a_large_member_is_refused(bundle: Path) -> None:
    with (bundle / "big.bin").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(BundleError, match=r"'big\.bin' does not match its sha256"):
        verify_manifest(bundle)
