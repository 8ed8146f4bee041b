"""The stage server's socket appears only once it listens (conveyor.cli._stage_server._listen).

Starters wait for the socket's file and then connect: a file made by ``bind`` before ``listen``
refused the client that came in between (a CI run's ConnectionRefusedError).
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest

from conveyor.cli import _stage_server

if TYPE_CHECKING:
    from pathlib import Path


def test_the_socket_file_appears_only_once_it_listens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "stages.sock"
    seen_before_listen: list[bool] = []
    listen = socket.socket.listen

    def watched(self: socket.socket, *args: int) -> None:
        seen_before_listen.append(path.exists())
        listen(self, *args)

    monkeypatch.setattr(socket.socket, "listen", watched)
    listener = _stage_server._listen(str(path))
    try:
        assert seen_before_listen == [False]
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(path))  # refused if the file were not the listening socket
        assert sorted(p.name for p in tmp_path.iterdir()) == ["stages.sock"]
    finally:
        listener.close()


def test_a_failed_listen_leaves_no_socket_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(self: socket.socket, *args: int) -> None:
        raise OSError("no listening here")

    monkeypatch.setattr(socket.socket, "listen", refused)
    with pytest.raises(OSError, match="no listening here"):
        _stage_server._listen(str(tmp_path / "stages.sock"))
    assert list(tmp_path.iterdir()) == []
