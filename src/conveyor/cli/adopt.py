"""``conveyor adopt EXP``: a thin adapter over :mod:`conveyor.experiments.adopt`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse


def adopt_command(args: argparse.Namespace) -> int:
    """Write experiment EXP's values into conf/, recompile, and say what changed."""
    from conveyor.experiments.adopt import adopt_experiment

    adopted = adopt_experiment(Path.cwd(), args.exp, echo=_err)
    _out(f"adopted '{adopted.name}': {' '.join(adopted.overrides) or '(no overrides)'}")
    _out(f"  conf/ changed: {', '.join(adopted.changed) or '(it already had these values)'}")
    if adopted.compiled:
        _out(f"  recompiled: {', '.join(adopted.compiled)}")
    if adopted.not_checked_out:
        _out(
            f"  not checked out: {', '.join(adopted.not_checked_out)} (the experiment did not "
            "build them; 'dvc repro' does)"
        )
    _out("  review with 'git diff', then commit")
    return 0


def _out(line: str) -> None:
    sys.stdout.write(f"{line}\n")


def _err(line: str) -> None:
    sys.stderr.write(f"{line}\n")
    sys.stderr.flush()


def add_adopt_parser(commands: Any) -> None:  # noqa: ANN401 - argparse's private subparser type
    """``conveyor adopt EXP``."""
    text = "Turn a DVC experiment into conf/ edits, recompile, and check out its outputs."
    parser = commands.add_parser(
        "adopt",
        help=text,
        description=f"{text} Works for any experiment ('dvc exp run -S key=value -S "
        "group=option', a sweep's trial): the overrides are read back from its params.yaml; "
        "group options go into conf/config.yaml's defaults list, values onto the lines that "
        "set them (comments kept). conf/ must be committed first. Docs: docs/sweeps.md.",
    )
    parser.set_defaults(handler=adopt_command)
    parser.add_argument(
        "exp", metavar="EXP", help="experiment name or sha, as 'dvc exp show' lists them"
    )
