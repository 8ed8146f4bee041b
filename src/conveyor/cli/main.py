"""The ``conveyor`` command: thin adapters that parse arguments, call one API function, render.

argparse (as DVC uses) rather than click: it is already imported by Hydra, so the CLI adds
nothing to the start-up of ``compile``. Heavy libraries are imported inside the commands.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor import _blas
from conveyor.cli.adopt import add_adopt_parser
from conveyor.cli.ct import add_ct_parser
from conveyor.cli.diff import add_diff_parser
from conveyor.cli.export import add_export_parser
from conveyor.cli.init import add_init_parser
from conveyor.cli.inspect import add_inspect_parser
from conveyor.cli.monitor import add_monitor_parser
from conveyor.cli.registry import add_registry_parser
from conveyor.cli.score import add_score_parser
from conveyor.cli.serve import add_serve_parser
from conveyor.cli.sweep import add_sweep_parser
from conveyor.cli.warm import COLD_ENV, SOCKET_ENV, add_warm_parser, delegate
from conveyor.errors import ConveyorError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from conveyor.plugins import Registry

BUG_EXIT_CODE = 70


def _version() -> str:
    from importlib.metadata import version

    return version("conveyor-mlops")


def _out(text: str) -> None:
    sys.stdout.write(f"{text}\n")


def _err(text: str) -> None:
    sys.stderr.write(f"{text}\n")


def compile_command(args: argparse.Namespace) -> int:
    """Compile conf/ (plus Hydra overrides) into dvc.yaml and params.yaml."""
    from conveyor import compiler

    root = Path.cwd()
    overrides: list[str] = args.overrides
    if args.check:
        if overrides:
            raise UsageError("--check compares against conf/ alone; drop the overrides")
        drift = compiler.check_drift(root)
        if drift.diff:
            sys.stdout.write(drift.diff)
            _err(f"error: {drift.message()}")
            return 1
        _out("dvc.yaml and params.yaml match conf/")
        return 0
    from conveyor.compiler import cache
    from conveyor.compiler.writer import write_files

    key = cache.inputs_digest(root, overrides)
    hit = None if args.no_cache else cache.lookup(root, key)
    if hit is None:
        compiled = compiler.compile_files(root, overrides)
        cache.store(root, key, compiled)
        hit = cache.Hit(compiled.files, len(compiled.pipeline.stages), compiled.warnings)
    for warning in hit.warnings:
        _err(f"warning: {warning}")
    changed = write_files(root, hit.files)
    stages = hit.stages
    if changed:
        _out(f"wrote {' and '.join(changed)} ({stages} stages)")
    else:
        _out(f"dvc.yaml and params.yaml are up to date ({stages} stages)")
    return 0


def run_command(args: argparse.Namespace) -> int:
    """Run one pipeline stage (what each dvc.yaml stage's cmd calls)."""
    from conveyor.runtime import run_stage

    gc.enable()  # a stage holds real data: collect as usual
    run_stage(Path.cwd(), args.stage)
    return 0


def plugins_command(args: argparse.Namespace) -> int:
    """List installed components by kind, with the distribution that provides each."""
    del args
    from rich.console import Console
    from rich.table import Table

    from conveyor.plugins import GROUPS, Plugins

    plugins = Plugins.discover()
    table = Table(box=None, pad_edge=False)
    for header in ("kind", "name", "tasks", "entry point", "provided by"):
        table.add_column(header, no_wrap=True, overflow="fold")
    for kind in GROUPS:
        registry = plugins[kind]
        for name in registry.names():
            entry_point = registry.entry_point(name)
            assert entry_point is not None  # noqa: S101 - names() lists registered names
            tasks = _tasks_of(registry, name)
            table.add_row(kind, name, tasks, entry_point.value, registry.provider(name))
    # Piped output keeps whole names on one line per component, for grep and scripts.
    Console(width=None if sys.stdout.isatty() else 1000).print(table)
    return 0


def _tasks_of(registry: Registry, name: str) -> str:
    """``all``, the tasks a component supports (comma-separated), or ``-`` for no task notion.

    This imports the component (not its heavy libraries, which load inside methods); a
    plugin that fails to import or to pass its checks shows ``broken``.
    """
    from conveyor.errors import ConveyorError
    from conveyor.spec._base import TASKS

    try:
        component = registry.load(name, where=f"{registry.kind} '{name}'")
    except ConveyorError:
        return "broken"
    tasks = getattr(component, "tasks", None)
    if tasks is None:
        return "-"
    return "all" if set(tasks) >= set(TASKS) else ",".join(tasks)


def schema_infer_command(args: argparse.Namespace) -> int:
    """Draft a data.schema from the project's dataset, one source, or a parquet/csv file."""
    from conveyor import _atomic
    from conveyor.runtime.validation.infer import draft_schema

    text = draft_schema(Path.cwd(), source=args.source, file=args.file)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    _atomic.write_text(Path(args.output), text)
    _err(f"wrote {args.output}: review it, then paste it into a conf/data/*.yaml file")
    return 0


class _VersionAction(argparse.Action):
    """``--version`` that reads the installed version only when asked."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        _out(f"conveyor {_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: ``conveyor [-v] {compile,run,plugins,schema} ...``."""
    parser = argparse.ArgumentParser(
        prog="conveyor",
        description="Declarative MLOps: compile Hydra configs in conf/ into a plain DVC pipeline.",
    )
    parser.add_argument("--version", action=_VersionAction, nargs=0, help="show the version")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show tracebacks of errors (or set CONVEYOR_FULL_ERROR=1) and what a sweep reads",
    )
    commands = parser.add_subparsers(title="commands", dest="command", required=True)

    def add(
        name: str, handler: Callable[[argparse.Namespace], int], text: str, more: str = ""
    ) -> Any:  # noqa: ANN401 - argparse's private subparser type
        sub = commands.add_parser(name, help=text, description=f"{text} {more}".strip())
        sub.set_defaults(handler=handler)
        return sub

    compile_parser = add(
        "compile",
        compile_command,
        "Compile conf/ (plus Hydra OVERRIDES) into dvc.yaml and params.yaml.",
        "conf/ is the source of truth: overrides are for trying things out, and --check "
        "always compares against conf/ with no overrides.",
    )
    compile_parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 with a diff if dvc.yaml/params.yaml are not what conf/ generates",
    )
    compile_parser.add_argument(
        "--no-cache",
        action="store_true",
        help="compile from scratch, not from .conveyor/compile/ (which unchanged inputs hit)",
    )
    compile_parser.add_argument(
        "overrides", nargs="*", metavar="OVERRIDE", help="Hydra overrides: key=value, group=option"
    )
    run_parser = add("run", run_command, "Run one pipeline STAGE (what DVC calls).")
    run_parser.add_argument("stage", metavar="STAGE")
    add("plugins", plugins_command, "List installed components and who provides them.")
    schema_help = "Work with data.schema, the checks of the 'validate' stage."
    schema_parser = commands.add_parser("schema", help=schema_help, description=schema_help)
    schema_verbs = schema_parser.add_subparsers(title="commands", dest="verb", required=True)
    infer_parser = schema_verbs.add_parser(
        "infer",
        help="Draft a data.schema from data, to review and paste into conf/data/.",
        description="Draft a data.schema from data (by default the dataset that 'validate' "
        "reads, per params.yaml), to review and paste into a conf/data/*.yaml file.",
    )
    infer_parser.set_defaults(handler=schema_infer_command)
    origin = infer_parser.add_mutually_exclusive_group()
    origin.add_argument("--source", metavar="NAME", help="one source's ingested rows instead")
    origin.add_argument("--file", metavar="PATH", help="a parquet or csv file instead")
    infer_parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the YAML to FILE (default: stdout)"
    )
    add_registry_parser(commands)
    add_score_parser(commands)
    add_serve_parser(commands)
    add_monitor_parser(commands)
    add_ct_parser(commands)
    add_diff_parser(commands)
    add_init_parser(commands)
    add_inspect_parser(commands)
    add_sweep_parser(commands)
    add_adopt_parser(commands)
    add_warm_parser(commands)
    add_export_parser(commands)
    return parser


