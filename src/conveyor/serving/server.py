"""``conveyor serve``: find the model MODEL names, load it, and run the app on uvicorn."""

from __future__ import annotations

import contextlib
import gc
import signal
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.errors import ServeError
from conveyor.serving._open import DEPLOY_CONFIG, OpenedModel, open_model

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

    from starlette.types import ASGIApp

    from conveyor.bundle.predictor import Predictor
    from conveyor.serving.config import ServeConfig, UnknownCategories
    from conveyor.serving.follow import Follower
    from conveyor.serving.traffic import Traffic

__all__ = ["DEPLOY_CONFIG", "OpenedModel", "follow_stage", "open_model", "serve"]

_BACKLOG = 2048  # uvicorn's default


def serve(
    opened: OpenedModel,
    config: ServeConfig,
    *,
    announce: Callable[[str], None],
    follower: Follower | None = None,
    root: Path | None = None,
) -> None:
    """Run the server until interrupted; ``announce`` gets one line with the URL and model.

    With ``follower`` (:func:`follow_stage`), the server keeps to the version a registry stage
    holds, and ``announce`` also gets one line per version swapped in. A ``canary`` or
    ``shadow`` in ``config`` is loaded from ``root`` (default: the working directory) and
    checked against the model before anything listens (:mod:`conveyor.serving.traffic`).
    """
    from conveyor.bundle.predictor import Predictor
    from conveyor.serving.app import create_app
    from conveyor.serving.traffic import Traffic, load_candidate

    predictor = Predictor(opened.bundle, unknown_categories=config.unknown_categories)
    predictor.version = config.model_version or opened.version
    if follower is not None:
        predictor.version = opened.version  # the registry's name for it: what the stage holds
        follower.announce = announce
    candidate = load_candidate(config, predictor, root=root or Path.cwd())
    traffic = Traffic(candidate) if candidate is not None else None
    try:
        app = create_app(predictor, config=config, follower=follower, traffic=traffic)
        _run(app, config, opened, predictor, announce, follower, traffic)
    finally:
        if traffic is not None:
            traffic.close()


def _run(
    app: ASGIApp,
    config: ServeConfig,
    opened: OpenedModel,
    predictor: Predictor,
    announce: Callable[[str], None],
    follower: Follower | None,
    traffic: Traffic | None,
) -> None:
    import uvicorn

    from conveyor.serving._connection import ConnectionLimits, protocol_class

    listener = _bind(config.host, config.port)
    host, port = listener.getsockname()[:2]
    limits = ConnectionLimits(config.header_timeout, config.body_timeout, config.max_connections)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            loop="auto",
            http=protocol_class(limits),
            ws="none",  # no WebSocket routes; an upgrade would leave the deadlines behind
            timeout_keep_alive=config.keep_alive_timeout,  # type: ignore[arg-type] # any float
            workers=1,
            lifespan="on",
            log_level="warning",
            access_log=False,
            server_header=False,
        )
    )
    # A server lives long: collect garbage again (the CLI turns it off for short commands),
    # but move everything loaded so far out of the collector's way.
    gc.enable()
    gc.freeze()
    shown = f"[{host}]" if ":" in host else host
    fast = "fast path" if predictor.fast_path else f"Pipeline ({predictor.fast_path_reason})"
    following = f", following {follower.reference} every {follower.poll:g} s" if follower else ""
    if traffic is not None:
        other = traffic.candidate
        share = f" for {other.share:.0%} of requests" if other.mode == "canary" else ""
        sticky = f", sticky by '{other.sticky}'" if other.sticky else ""
        following += f", {other.mode} {other.predictor.version}{share}{sticky}"
    announce(
        f"serving {opened.label} (model '{predictor.name}' {predictor.version}, sha256 "
        f"{predictor.sha256[:12]}, {fast}{following}) at http://{shown}:{port} - POST "
        f"/invocations, POST /v2/models/{predictor.name}/infer, docs at /docs"
    )
    with _terminate_quietly():
        server.run(sockets=[listener])


def follow_stage(
    model: str,
    *,
    root: Path,
    poll: float,
    remote: str | None,
    token: str | None,
    unknown_categories: UnknownCategories,
    version: str,
) -> Follower:
    """A :class:`~conveyor.serving.follow.Follower` of MODEL, which must be ``NAME#STAGE``."""
    from conveyor.errors import UsageError
    from conveyor.registry.reference import RegistryRef, parse_model
    from conveyor.serving.follow import Follower

    reference = parse_model(model, root)
    if not isinstance(reference, RegistryRef) or reference.stage is None:
        raise UsageError(
            f"--follow needs a registry stage, and '{model}' is not one",
            fix="give NAME#STAGE (diagnostics#prod), or drop --follow to serve MODEL as it is",
        )
    if not poll > 0:
        raise UsageError(f"--poll must be above 0 seconds, got {poll:g}", fix="try --poll 5")
    return Follower(
        root,
        reference,
        version=version,
        poll=poll,
        remote=remote,
        token=token,
        unknown_categories=unknown_categories,
    )


@contextlib.contextmanager
def _terminate_quietly() -> Iterator[None]:
    """Make SIGTERM a normal exit once uvicorn has shut down (it re-raises the signal then).

    Without this the default action kills the process before ``finally`` blocks run, so the
    temporary copy of a registry bundle would stay behind and the exit code would be -15.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise SystemExit(0)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        # Listening now, before the banner: a client that reads it may connect at once, and
        # waits in the backlog until uvicorn's loop accepts.
        listener.listen(_BACKLOG)
    except OSError as exc:
        listener.close()
        raise ServeError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            fix="choose another --port or --host, or stop the process that holds it",
        ) from exc
    listener.set_inheritable(True)
    return listener
