"""One HTTP request to an alert receiver, tried again after a doubling pause when it fails.

The standard library's ``urllib`` sends it (no dependency for a few POSTs a day). Redirects
are not followed: a receiver that answers 3xx is misconfigured, and following a POST into a
GET would drop the alert silently. Retried: connection errors, timeouts, 408, 429 and 5xx;
any other status is final at once (the receiver refused the document, and would again).
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

_RETRIED = frozenset({408, 429})
_MAX_BODY = 200  # characters of a refusal's body shown in the warning


@dataclass(frozen=True)
class Attempts:
    """How hard to try: seconds per attempt, retries after the first, the first pause."""

    timeout: float
    retries: int
    backoff: float


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        """Never follow: the 3xx becomes an HTTPError, which the caller reports."""
        del args, kwargs


_OPENER = urllib.request.build_opener(_NoRedirect())


def send(
    method: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    attempts: Attempts,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """Send ``body``; None once the receiver answers 2xx, else why the last attempt failed."""
    pause = attempts.backoff
    tries = 0
    while True:
        tries += 1
        reason, again = _once(method, url, body, headers, attempts.timeout)
        if reason is None:
            return None
        if not again or tries > attempts.retries:
            return f"{reason} ({tries} attempt{'s' if tries > 1 else ''})"
        sleep(pause)
        pause *= 2


def _once(
    method: str, url: str, body: bytes, headers: Mapping[str, str], timeout: float
) -> tuple[str | None, bool]:
    """(None, _) on 2xx; else (why, whether trying again may help)."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)  # noqa: S310 - http(s) only, checked by the spec
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            answer.read(_MAX_BODY)
            return None, False
    except urllib.error.HTTPError as exc:
        try:
            text = exc.read(_MAX_BODY).decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            text = ""
        finally:
            exc.close()
        shown = f": {' '.join(text.split())}" if text else ""
        again = exc.code in _RETRIED or exc.code >= 500
        return f"HTTP {exc.code} {exc.reason}{shown}", again
    except TimeoutError:
        return f"no answer within {timeout:g} s", True
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            return f"no answer within {timeout:g} s", True
        return f"cannot connect: {exc.reason}", True
    except (OSError, ValueError) as exc:  # a reset connection, a malformed answer
        return f"failed: {exc}", True
