"""``conveyor explain``, ``conveyor status``, ``conveyor config show|schema``: read-only views.

Thin adapters: parse arguments, call one API function, render its result as text or JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse


def _out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else f"{text}\n")


def _json(data: object) -> None:
    _out(json.dumps(data, indent=2, ensure_ascii=False))


def explain_command(args: argparse.Namespace) -> int:
    """Explain one key: value, the files and overrides that set it, the stages that read it."""
    from conveyor.compiler import compile_project
    from conveyor.config import load_project
    from conveyor.config.explain import explain

    project = load_project(Path.cwd(), args.overrides)
    explanation = explain(project, args.key, compile_project(project).readers)
    if args.json:
        _json(explanation.to_dict())
    else:
        _out(explanation.render())
    return 0


def status_command(args: argparse.Namespace) -> int:
    """Report each stale stage and why; exit 1 with --fail-if-stale when any is."""
    from conveyor.review.status import pipeline_status

    status = pipeline_status(Path.cwd())
    for warning in status.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if args.json:
        _json(status.to_dict())
    else:
        _out(status.render())
    return 1 if args.fail_if_stale and not status.up_to_date else 0


def lineage_command(args: argparse.Namespace) -> int:
    """Where a bundle came from: its lineage against HEAD's dvc.lock and the run record."""
    from conveyor.runtime.facts import read_facts
    from conveyor.runtime.layout import model_dir
    from conveyor.runtime.provenance import provenance

    root = Path.cwd()
    bundle = args.bundle or model_dir(read_facts(root).name)
    found = provenance(root, bundle.rstrip("/"))
    if args.json:
        _json(found.to_dict())
    else:
        _out(found.render())
    return 0


def config_show_command(args: argparse.Namespace) -> int:
    """Print the composed, validated config with every spec default filled in."""
    import yaml

    from conveyor.config import load_project
    from conveyor.config.explain import resolved_config, subtree

    project = load_project(Path.cwd(), args.overrides)
    data: Any = resolved_config(project, fill_defaults=args.resolve_defaults)
    if args.key:
        data = subtree(project, data, args.key)
    if args.json:
        _json(data)
    else:
        _out(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100))
    return 0


def config_schema_command(args: argparse.Namespace) -> int:
    """Write JSON Schemas of conf/ files for editors; print VS Code's yaml.schemas mapping."""
    from conveyor.config.schema import write_schemas

    root = Path.cwd()
    out_dir = Path(args.output) if args.output else None
    mapping = write_schemas(root, out_dir)
    _json({"yaml.schemas": mapping})
    sys.stderr.write(
        f"wrote {len(mapping)} schemas; put the mapping above in .vscode/settings.json "
        "(VS Code's YAML extension, by Red Hat) to get completion and checks in conf/\n"
    )
    return 0


def add_inspect_parser(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparser type
    """``explain KEY``, ``status``, ``config show`` and ``config schema``."""
    text = "Explain one config KEY: its value, who set it, through which defaults, who reads it."
    explain_parser = commands.add_parser(
        "explain",
        help=text,
        description=f"{text} Every conf file (and line) or override that wrote the key is "
        "listed in composition order: the last one wins, the earlier ones were shadowed.",
    )
    explain_parser.set_defaults(handler=explain_command)
    explain_parser.add_argument("key", metavar="KEY", help="a dotted key: model.params.max_depth")
    explain_parser.add_argument(
        "overrides", nargs="*", metavar="OVERRIDE", help="Hydra overrides: key=value, group=option"
    )
    explain_parser.add_argument("--json", action="store_true", help="print JSON")

    text = "Show which stages 'dvc repro' will run, and why each one is stale."
    status_parser = commands.add_parser(
        "status",
        help=text,
        description=f"{text} Names the changed dependency, the changed param with its old "
        "(dvc.lock) and new (params.yaml) values, a missing output, a changed stage "
        "definition, a stage never run, or the stale upstream stage. Exits 0 either way, "
        "like 'dvc status', unless --fail-if-stale.",
    )
    status_parser.set_defaults(handler=status_command)
    status_parser.add_argument("--json", action="store_true", help="print JSON")
    status_parser.add_argument(
        "--fail-if-stale", action="store_true", help="exit 1 when any stage is stale (for CI)"
    )

    text = "Show where a model bundle came from, without guessing a commit."
    lineage_parser = commands.add_parser(
        "lineage",
        help=text,
        description=f"{text} Prints the md5 of each input it was trained on, the params it "
        "read and the library versions (all recorded in the bundle); whether HEAD's dvc.lock "
        "records this bundle, or which inputs differ; and, from the local run record, whether "
        "the work tree differed from HEAD when it was trained.",
    )
    lineage_parser.set_defaults(handler=lineage_command)
    lineage_parser.add_argument(
        "bundle", nargs="?", metavar="BUNDLE", help="a bundle directory (default: models/NAME)"
    )
    lineage_parser.add_argument("--json", action="store_true", help="print JSON")

    text = "Inspect the configuration: the composed config, or JSON Schemas for editors."
    config_parser = commands.add_parser("config", help=text, description=text)
    verbs = config_parser.add_subparsers(title="commands", dest="verb", required=True)
    show = verbs.add_parser(
        "show",
        help="Print the composed, validated config with every default filled in.",
        description="Print the composed, validated config with every default of the spec "
        "filled in (like Hydra's --cfg job), in the composed key order.",
    )
    show.set_defaults(handler=config_show_command)
    show.add_argument(
        "overrides", nargs="*", metavar="OVERRIDE", help="Hydra overrides: key=value, group=option"
    )
    fill = show.add_mutually_exclusive_group()
    fill.add_argument(
        "--resolve-defaults",
        dest="resolve_defaults",
        action="store_true",
        default=True,
        help="fill in every default of the spec (the default)",
    )
    fill.add_argument(
        "--raw",
        dest="resolve_defaults",
        action="store_false",
        help="only what conf/ and the overrides compose (params.yaml's content)",
    )
    show.add_argument("--key", metavar="PATH", help="print only the sub-tree at PATH")
    show.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    schema = verbs.add_parser(
        "schema",
        help="Write JSON Schemas of conf/ files for editors (VS Code's YAML extension).",
        description="Write one JSON Schema per config group (and one for conf/config.yaml), "
        "with each component's params typed by its kind, then print the yaml.schemas "
        "mapping for VS Code.",
    )
    schema.set_defaults(handler=config_schema_command)
    schema.add_argument(
        "-o", "--output", metavar="DIR", help="where to write (default: .conveyor/schemas)"
    )
