"""DVC's queue broker (kombu's filesystem transport), read only once a message is written.

A queued trial is a message file in ``.dvc/tmp/exps/celery/broker/in``. kombu writes one by
creating the file, then locking it and writing the message; a consumer takes the next file by
moving it to ``processed`` and reading it, without the lock. A worker polling (every 0.1 s,
:mod:`._queue_worker`) between the two steps of a writer took an empty file: kombu's
``JSONDecodeError`` stopped the worker ("Unrecoverable error"), and the trial was gone from the
queue without having run ("left the DVC queue without a result": one sweep of about 50 of
bench_sweep's project in a row). The writer is the sweep queueing its trials
(:mod:`._enqueue`), or a worker answering a control message.

:func:`read_whole_messages` gives the workers kombu's ``Channel._get`` reading as dvc_task's own
``FSApp._iter_folder`` lists the queue: under a shared lock, passing over an empty file. An
empty file is one whose writer has not locked it yet, a written one was written whole under
the writer's lock; the next poll finds the message complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any


def read_whole_messages() -> None:
    """Consumers in this process take only messages written whole (:func:`take_whole`)."""
    from kombu.transport import filesystem

    filesystem.Channel._get = take_whole  # type: ignore[method-assign]


def take_whole(channel: Any, queue: str) -> Any:  # noqa: ANN401 - kombu's Channel, payload
    """The next message of ``queue``, taken and decoded: kombu's ``filesystem.Channel._get``.

    As kombu's own, but a message is read under a shared lock before it is taken (moved to
    the processed folder), and one still empty is left for the next poll. ``Empty`` when no
    message is ready.
    """
    from kombu.transport.filesystem import LOCK_SH, lock, unlock
    from kombu.transport.virtual import Empty
    from kombu.utils.encoding import bytes_to_str
    from kombu.utils.json import loads

    suffix = f"{queue}.msg"
    for name in sorted(os.listdir(channel.data_folder_in)):
        if name.partition(".")[2] != suffix:  # another queue's
            continue
        path = os.path.join(channel.data_folder_in, name)
        try:
            with open(path, "rb") as message:  # shared: waits while its writer holds it
                lock(message, LOCK_SH)  # type: ignore[no-untyped-call]
                try:
                    payload = message.read()
                finally:
                    unlock(message)  # type: ignore[no-untyped-call]
        except FileNotFoundError:  # another consumer took it
            continue
        if not payload:  # created, not written yet
            continue
        processed = channel.processed_folder if channel.store_processed else tempfile.gettempdir()
        try:
            shutil.move(path, processed)  # taking it: only one consumer's move succeeds
        except OSError:
            continue
        if not channel.store_processed:
            os.remove(os.path.join(processed, name))
        return loads(bytes_to_str(payload))  # type: ignore[no-untyped-call]
    raise Empty
