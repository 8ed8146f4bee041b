"""One choice of OpenBLAS kernels on every x86-64 machine (conveyor._blas)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from conveyor import _blas
from conveyor.cli import _stage_server

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

X86 = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse2 avx avx2 fma avx512f\n\n"
OLD_X86 = "processor\t: 0\nflags\t\t: fpu sse2 avx\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes\n"


@pytest.mark.parametrize(
    ("text", "flags"),
    [(X86, {"fpu", "sse2", "avx", "avx2", "fma", "avx512f"}), (ARM, set()), ("", set())],
)
def test_cpu_flags_are_the_x86_flags_line(tmp_path: Path, text: str, flags: set[str]) -> None:
    (tmp_path / "cpuinfo").write_text(text)
    assert _blas.cpu_flags.__wrapped__(tmp_path / "cpuinfo") == flags


def test_an_unreadable_cpuinfo_is_no_flags(tmp_path: Path) -> None:
    assert _blas.cpu_flags.__wrapped__(tmp_path / "missing") == frozenset()


@pytest.fixture
def cpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[str], None]:
    """Make ``_blas`` read its CPU's flags from a cpuinfo with this text."""
    cpuinfo = tmp_path / "cpuinfo"
    read = _blas.cpu_flags.__wrapped__
    monkeypatch.setattr(_blas, "cpu_flags", lambda: read(cpuinfo))
    return cpuinfo.write_text


def test_an_avx2_cpu_gets_the_haswell_kernels(cpu: Callable[[str], None]) -> None:
    cpu(X86)
    environ: dict[str, str] = {}
    _blas.pin(environ)
    assert environ == {"OPENBLAS_CORETYPE": "Haswell"}


def test_the_user_s_choice_stands(cpu: Callable[[str], None]) -> None:
    cpu(X86)
    environ = {"OPENBLAS_CORETYPE": "SkylakeX"}
    _blas.pin(environ)
    assert environ == {"OPENBLAS_CORETYPE": "SkylakeX"}
    assert _blas.coretype(environ) == "SkylakeX"


@pytest.mark.parametrize("text", [OLD_X86, ARM, ""])
def test_a_cpu_that_cannot_run_them_is_left_to_openblas(
    cpu: Callable[[str], None], text: str
) -> None:
    cpu(text)  # forcing Haswell kernels on a CPU without AVX2 or FMA would crash the process
    environ: dict[str, str] = {}
    _blas.pin(environ)
    assert environ == {}
    assert _blas.coretype(environ) is None


def test_a_warm_stage_server_sends_a_client_with_other_kernels_cold() -> None:
    """Its numpy loaded the pinned kernels: a child forked from it could not load others."""
    unset = _stage_server._interpreter({})
    assert _stage_server._interpreter({"OPENBLAS_CORETYPE": "Prescott"}) != unset
    if (pinned := _blas.coretype({})) is not None:  # what `conveyor` sets: the server's own
        assert _stage_server._interpreter({"OPENBLAS_CORETYPE": pinned}) == unset


LOADED_KERNELS = """
import json, sys
from conveyor.cli.main import main
try:
    main(["--version"])
except SystemExit:
    pass
import numpy
from threadpoolctl import threadpool_info
blas = [i for i in threadpool_info() if i["internal_api"] == "openblas"]
print(json.dumps(sorted({i.get("architecture") for i in blas})))
"""


def test_a_conveyor_process_loads_the_pinned_kernels() -> None:
    if not _blas.cpu_flags() >= _blas.NEEDS:
        pytest.skip(f"this CPU lacks {sorted(_blas.NEEDS)}: OpenBLAS chooses, nothing to pin")
    done = subprocess.run(
        [sys.executable, "-c", LOADED_KERNELS],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"},
    )
    assert json.loads(done.stdout.splitlines()[-1]) == ["Haswell"]  # numpy's and scipy's
