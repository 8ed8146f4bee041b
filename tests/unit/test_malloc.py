"""glibc's thresholds raised while a task runs, and put back after (conveyor._malloc).

The allocator is per process, so each behaviour test runs a fresh interpreter under the
environment Dask's nanny gives its workers, and counts its own page faults: a 16 MiB bytearray
allocated, filled and freed faults in 4,096 pages each time unless the heap keeps the block.
(Not a numpy array: numpy asks for transparent huge pages for large ones, 2 MiB a fault.)
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import subprocess
import sys
import textwrap

import pytest

from conveyor import _malloc
from conveyor._malloc import (
    GLIBC_DEFAULT,
    MMAP_VARIABLE,
    TRIM_VARIABLE,
    KeepingFreedMemory,
    fixed_thresholds,
    freed_memory_kept,
)

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="mallopt and malloc_trim are glibc's",
)

PAGES = 16 * 2**20 // 4096
"""Pages of one 16 MiB array: the faults an allocation costs when the block is a fresh mmap."""

PROBE = textwrap.dedent(
    """
    import json, resource, sys
    from conveyor._malloc import freed_memory_kept

    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    def per_allocation(rounds=16):
        before = faults()
        for _ in range(rounds):
            block = bytearray(16 * 2**20)  # malloc, then every page written (zeros)
            del block
        return (faults() - before) / rounds

    def resident():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096

    out = {"before": per_allocation()}
    if sys.argv[1] == "nested":
        outer, inner = freed_memory_kept(), freed_memory_kept()
        out["applied"] = outer.__enter__()
        inner.__enter__()
        out["both"] = per_allocation()
        inner.__exit__(None, None, None)
        out["outer_only"] = per_allocation()
        outer.__exit__(None, None, None)
    else:
        with freed_memory_kept() as applied:
            out["applied"] = applied
            out["inside"] = per_allocation()
            out["resident_inside"] = resident()
        out["resident_after"] = resident()
    out["after"] = per_allocation()
    print(json.dumps(out))
    """
)


def _probe(mode: str, environ: dict[str, str]) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.pop("GLIBC_TUNABLES", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        env={**env, **environ},
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


@glibc_only
@pytest.mark.parametrize(
    "environ",
    [
        {TRIM_VARIABLE: "65536"},  # what Dask's nanny sets
        # each of the two values must come back: the other one alone would keep the block
        {TRIM_VARIABLE: "65536", MMAP_VARIABLE: str(32 * 2**20)},  # trimmed at the heap's top
        {TRIM_VARIABLE: str(2**30), MMAP_VARIABLE: str(GLIBC_DEFAULT)},  # mmapped
    ],
    ids=["nanny", "trim-threshold-back", "mmap-threshold-back"],
)
def test_under_fixed_thresholds_a_freed_block_is_reused_then_the_values_come_back(
    environ: dict[str, str],
) -> None:
    result = _probe("single", environ)
    assert result["applied"] is True
    assert result["before"] > 0.9 * PAGES  # every allocation a fresh mmap: the cost it removes
    assert result["inside"] < 0.1 * PAGES  # the first block faults in once, then is reused
    assert result["after"] > 0.9 * PAGES  # the worker's own threshold is back
    # the heap kept the freed block while the task ran; malloc_trim gave it back at the end
    assert result["resident_inside"] - result["resident_after"] > 8 * 2**20


@glibc_only
def test_the_values_come_back_only_when_the_last_of_two_tasks_ends() -> None:
    result = _probe("nested", {TRIM_VARIABLE: "65536"})
    assert result["both"] < 0.1 * PAGES
    assert result["outer_only"] < 0.1 * PAGES  # one task ended, the other still runs
    assert result["after"] > 0.9 * PAGES


@glibc_only
def test_a_threshold_mallopt_cannot_put_back_leaves_the_process_alone() -> None:
    """4 GiB + 64 KiB reaches mallopt as 65536 through ctypes: restoring it would leave the
    worker trimming at 64 KiB where its environment asked for 4 GiB."""
    environ = {TRIM_VARIABLE: str(2**32 + 65536), MMAP_VARIABLE: str(32 * 2**20)}
    result = _probe("single", environ)
    assert result["applied"] is False
    # blocks come from the heap and glibc keeps what is freed, after as before
    assert result["before"] < 0.25 * PAGES
    assert result["after"] < 0.25 * PAGES


@glibc_only
def test_a_process_whose_thresholds_glibc_slides_itself_is_left_alone() -> None:
    result = _probe("single", {})
    assert result["applied"] is False
    # glibc raised its threshold at the first free, so only the first two of the 16 blocks
    # faulted in: nothing to gain, and mallopt would stop the sliding for good
    assert result["before"] < 0.25 * PAGES


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({TRIM_VARIABLE: "65536"}, (65536, GLIBC_DEFAULT)),
        ({MMAP_VARIABLE: "1048576"}, (GLIBC_DEFAULT, 1048576)),
        ({TRIM_VARIABLE: "0", MMAP_VARIABLE: "262144"}, (0, 262144)),
        ({TRIM_VARIABLE: "64k"}, None),  # not a number glibc and we read alike
        ({TRIM_VARIABLE: str(2**31 - 1)}, (2**31 - 1, GLIBC_DEFAULT)),  # mallopt's largest
        ({TRIM_VARIABLE: str(2**31)}, None),  # glibc takes it, mallopt could not put it back
        ({TRIM_VARIABLE: "65536", MMAP_VARIABLE: str(2**32 + 65536)}, None),
        ({TRIM_VARIABLE: "-1"}, None),
        ({TRIM_VARIABLE: "65536", "GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"}, None),
        ({TRIM_VARIABLE: "65536", "GLIBC_TUNABLES": "glibc.cpu.x86_shstk=on"}, (65536, 131072)),
    ],
)
def test_the_thresholds_the_environment_fixed(
    environ: dict[str, str], expected: tuple[int, int] | None
) -> None:
    assert fixed_thresholds(environ) == expected


def test_nothing_changes_where_the_environment_fixed_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (TRIM_VARIABLE, MMAP_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    with freed_memory_kept() as applied:
        assert applied is False
        assert _malloc._running == 0


def _running_tasks() -> int:
    return _malloc._running


def test_a_wrapped_task_pickles_under_its_own_name() -> None:
    task = pickle.loads(pickle.dumps(KeepingFreedMemory(_running_tasks)))  # noqa: S301 - ours
    assert task.__name__ == "_running_tasks"  # Dask names the task (and its errors) by it
    assert task.fn is _running_tasks


@glibc_only
def test_a_wrapped_task_runs_inside_and_leaves_nothing_running() -> None:
    script = textwrap.dedent(
        """
        import pickle
        from conveyor import _malloc
        def read():
            return _malloc._running
        task = pickle.loads(pickle.dumps(_malloc.KeepingFreedMemory(read)))
        print(task(), _malloc._running, task.__name__)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, TRIM_VARIABLE: "65536"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["1", "0", "read"]
