"""The workers' reads of DVC's queue broker: whole messages only (experiments/_broker).

A real kombu filesystem channel with DVC's folder options; the writer is kombu's own ``_put``,
or a file made as ``_put`` makes it, caught at each of its steps.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from kombu import Connection
from kombu.transport import filesystem
from kombu.transport.virtual import Empty

from conveyor.experiments._broker import read_whole_messages, take_whole

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

MESSAGE = {"body": "a trial", "properties": {"delivery_tag": "t-1"}}


@pytest.fixture
def channel(tmp_path: Path) -> Iterator[Any]:
    """A kombu filesystem channel as DVC's FSApp configures it (in = out, processed kept)."""
    (tmp_path / "in").mkdir()
    (tmp_path / "processed").mkdir()
    options = {
        "data_folder_in": str(tmp_path / "in"),
        "data_folder_out": str(tmp_path / "in"),
        "processed_folder": str(tmp_path / "processed"),
        "store_processed": True,
    }
    with Connection("filesystem://", transport_options=options) as connection:
        yield connection.channel()


def _created(channel: Any, queue: str = "celery") -> Path:
    """A message file as kombu's ``_put`` first makes it: created, empty, not yet locked."""
    from pathlib import Path

    path = Path(channel.data_folder_in) / f"{int(time.time() * 1000)}_{uuid.uuid4()}.{queue}.msg"
    path.touch()
    return path


def test_a_written_message_is_taken_once_and_kept_as_processed(channel: Any) -> None:
    channel._put("celery", MESSAGE)
    assert take_whole(channel, "celery") == MESSAGE
    with pytest.raises(Empty):
        take_whole(channel, "celery")
    from pathlib import Path

    assert [p.suffix for p in Path(channel.processed_folder).iterdir()] == [".msg"]


def test_an_empty_message_file_is_left_for_its_writer(channel: Any) -> None:
    path = _created(channel)
    with pytest.raises(Empty):
        take_whole(channel, "celery")
    assert path.exists()  # not taken: kombu's own read moved it and failed on ''
    path.write_text(json.dumps(MESSAGE))
    assert take_whole(channel, "celery") == MESSAGE
    assert not path.exists()


def test_a_message_being_written_is_read_once_its_writer_lets_go(channel: Any) -> None:
    path = _created(channel)
    text = json.dumps(MESSAGE).encode()
    locked = threading.Event()

    def write_slowly() -> None:  # as kombu's _put: lock, write, unlock
        with path.open("r+b", buffering=0) as message:
            filesystem.lock(message, filesystem.LOCK_EX)
            message.write(text[:5])
            locked.set()
            time.sleep(0.3)
            message.write(text[5:])
            filesystem.unlock(message)

    writer = threading.Thread(target=write_slowly)
    writer.start()
    try:
        assert locked.wait(10)
        assert take_whole(channel, "celery") == MESSAGE  # the whole of it, not its first bytes
    finally:
        writer.join()


def test_other_queues_messages_and_files_taken_meanwhile_are_passed_over(
    channel: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    channel._put("celery.pidbox", {"body": "a control message"})
    with pytest.raises(Empty):
        take_whole(channel, "celery")
    # kombu names a file by the millisecond, then a random uuid: two put in the same
    # millisecond sort either way, so the other queue's message is renamed to sort first.
    folder = channel.data_folder_in
    (other,) = os.listdir(folder)
    os.rename(os.path.join(folder, other), os.path.join(folder, f"0_{other}"))
    channel._put("celery", MESSAGE)
    listdir = os.listdir
    # listed between the two, gone when read: another worker took it in between
    monkeypatch.setattr(os, "listdir", lambda path: ["0_gone.celery.msg", *listdir(path)])
    assert take_whole(channel, "celery") == MESSAGE
    assert os.path.exists(os.path.join(folder, f"0_{other}"))  # left for its own queue


def test_an_abandoned_empty_message_does_not_hold_up_the_ones_after_it(channel: Any) -> None:
    """A writer that died after creating its file leaves it empty for good: the whole messages
    listed after it are still taken, and it is left where it is."""
    import os
    from pathlib import Path

    abandoned = Path(channel.data_folder_in) / f"0_{uuid.uuid4()}.celery.msg"  # listed first
    abandoned.touch()
    channel._put("celery", MESSAGE)
    assert sorted(os.listdir(channel.data_folder_in))[0] == abandoned.name
    assert take_whole(channel, "celery") == MESSAGE
    assert abandoned.exists()


def test_without_processed_folder_a_taken_message_is_removed(
    channel: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    monkeypatch.setattr(channel, "store_processed", False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "processed"))
    channel._put("celery", MESSAGE)
    assert take_whole(channel, "celery") == MESSAGE
    assert list((tmp_path / "processed").iterdir()) == []


def test_without_processed_folder_nothing_is_written_where_it_would_be(
    channel: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kombu's ``processed_folder`` (``processed`` in the working directory by default) is only
    for ``store_processed``: without it, the message goes through the temporary directory."""
    import tempfile

    unused = tmp_path / "never-made"
    monkeypatch.setattr(channel, "store_processed", False)
    monkeypatch.setattr(channel, "processed_folder", str(unused))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "processed"))
    channel._put("celery", MESSAGE)
    assert take_whole(channel, "celery") == MESSAGE
    assert not unused.exists()
    assert list((tmp_path / "processed").iterdir()) == []


def test_read_whole_messages_is_what_the_channel_then_reads_with(
    channel: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filesystem.Channel, "_get", filesystem.Channel._get)  # put back after
    read_whole_messages()
    path = _created(channel)
    with pytest.raises(Empty):
        channel._get("celery")
    assert path.exists()


def test_a_message_another_consumer_moved_first_is_not_delivered_twice(
    channel: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers read the same whole file; the move decides who takes it. The one whose move
    finds the file gone passes over it instead of running the trial a second time."""
    import shutil
    from pathlib import Path

    channel._put("celery", MESSAGE)
    move = shutil.move
    elsewhere = Path(channel.processed_folder) / "other-worker"
    elsewhere.mkdir()

    def beaten(source: str, destination: str) -> object:
        move(source, elsewhere)  # the other worker's move lands first
        return move(source, destination)

    monkeypatch.setattr(shutil, "move", beaten)
    with pytest.raises(Empty):
        take_whole(channel, "celery")
    assert [p.suffix for p in elsewhere.iterdir()] == [".msg"]  # the other worker has it


def test_a_message_lost_to_another_consumer_does_not_hold_up_the_next(
    channel: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other worker wins the first message; this one takes the second in the same read."""
    import shutil
    from pathlib import Path

    second = {"body": "the next trial", "properties": {"delivery_tag": "t-2"}}
    channel._put("celery", MESSAGE)
    time.sleep(0.002)  # the next millisecond: listed after the first
    channel._put("celery", second)
    move = shutil.move
    elsewhere = Path(channel.processed_folder) / "other-worker"
    elsewhere.mkdir()
    lost: list[str] = []

    def beaten_once(source: str, destination: str) -> object:
        if not lost:
            lost.append(source)
            move(source, elsewhere)  # the other worker's move lands first
        return move(source, destination)

    monkeypatch.setattr(shutil, "move", beaten_once)
    assert take_whole(channel, "celery") == second
    assert len(list(elsewhere.iterdir())) == 1
