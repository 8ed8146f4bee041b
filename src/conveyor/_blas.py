"""One choice of OpenBLAS kernels on every x86-64 machine, so a float model is the same bytes.

OpenBLAS picks its kernels by CPU when it loads: the SkylakeX ones where the CPU has AVX-512,
the Haswell ones where it has AVX2, and they add up in different orders. A linear model fitted
on each differs in the last bits, and so does everything downstream of it: the committed
``dvc.lock`` of ``examples/climate`` (a Ridge, made on an AVX2 machine) came out with another
model hash and metrics at the 15th digit from ``dvc repro -f`` on an AVX-512 one, and
reproduced byte for byte there with ``OPENBLAS_CORETYPE=Haswell``. Like MKL's ``MKL_CBWR``,
conveyor pins the choice before numpy loads OpenBLAS: the Haswell kernels wherever the CPU can
run them (AVX2 and FMA, every x86-64 server CPU since 2013), unless the user set
``OPENBLAS_CORETYPE`` themselves. Elsewhere (an older or non-x86 CPU) OpenBLAS chooses as usual.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import MutableMapping

CORETYPE_ENV = "OPENBLAS_CORETYPE"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""What OpenMP (xgboost, lightgbm) and the BLAS libraries (numpy, scipy, sklearn) size their
thread pools by when they load."""
PINNED = "Haswell"
NEEDS = frozenset({"avx2", "fma"})
"""The instructions the Haswell kernels use: forced on a CPU without them, they would crash."""

CPUINFO = Path("/proc/cpuinfo")


def coretype(environ: MutableMapping[str, str] | None = None) -> str | None:
    """The kernels a process with ``environ`` gets from :func:`pin`: the user's choice if any."""
    environ = os.environ if environ is None else environ
    return environ.get(CORETYPE_ENV) or (PINNED if cpu_flags() >= NEEDS else None)


def pin(environ: MutableMapping[str, str] | None = None) -> None:
    """Set ``OPENBLAS_CORETYPE`` in ``environ`` (the process's) to :func:`coretype`'s choice.

    Only before numpy is imported does it change this process; its children inherit it anyway.
    """
    environ = os.environ if environ is None else environ
    if CORETYPE_ENV not in environ and (kernels := coretype(environ)):
        environ[CORETYPE_ENV] = kernels


@functools.cache
def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The first CPU's instruction-set flags (Linux x86's ``flags`` line), empty if unknown."""
    try:
        with cpuinfo.open(encoding="ascii", errors="replace") as lines:
            for line in lines:
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()
