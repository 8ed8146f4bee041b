"""Trying a step again while another process holds what it needs.

DVC refuses at once when another process holds its experiments lock (``LockError``), and its
own retries wait a second between tries. The sweep's queueing (experiments/_enqueue.py) and
its queue workers (experiments/_queue_worker.py) hold it for milliseconds each, so both sides
try again every few hundredths of a second instead.
"""

from __future__ import annotations

import functools
from time import monotonic, sleep
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


def retrying(
    function: Callable[..., Any], error: type[Exception], *, patience: float, every: float
) -> Callable[..., Any]:
    """``function``, called again every ``every`` seconds while it raises ``error``.

    After ``patience`` seconds the last ``error`` propagates; any other exception at once.
    ``__wrapped__`` is ``function`` (so wrapping the result again finds the original).
    """

    @functools.wraps(function)
    def retried(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - the function's own
        deadline = monotonic() + patience
        while True:
            try:
                return function(*args, **kwargs)
            except error:
                if monotonic() >= deadline:
                    raise
            sleep(every)

    return retried
