"""The ``conveyor`` command: thin adapters that parse arguments, call one API function, render.

Nothing heavy is imported at module level, so ``conveyor --help`` stays fast.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import traceback
from pathlib import Path

import click

from conveyor.errors import ConveyorError

BUG_EXIT_CODE = 70


def _version() -> str:
    from importlib.metadata import version

    return version("conveyor-mlops")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    package_name="conveyor-mlops", prog_name="conveyor", message="%(prog)s %(version)s"
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show tracebacks of errors (or set CONVEYOR_FULL_ERROR=1).",
)
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Declarative MLOps: compile Hydra configs in conf/ into a plain DVC pipeline."""
    ctx.obj = {"verbose": verbose}


@cli.command("compile")
@click.option(
    "--check",
    is_flag=True,
    help="Exit 1 with a diff if dvc.yaml/params.yaml are not what conf/ generates.",
)
@click.argument("overrides", nargs=-1)
def compile_command(check: bool, overrides: tuple[str, ...]) -> None:
    """Compile conf/ (plus Hydra OVERRIDES) into dvc.yaml and params.yaml.

    conf/ is the source of truth: overrides are for trying things out, and --check always
    compares against conf/ with no overrides.
    """
    from conveyor import compiler

    root = Path.cwd()
    if check:
        if overrides:
            raise click.UsageError("--check compares against conf/ alone; drop the overrides")
        diff = compiler.check(root)
        if diff:
            click.echo(diff, nl=False)
            click.echo(
                "error: dvc.yaml/params.yaml are not what conf/ generates; "
                "run 'conveyor compile' and commit the result",
                err=True,
            )
            sys.exit(1)
        click.echo("dvc.yaml and params.yaml match conf/")
        return
    compiled = compiler.compile_files(root, overrides)
    changed = compiled.write(root)
    stages = len(compiled.pipeline.stages)
    if changed:
        click.echo(f"wrote {' and '.join(changed)} ({stages} stages)")
    else:
        click.echo(f"dvc.yaml and params.yaml are up to date ({stages} stages)")


@cli.command("run")
@click.argument("stage")
def run_command(stage: str) -> None:
    """Run one pipeline STAGE (this is what each dvc.yaml stage's cmd calls)."""
    from conveyor.runtime import run_stage

    gc.enable()  # a stage holds real data: collect as usual
    run_stage(Path.cwd(), stage)


@cli.command("plugins")
def plugins_command() -> None:
    """List installed components by kind, with the distribution that provides each."""
    from rich.console import Console
    from rich.table import Table

    from conveyor.plugins import GROUPS, Plugins

    plugins = Plugins.discover()
    table = Table(box=None, pad_edge=False)
    for header in ("kind", "name", "entry point", "provided by"):
        table.add_column(header, no_wrap=True, overflow="fold")
    for kind in GROUPS:
        registry = plugins[kind]
        for name in registry.names():
            entry_point = registry.entry_point(name)
            assert entry_point is not None  # noqa: S101 - names() lists registered names
            table.add_row(kind, name, entry_point.value, registry.provider(name))
    # Piped output keeps whole names on one line per component, for grep and scripts.
    Console(width=None if sys.stdout.isatty() else 1000).print(table)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning ConveyorErrors into a message and an exit code."""
    args = list(argv if argv is not None else sys.argv[1:])
    # -v may stand anywhere (`conveyor compile -v` too), as users type it after the verb.
    flags = {"-v", "--verbose"}
    verbose = os.environ.get("CONVEYOR_FULL_ERROR") == "1" or bool(flags & set(args))
    argv = [a for a in args if a not in flags]
    # Commands are short-lived: collecting garbage during imports and again at exit costs up to
    # 0.1 s and frees nothing that matters (docs/benchmarks.md). `run` turns it back on.
    gc.disable()
    atexit.register(gc.freeze)
    try:
        cli.main(args=argv, prog_name="conveyor", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except ConveyorError as exc:
        if verbose:
            traceback.print_exc()
        click.echo(f"error: {exc.render()}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:
        traceback.print_exc()
        click.echo(
            f"error: this is a bug in conveyor {_version()}; "
            "please report it with the traceback above",
            err=True,
        )
        sys.exit(BUG_EXIT_CODE)
