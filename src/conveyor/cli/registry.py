"""``conveyor registry ...``: thin adapters over :mod:`conveyor.registry`, rendered with rich."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable


def _out(text: str) -> None:
    sys.stdout.write(f"{text}\n")


def _err(text: str) -> None:
    sys.stderr.write(f"{text}\n")


def _registry_root() -> Path:
    return Path.cwd()


def _print_json(data: object) -> None:

    _out(json.dumps(data, indent=2, sort_keys=True, default=str))


def _print_table(headers: list[str], rows: list[list[str]], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=title, title_justify="left", box=None, pad_edge=False, show_header=any(headers)
    )
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console(width=None if sys.stdout.isatty() else 1000).print(table)


def _when(timestamp: int) -> str:
    from datetime import UTC

    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _report_change(entry: Any) -> None:  # noqa: ANN401 - a registry.HistoryEntry
    what = {"register": "registered", "promote": "promoted", "rollback": "rolled back to"}
    stage = f" in '{entry.stage}'" if entry.stage else ""
    _out(
        f"{what.get(entry.action, entry.action)} {entry.name}@"
        f"{entry.version}{stage} at commit {entry.commit[:7]} (tag '{entry.tag}')"
    )
    if entry.forced:
        _err(f"warning: forced past the gate ({entry.forced}); recorded in the tag and history")


def registry_register_command(args: argparse.Namespace) -> int:
    """Register a new version of a model at a commit."""
    from conveyor import registry

    entry = registry.register(
        _registry_root(), args.name, version=args.version, bump=args.bump, ref=args.ref
    )
    _report_change(entry)
    return 0


def registry_promote_command(args: argparse.Namespace) -> int:
    """Assign a stage to a blessed version."""
    from conveyor import registry

    entry = registry.promote(
        _registry_root(), args.name, args.version, args.to, force=args.force, reason=args.message
    )
    _report_change(entry)
    return 0


def registry_rollback_command(args: argparse.Namespace) -> int:
    """Give a stage back to the version that held it before."""
    from conveyor import registry

    _report_change(registry.rollback(_registry_root(), args.name, args.stage, reason=args.message))
    return 0


def registry_list_command(args: argparse.Namespace) -> int:
    """Every model: latest version and the version in each stage."""
    from conveyor import registry

    models = registry.list_models(_registry_root())
    if args.json:
        _print_json([model.to_dict() for model in models])
        return 0
    stages = sorted({stage for model in models for stage in model.stages})
    rows = [
        [
            m.name,
            f"{m.latest}{m.marks(m.latest)}" if m.latest else "-",
            *(f"{m.stages[s]}{m.marks(m.stages[s], s)}" if s in m.stages else "-" for s in stages),
        ]
        for m in models
    ]
    _print_table(["model", "latest", *(f"#{stage}" for stage in stages)], rows)
    _warn_problems([problem for model in models for problem in model.problems])
    return 0


def _warn_problems(problems: list[Any]) -> None:
    """One ``warning: tag: what`` and its fix per moved, re-created or deleted tag."""
    for problem in problems:
        _err(f"warning: {problem.render()}")


def _flatten(data: object, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(data, dict) and data:
        return [pair for k, v in data.items() for pair in _flatten(v, f"{prefix}{k}.")]
    return [(prefix.rstrip("."), str(data))]


def registry_show_command(args: argparse.Namespace) -> int:
    """A model's versions, stages and per-version lineage."""
    from conveyor import registry

    summary, versions = registry.show_model(_registry_root(), args.name)
    if args.json:
        _print_json({**summary.to_dict(), "versions": [v.to_dict() for v in versions]})
        return 0
    latest = f"{summary.latest}{summary.marks(summary.latest)}" if summary.latest else "-"
    _out(f"{summary.name}: latest {latest}")
    stages = [[s, f"{v}{summary.marks(v, s)}"] for s, v in summary.stages.items()]
    _print_table(["stage", "version"], stages)
    for detail in versions:
        lineage = detail.lineage
        blessing = lineage.blessing
        tag = [p for p in summary.problems if p.version == detail.version]
        rows = [
            ["commit", lineage.commit],
            *([f"tag {p.kind}", f"{p.tag}: {p.what}"] for p in tag),
            ["registered", f"{_when(detail.registered_at)} by {detail.author}"],
            ["stages", ", ".join(detail.stages) or "-"],
            ["blessed", "-" if blessing is None else str(blessing.get("blessed"))],
            *([f"md5 {path}", md5] for path, md5 in lineage.outputs.items()),
            *([f"params {key}", value] for key, value in _flatten(lineage.params)),
            *([f"metric {key}", value] for key, value in _flatten(lineage.metrics or {})),
            *_card_rows(detail.card),
        ]
        _out("")
        _print_table(["", ""], rows, title=f"{summary.name}@{detail.version}")
    _warn_problems(summary.problems)
    return 0


