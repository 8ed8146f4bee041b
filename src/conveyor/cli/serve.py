"""``conveyor serve MODEL``: a thin adapter over :mod:`conveyor.serving` (imported when run)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse


def serve_command(args: argparse.Namespace) -> int:
    """Load MODEL and serve it until interrupted."""
    from conveyor.errors import UsageError
    from conveyor.serving.config import ServeConfig, load_serve_config
    from conveyor.serving.follow import ADMIN_TOKEN_ENV, DEFAULT_POLL_SECONDS
    from conveyor.serving.server import follow_stage, open_model, serve

    if (args.poll is not None or args.remote is not None) and not args.follow:
        flag = "--poll" if args.poll is not None else "--remote"
        raise UsageError(f"{flag} applies to --follow", fix=f"add --follow, or drop {flag}")
    if (args.share is not None or args.sticky is not None) and args.canary is None:
        flag = "--share" if args.share is not None else "--sticky"
        raise UsageError(f"{flag} applies to --canary", fix=f"add --canary MODEL, or drop {flag}")
    opened = open_model(args.model, root=Path.cwd())
    try:
        config_file = Path(args.config) if args.config else opened.config_file
        config = load_serve_config(config_file) if config_file else ServeConfig()
        config = config.replace(
            host=args.host,
            port=args.port,
            log_dir=args.log_dir,
            max_body_bytes=args.max_body_bytes,
            unknown_categories=args.unknown_categories,
            max_rows=args.max_rows,
            header_timeout=args.header_timeout,
            keep_alive_timeout=args.keep_alive_timeout,
            body_timeout=args.body_timeout,
            max_connections=args.max_connections,
            extra_columns=args.extra_columns,
            id_column=args.id_column,
            canary=args.canary,
            canary_share=args.share,
            canary_sticky=args.sticky,
            shadow=args.shadow,
        )
        follower = None
        if args.follow:
            follower = follow_stage(
                args.model,
                root=Path.cwd(),
                poll=args.poll if args.poll is not None else DEFAULT_POLL_SECONDS,
                remote=args.remote,
                token=os.environ.get(ADMIN_TOKEN_ENV),
                unknown_categories=config.unknown_categories,
                version=opened.version,
            )
        serve(opened, config, announce=_announce, follower=follower, root=Path.cwd())
    finally:
        opened.close()
    return 0


def _announce(line: str) -> None:
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


def add_serve_parser(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparser type
    """Register ``serve`` on the CLI's subcommands."""
    text = "Serve a model over HTTP: MLflow /invocations and Open Inference Protocol v2."
    parser = commands.add_parser(
        "serve",
        help=text,
        description=f"{text} MODEL is a bundle directory (models/<name>), a deploy directory "
        "with bundle/ and serve.json (deploy/rest), or a registry reference (name@v1.2.0, "
        "name#prod). Flags override the config file. See docs/serving.md.",
    )
    parser.set_defaults(handler=serve_command)
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8080; 0 = any)")
    parser.add_argument(
        "--config", metavar="FILE", help="a serve.json (default: the deploy directory's)"
    )
    parser.add_argument(
        "--log-dir", metavar="DIR", help="log every prediction as Parquet under DIR"
    )
    parser.add_argument(
        "--max-body-bytes", type=int, metavar="N", help="refuse larger bodies with 413"
    )
    parser.add_argument(
        "--max-rows", type=int, metavar="N", help="refuse requests of more rows with 413"
    )
    follow = parser.add_argument_group(
        "following a registry stage",
        "serve what NAME#STAGE holds now, and swap in each version promoted or rolled back to "
        "it once verified; POST /admin/reload checks at once (with the bearer token in "
        "CONVEYOR_ADMIN_TOKEN; without it the endpoint is off)",
    )
    follow.add_argument(
        "--follow", action="store_true", help="follow the stage MODEL (NAME#STAGE) names"
    )
    follow.add_argument(
        "--poll", type=float, metavar="S", help="seconds between checks (default 5)"
    )
    follow.add_argument(
        "--remote",
        metavar="NAME",
        help="a git remote to fetch registry tags from before each check (default: none, the "
        "local tags)",
    )
    two = parser.add_argument_group(
        "canary and shadow",
        "serve a second version of the model from the same process, checked like MODEL and "
        "refused at start unless it takes the same inputs (docs/serving.md)",
    )
    two.add_argument(
        "--canary",
        metavar="MODEL",
        help="a second version (name@v1.2.0, name#staging, a bundle directory) that answers "
        "--share of the requests",
    )
    two.add_argument(
        "--share",
        type=float,
        metavar="F",
        help="the share of requests the canary answers, between 0 and 1 (default 0.1)",
    )
    two.add_argument(
        "--sticky",
        metavar="COLUMN",
        help="route by the id column COLUMN: the same id always gets the same version",
    )
    two.add_argument(
        "--shadow",
        metavar="MODEL",
        help="a second version that scores every request after the answer (to /metrics and "
        "the prediction log), never answering",
    )
    limits = parser.add_argument_group(
        "connection limits", "slow or idle clients are closed (defaults: docs/serving.md)"
    )
    limits.add_argument(
        "--header-timeout", type=float, metavar="S", help="seconds to send a request head"
    )
    limits.add_argument(
        "--keep-alive-timeout", type=float, metavar="S", help="idle seconds after a response"
    )
    limits.add_argument(
        "--body-timeout", type=float, metavar="S", help="seconds to send a request body"
    )
    limits.add_argument(
        "--max-connections", type=int, metavar="N", help="close connections past N open ones"
    )
    parser.add_argument(
        "--unknown-categories",
        choices=("error", "allow"),
        help="a category the model never saw: a 400 (error, default) or passed on (allow)",
    )
    parser.add_argument(
        "--extra-columns",
        choices=("ignore", "error"),
        help="/invocations columns the model does not take: dropped and counted in /metrics "
        "(ignore, default, as MLflow does) or a 400 naming each (error)",
    )
    parser.add_argument(
        "--id-column",
        metavar="NAME",
        help="a request column that is never scored but written to the prediction log, to join "
        "labels on later (conveyor monitor --labels FILE --id-column NAME)",
    )
