"""The dask executor's settings and faults, without a cluster: nothing listens at the address."""

from __future__ import annotations

import socket
import time

import pytest
from pydantic import ValidationError

from conveyor.errors import ExecutorError
from conveyor.executors.dask import ADDRESS_VARIABLE, DaskExecutor, DaskParams


def _dead_address() -> str:
    """A loopback port that was free a moment ago: connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


def _open(params: dict[str, object]) -> None:
    executor = DaskExecutor.from_config(params)
    assert isinstance(executor, DaskExecutor)
    with executor.open(where="executor", source="conf/executor/dask.yaml"):
        pytest.fail("opened a session on a scheduler that does not exist")


def test_an_unreachable_configured_address_names_the_setting_and_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ADDRESS_VARIABLE, raising=False)
    address = _dead_address()
    started = time.monotonic()
    with pytest.raises(ExecutorError, match="cannot connect to the Dask scheduler") as caught:
        _open({"address": address, "connect_timeout": 1})
    assert time.monotonic() - started < 30  # the timeout, not dask's default of 30 s
    error = caught.value
    assert error.where == "executor.params.address (conf/executor/dask.yaml)"
    assert f"'{address}'" in error.what
    assert "within 1s" in error.what
    assert error.fix is not None
    assert "executor.params.address to null" in error.fix
    assert "executor=local" in error.fix
    assert error.exit_code == 1


def test_the_environment_wins_over_the_configured_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address = _dead_address()
    monkeypatch.setenv(ADDRESS_VARIABLE, address)
    with pytest.raises(ExecutorError, match=f"at '{address}'") as caught:
        _open({"address": "tcp://127.0.0.1:1", "connect_timeout": 1})
    assert caught.value.where == f"{ADDRESS_VARIABLE} (environment)"
    assert caught.value.fix is not None
    assert f"unset {ADDRESS_VARIABLE}" in caught.value.fix


def test_a_blank_environment_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ADDRESS_VARIABLE, "  ")
    with pytest.raises(ExecutorError, match=r"cannot connect") as caught:
        _open({"address": _dead_address(), "connect_timeout": 1})
    assert caught.value.where is not None
    assert caught.value.where.startswith("executor.params.address")


@pytest.mark.parametrize("limit", ["auto", "4GiB", "512MB", "1.5 GiB", 2**30, "100"])
def test_memory_limits_dask_reads_are_accepted(limit: object) -> None:
    assert DaskParams.model_validate({"memory_limit": limit}).memory_limit == limit


@pytest.mark.parametrize("limit", ["lots", "4 GiBs", "-1GB", ""])
def test_a_memory_limit_dask_cannot_read_is_refused(limit: str) -> None:
    with pytest.raises(ValidationError, match="memory_limit"):
        DaskParams.model_validate({"memory_limit": limit})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("workers", 0),
        ("workers", 1025),
        ("connect_timeout", 0),
        ("connect_timeout", 601),
        ("memory_limit", 0),
    ],
)
def test_out_of_range_settings_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        DaskParams.model_validate({field: value})


@pytest.mark.parametrize(("field", "value"), [("workers", 1), ("workers", 1024)])
def test_settings_at_their_limits_are_accepted(field: str, value: int) -> None:
    assert getattr(DaskParams.model_validate({field: value}), field) == value


def test_dask_s_warnings_in_the_driver_wait_for_verbose(caplog: pytest.LogCaptureFixture) -> None:
    """A worker dying mid-gather makes distributed.client warn before conveyor's own error."""
    import logging

    import distributed  # noqa: F401 - its logging config gives distributed.client a level

    from conveyor.executors.dask import _driver_logs_quiet

    client = logging.getLogger("distributed.client")
    before = (client.level, logging.getLogger("distributed").level)
    with caplog.at_level(logging.DEBUG, logger="conveyor"), _driver_logs_quiet():
        client.warning("Couldn't gather 1 keys, rescheduling")  # -v: shown
    # not verbose (another test's `conveyor -v` in this process may have left it at DEBUG)
    with caplog.at_level(logging.WARNING, logger="conveyor"), _driver_logs_quiet():
        client.warning("Couldn't gather 1 keys, rescheduling")
        logging.getLogger("distributed.worker").warning("a child with no level of its own")
        client.error("an error still shows")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("distributed")] == [
        "Couldn't gather 1 keys, rescheduling",
        "an error still shows",
    ]
    assert (client.level, logging.getLogger("distributed").level) == before