def _card_rows(card: Any) -> list[list[str]]:  # noqa: ANN401 - a registry.card.CardRecord
    """The card's rows in ``registry show``: where it is, whether it is as registered, summary.

    The summary is text from conf/, so rich's ``[markup]`` in it is escaped (shown as written).
    """
    from rich.markup import escape

    if card is None:
        return [["card", "none at this commit (projects compiled before the card stage)"]]
    where = f"{card.path} at commit {card.commit[:7]}"
    rows = [["card", f"{where} (md5 {card.md5 or '-'}, {card.status})"]]
    if card.md5 is not None:
        rows.append(["card read", f"git show {card.commit[:7]}:{card.path}"])
    if card.html:
        rows.append(["card html", card.html])
    summary = card.summary
    if summary.get("description"):
        rows.append(["card says", escape(str(summary["description"]))])
    if summary.get("primary_metric"):
        value = summary.get("primary_value")
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        rows.append(["card primary", f"{summary['primary_metric']} {shown}"])
    rows += [
        [f"card {key}", escape(", ".join(map(str, summary[key])) if isinstance(summary[key], list)
         else str(summary[key]))]
        for key in ("blessed", "owners", "license")
        if summary.get(key) not in (None, [], "")
    ]  # fmt: skip
    return rows


def registry_history_command(args: argparse.Namespace) -> int:
    """Every registration, promotion and rollback of a model, oldest first."""
    from conveyor import registry

    entries = registry.history(_registry_root(), args.name)
    if args.json:
        _print_json([entry.to_dict() for entry in entries])
        return 0
    headers = ["time (UTC)", "action", "version", "stage", "commit", "author", "note"]
    rows = [
        [
            _when(e.timestamp),
            e.action + (" (forced)" if e.forced else ""),
            e.version or "-",
            e.stage or "-",
            e.commit[:7],
            e.author,
            "; ".join(n for n in (e.forced and f"forced: {e.forced}", e.note) if n),
        ]
        for e in entries
    ]
    _print_table(headers, rows)
    return 0


def registry_verify_command(args: argparse.Namespace) -> int:
    """Materialise a version's bundle from the DVC cache and check its integrity."""
    from conveyor import registry

    done = registry.verify_version(_registry_root(), args.ref)  # refuses a moved tag
    _out(
        f"OK: {done.version.ref} (commit {done.version.commit[:7]}): {done.files} files match "
        "dvc.lock and the bundle's sha256 manifest"
    )
    _warn_problems(list(done.version.problems))  # a re-created tag: same commit, reported
    return 0


def add_registry_parser(commands: Any) -> None:  # noqa: ANN401 - argparse's private type
    """``conveyor registry {register,promote,rollback,list,show,history,verify}``."""
    text = "Model versions and stages as git tags (GTO's grammar): register, promote, roll back."
    registry_parser = commands.add_parser("registry", help=text, description=text)
    verbs = registry_parser.add_subparsers(title="commands", dest="verb", required=True)

    def verb(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> Any:  # noqa: ANN401
        sub = verbs.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    register = verb(
        "register",
        registry_register_command,
        "Register a new version of NAME at a commit whose dvc.lock and metrics are committed.",
    )
    register.add_argument("name", metavar="NAME")
    how = register.add_mutually_exclusive_group()
    how.add_argument("--version", metavar="vX.Y.Z", help="the version (default: bump the latest)")
    how.add_argument("--bump", choices=["major", "minor", "patch"], help="default: patch")
    register.add_argument("--ref", default="HEAD", metavar="REV", help="commit (default HEAD)")
    promote = verb(
        "promote",
        registry_promote_command,
        "Assign STAGE to a version whose committed reports/blessing.json is blessed.",
    )
    promote.add_argument("name", metavar="NAME")
    promote.add_argument("version", metavar="VERSION")
    promote.add_argument("--to", required=True, metavar="STAGE", help="e.g. staging, prod")
    promote.add_argument(
        "--force", action="store_true", help="promote an unblessed version (recorded as forced)"
    )
    promote.add_argument("-m", "--message", help="why, recorded in the tag")
    rollback = verb(
        "rollback",
        registry_rollback_command,
        "Give STAGE back to the version that held it before (a new event; history is kept).",
    )
    rollback.add_argument("name", metavar="NAME")
    rollback.add_argument("--stage", required=True, metavar="STAGE")
    rollback.add_argument("-m", "--message", help="why, recorded in the tag")
    listing = verb("list", registry_list_command, "Models, latest versions and stages.")
    show = verb("show", registry_show_command, "A model's versions, stages and lineage.")
    show.add_argument("name", metavar="NAME")
    past = verb("history", registry_history_command, "A model's registry events, oldest first.")
    past.add_argument("name", metavar="NAME")
    for sub in (listing, show, past):
        sub.add_argument("--json", action="store_true", help="machine-readable output")
    verify = verb(
        "verify",
        registry_verify_command,
        "Materialise a version's bundle from the DVC cache and check it (exit 4 if tampered; "
        "exit 1 if its tag was moved).",
    )
    verify.add_argument("ref", metavar="NAME[@VERSION|#STAGE]")
