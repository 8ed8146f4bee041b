"""Which thread pool sizes a warm stage's client asks for (conveyor.cli._stage_server).

The forked child resizes only what differs from the server's own variables; a client lacking
one of them runs cold. tests/integration/test_warm.py forks real children and counts threads.
"""

from __future__ import annotations

import pytest

from conveyor.cli._stage_server import _pool_sizes, _reachable, _thread_variables


@pytest.mark.parametrize(
    ("environment", "sizes"),
    [
        ({}, {}),
        ({"OMP_NUM_THREADS": "3"}, {"openmp": 3, "blas": 3}),  # OpenBLAS and MKL read it too
        ({"OMP_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": "1"}, {"openmp": 3, "blas": 1}),
        ({"MKL_NUM_THREADS": "2"}, {"blas": 2}),
        ({"OPENBLAS_NUM_THREADS": "4", "MKL_NUM_THREADS": "2"}, {"blas": 4}),
        ({"OMP_NUM_THREADS": "", "OPENBLAS_NUM_THREADS": "two"}, {}),  # not a count: as unset
        ({"PATH": "/bin"}, {}),
    ],
)
def test_pool_sizes_are_read_as_the_libraries_read_them(
    environment: dict[str, str], sizes: dict[str, int]
) -> None:
    assert _pool_sizes(environment) == sizes


def test_a_client_must_carry_every_variable_the_server_imported_under() -> None:
    server = {"OMP_NUM_THREADS": "1", "PATH": "/bin"}
    baseline = _thread_variables(server)
    assert baseline == {"OMP_NUM_THREADS": "1"}
    assert _reachable({"OMP_NUM_THREADS": "1"}, baseline)
    assert _reachable({"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "1"}, baseline)  # resized
    assert not _reachable({"MKL_NUM_THREADS": "1"}, baseline)  # OpenMP's default is lost
    assert _reachable({}, {})  # `conveyor warm` without variables: every client