def _log_to_stderr() -> None:
    """Conveyor's own debug lines on stderr (``conveyor: ... [1234 ms]``); others' stay off."""
    import logging

    logger = logging.getLogger("conveyor")
    if not logger.handlers:  # once, should main run twice in a process
        handler = logging.StreamHandler(sys.stderr)
        # when, since the process started: what a slow command spends its time on
        handler.setFormatter(logging.Formatter("conveyor: %(message)s [%(relativeCreated).0f ms]"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning ConveyorErrors into a message and an exit code."""
    _blas.pin()  # before anything loads numpy: the same kernels, so the same bytes, everywhere
    args = list(argv if argv is not None else sys.argv[1:])
    # -v may stand anywhere (`conveyor compile -v` too), as users type it after the verb.
    flags = {"-v", "--verbose"}
    verbose = os.environ.get("CONVEYOR_FULL_ERROR") == "1" or bool(flags & set(args))
    args = [a for a in args if a not in flags]
    if verbose:
        _log_to_stderr()
    server = os.environ.get(SOCKET_ENV) if os.environ.get(COLD_ENV) != "1" else None
    if args[:1] == ["run"] and server:
        code = delegate(server, args)
        if code is not None:
            sys.exit(code)
    # Commands are short-lived: collecting garbage during imports and again at exit costs up to
    # 0.1 s and frees nothing that matters (docs/benchmarks.md). `run` turns it back on.
    gc.disable()
    atexit.register(gc.freeze)
    parser = build_parser()
    try:
        namespace = parser.parse_args(args)
        sys.exit(namespace.handler(namespace))
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        _err(f"conveyor: error: {exc.render()}")
        sys.exit(exc.exit_code)
    except ConveyorError as exc:
        if verbose:
            traceback.print_exc()
        _err(f"error: {exc.render()}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # The reader went away (`conveyor dag | head`): not a bug. Point stdout at devnull so the
        # interpreter's own flush at exit does not raise again (Python docs, "Note on SIGPIPE").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except Exception:
        traceback.print_exc()
        _err(
            f"error: this is a bug in conveyor {_version()}; "
            "please report it with the traceback above"
        )
        sys.exit(BUG_EXIT_CODE)
