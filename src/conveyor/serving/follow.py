"""Follow a registry stage: ``conveyor serve NAME#STAGE --follow``.

A background task re-resolves ``NAME#STAGE`` every ``poll`` seconds (after ``git fetch --tags``
from a remote, when one is given); ``POST /admin/reload`` asks for a check now. When the stage
names another version, that version is materialised from the DVC cache and checked in a
worker thread, off the request path:

1. integrity: each file against its md5 in the DVC listing, then the sha256 manifest;
2. trust: every type in the Pipeline on the exact-type allowlist (``load_bundle``);
3. compatibility: the same model name and the same input schema (a schema change would break
   every client mid-flight: restart the server for that);
4. probe rows: the model scores rows built from its schema with finite answers.

Only then is it swapped in, on the event loop, as one reference (``_Server.swap``): a request in
flight finishes on the version it began with. A version that fails is never served; the server
keeps the current one and says why: a warning in the log, ``conveyor_model_reload_failures``
in /metrics, ``last_reload`` in /version. It is not checked again until the stage moves (or an
explicit reload asks). Checks run one at a time, and a check that sees the stage move again
while it verified starts over on the newer version: two quick promotions end on the last one,
never on a stale one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.errors import BundleError, ConveyorError, GitError, RegistryError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from conveyor.bundle.predictor import Predictor
    from conveyor.registry.query import Version
    from conveyor.registry.reference import RegistryRef
    from conveyor.serving.config import UnknownCategories
    from conveyor.serving.telemetry import Telemetry

__all__ = ["ADMIN_TOKEN_ENV", "DEFAULT_POLL_SECONDS", "Follower", "Outcome", "schema_change"]

ADMIN_TOKEN_ENV = "CONVEYOR_ADMIN_TOKEN"  # noqa: S105 - the variable's name, not a token
"""The environment variable holding the bearer token of ``POST /admin/reload``."""
DEFAULT_POLL_SECONDS = 5.0
_PROBE_ROWS = 64
_RESTARTS = 3
"""How often one check starts over when the stage moves while a version is verified."""
_log = logging.getLogger("conveyor.serving")


class _Served(Protocol):
    """What the follower needs of the app's server (``conveyor.serving.app._Server``)."""

    telemetry: Telemetry

    @property
    def predictor(self) -> Predictor: ...

    def swap(self, predictor: Predictor) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """How one check went.

    ``outcome``: ``unchanged``, ``swapped``, ``refused`` (the stage's version failed a check),
    ``unreachable`` (git or the remote failed) or ``unresolved`` (the stage names no version).
    """

    outcome: str
    version: str | None
    reason: str | None
    """The /metrics label of a refusal: integrity, missing, trust, incompatible, probe,
    unreachable, unresolved or internal."""
    detail: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data."""
        return dict(self.__dict__)


class _RefusedError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class _Candidate:
    predictor: Predictor
    scratch: Path


class Follower:
    """Keeps a server on the version a registry stage holds; see the module docstring."""

    def __init__(
        self,
        root: Path,
        reference: RegistryRef,
        *,
        version: str,
        poll: float = DEFAULT_POLL_SECONDS,
        remote: str | None = None,
        token: str | None = None,
        unknown_categories: UnknownCategories = "error",
        announce: Callable[[str], None] | None = None,
    ) -> None:
        self.root = root
        self.reference = reference
        self.version = version
        self.poll = poll
        self.remote = remote
        self.token = token or None
        self.unknown_categories = unknown_categories
        self.announce = announce
        self.last_check: Outcome | None = None
        self.last_reload: Outcome | None = None
        self._refused: dict[str, _RefusedError] = {}
        self._server: _Served | None = None
        self._lock = asyncio.Lock()
        self._scratch: Path | None = None
        self._pending: _Candidate | None = None

    def bind(self, server: _Served) -> None:
        """Attach to the server whose model this follower swaps."""
        self._server = server

    def status(self) -> dict[str, Any]:
        """What /version adds: the stage followed and how the last check and reload went."""
        return {
            "following": str(self.reference),
            "poll_seconds": self.poll,
            "last_check": self.last_check.to_dict() if self.last_check else None,
            "last_reload": self.last_reload.to_dict() if self.last_reload else None,
        }

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Poll in the background while the server runs; clean up after it."""
        task = asyncio.create_task(self._poll(), name="conveyor-follow")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for candidate in (self._pending,):
                if candidate is not None:
                    shutil.rmtree(candidate.scratch, ignore_errors=True)
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)

    async def reload(self, authorization: str | None) -> tuple[int, dict[str, Any]]:
        """``POST /admin/reload``: (HTTP status, JSON body); a check now, refused versions too."""
        expected = f"Bearer {self.token}".encode()
        given = (authorization or "").encode()
        if self.token is None or not hmac.compare_digest(given, expected):
            return 403, {
                "error": "POST /admin/reload needs 'Authorization: Bearer <token>' with the "
                f"token in {ADMIN_TOKEN_ENV} of the server's environment"
            }
        outcome = await self.check(retry=True)
        status = {"unchanged": 200, "swapped": 200, "refused": 409}.get(outcome.outcome, 503)
        return status, outcome.to_dict()

    async def check(self, *, retry: bool = False) -> Outcome:
        """Re-resolve the stage; verify and swap in a new version. One check at a time."""
        from starlette.concurrency import run_in_threadpool

        async with self._lock:
            outcome, candidate = await run_in_threadpool(self._check, retry)
            if candidate is not None:  # on the event loop: no handler runs during the swap
                assert self._server is not None  # noqa: S101 - bound by create_app
                self._server.swap(candidate.predictor)
                old, self._scratch, self._pending = self._scratch, candidate.scratch, None
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
                self.version = candidate.predictor.version
            self._report(outcome)
            return outcome

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            try:
                await self.check()
            except Exception:  # a bug must not stop following; say so and go on
                _log.exception("checking %s failed", self.reference)

    def _report(self, outcome: Outcome) -> None:
        previous, self.last_check = self.last_check, outcome
        server = self._server
        if outcome.outcome == "swapped":
            self.last_reload = outcome
            if server is not None:
                server.telemetry.reloaded()
            if self.announce is not None:
                self.announce(f"{self.reference}: {outcome.detail}")
            return
        if outcome.outcome == "unchanged":
            return
        if outcome.outcome == "refused":
            self.last_reload = outcome
        repeated = previous is not None and (previous.detail, previous.version) == (
            outcome.detail,
            outcome.version,
        )
        if server is not None and outcome.reason is not None and not repeated:
            server.telemetry.reloaded(outcome.reason)
        if not repeated:  # one line per new problem, not one per poll
            _log.warning("%s: %s", self.reference, outcome.detail)

    # --- in a worker thread ----------------------------------------------------------------

    def _check(self, retry: bool) -> tuple[Outcome, _Candidate | None]:
        current = self.version
        for _ in range(_RESTARTS):
            try:
                target = self._resolve()
            except _RefusedError as refused:
                kind = "unreachable" if refused.reason == "unreachable" else "unresolved"
                detail = f"{refused.detail}; still serving {current}"
                return _outcome(kind, None, refused.reason, detail), None
            if target.version == current:
                return _outcome("unchanged", current, None, f"serving {current}"), None
            known = self._refused.get(target.version)
            if known is None or retry:
                try:
                    self._pending, known = self._verify(target), None
                except _RefusedError as refused:
                    self._refused[target.version] = known = refused
            if known is not None:
                detail = f"refused {target.ref}: {known.detail}; still serving {current}"
                return _outcome("refused", target.version, known.reason, detail), None
            candidate = self._pending
            assert candidate is not None  # noqa: S101 - set above when not refused
            try:
                again = self._resolve().version
            except _RefusedError:
                again = target.version  # verified against the last state seen: go on
            if again == target.version:
                self._refused.pop(target.version, None)
                detail = f"swapped {current} -> {target.version} (sha256 "
                detail += f"{candidate.predictor.sha256[:12]})"
                return _outcome("swapped", target.version, None, detail), candidate
            shutil.rmtree(candidate.scratch, ignore_errors=True)  # moved again: the newer one
            self._pending = None
        detail = f"the stage kept moving during {_RESTARTS} verifications; still serving {current}"
        return _outcome("unresolved", None, "unresolved", detail), None

    def _resolve(self) -> Version:
        from conveyor import _git
        from conveyor.registry.query import resolve

        if self.remote is not None:
            try:
                _git.git(self.root, "fetch", "--quiet", "--tags", self.remote)
            except GitError as exc:
                raise _RefusedError(
                    "unreachable", f"fetching tags from '{self.remote}': {exc}"
                ) from exc
        try:
            return resolve(self.root, str(self.reference))
        except RegistryError as exc:
            cause = exc.__cause__
            reason = "unreachable" if isinstance(cause, GitError | OSError) else "unresolved"
            raise _RefusedError(reason, f"cannot resolve {self.reference}: {exc}") from exc
        except OSError as exc:
            raise _RefusedError("unreachable", f"cannot read the registry: {exc}") from exc

    def _verify(self, version: Version) -> _Candidate:
        scratch = Path(tempfile.mkdtemp(prefix="conveyor-serve-"))
        try:
            return _Candidate(self._load(version, scratch / "bundle"), scratch)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise

    def _load(self, version: Version, path: Path) -> Predictor:
        from conveyor.bundle import load_bundle, verify_manifest
        from conveyor.bundle.predictor import Predictor
        from conveyor.registry.materialise import materialise

        try:
            done = materialise(self.root, version.ref, path)
        except BundleError as exc:
            raise _RefusedError("integrity", str(exc)) from exc
        except RegistryError as exc:
            raise _RefusedError("missing", str(exc)) from exc
        try:
            verify_manifest(path)
        except BundleError as exc:
            raise _RefusedError("integrity", str(exc)) from exc
        try:
            bundle = load_bundle(path, trusted=done.trusted)
        except BundleError as exc:
            raise _RefusedError("trust", str(exc)) from exc
        try:
            predictor = Predictor(bundle, unknown_categories=self.unknown_categories)
        except ConveyorError as exc:
            raise _RefusedError("probe", str(exc)) from exc
        except Exception as exc:
            _log.exception("loading %s failed", version.ref)
            raise _RefusedError("internal", f"{type(exc).__name__}: {exc}") from exc
        predictor.version = version.version
        self._compatible(predictor)
        if (problem := predictor.probe(_PROBE_ROWS)) is not None:
            raise _RefusedError("probe", problem)
        return predictor

    def _compatible(self, predictor: Predictor) -> None:
        assert self._server is not None  # noqa: S101 - bound by create_app
        served = self._server.predictor
        if predictor.name != served.name:
            raise _RefusedError(
                "incompatible", f"it is model '{predictor.name}', not '{served.name}'"
            )
        if (change := schema_change(predictor, served)) is not None:
            raise _RefusedError(
                "incompatible",
                f"its input schema differs from the served one ({change}); clients would "
                "break mid-flight: restart 'conveyor serve' to change the schema",
            )


def schema_change(new: Predictor, old: Predictor) -> str | None:
    """How ``new``'s inputs differ from ``old``'s (names, order, types), or None if they don't.

    Two versions one server answers with must take the same requests: a swap, a canary, a shadow.
    """
    if _columns(new) == _columns(old):
        return None
    changed = sorted(set(new.schema.names) ^ set(old.schema.names))
    if changed:
        return f"columns {changed} added or removed"
    return "the same columns, in another order or with other types"


def _columns(predictor: Predictor) -> list[tuple[str, str, str]]:
    """What clients and the prediction log rely on: names, order and types (not ranges)."""
    return [(rule.name, rule.kind, rule.dtype) for rule in predictor.schema.rules]


def _outcome(kind: str, version: str | None, reason: str | None, detail: str) -> Outcome:
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Outcome(kind, version, reason, detail, at)
