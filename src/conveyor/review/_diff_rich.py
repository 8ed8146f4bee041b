"""``conveyor diff`` in a terminal: the markdown comment's sections as rich tables."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from conveyor._paths import BLESSING_FILE

if TYPE_CHECKING:
    from rich.console import Console

    from conveyor.review._changes import ConfigChange
    from conveyor.review.diff import PipelineDiff

MAX_VALUE = 60


def print_rich(diff: PipelineDiff, console: Console) -> None:
    """Print ``diff`` to ``console``: summary, policy, config, stages, reruns, metrics, gate."""
    from conveyor.review._diff_markdown import summary

    console.print(
        f"[bold]conveyor diff[/] {diff.base.describe()} → {diff.head.describe()}", highlight=False
    )
    console.print(summary(diff).replace("**", "").replace("`", ""), highlight=False)
    if diff.policy:
        console.print()
        console.print(_config(diff.policy, "⚠ policy changes", "bold yellow", with_kind=True))
    for choice in diff.choices:
        console.print(f"config group [bold]{choice.group}[/]: {choice.base} → {choice.head}")
    if diff.tuning:
        console.print()
        console.print(_config(diff.tuning, "config changes", "bold", with_kind=False))
    _stages(diff, console)
    _reruns(diff, console)
    _metrics(diff, console)
    _gate(diff, console)
    for note in diff.notes:
        console.print(f"[dim]note: {note}[/]", highlight=False)


def _config(changes: tuple[ConfigChange, ...], title: str, style: str, *, with_kind: bool) -> Any:  # noqa: ANN401 - a rich Table
    from rich.table import Table

    table = Table(title=title, title_style=style, title_justify="left", box=None, pad_edge=False)
    for header in (*(("kind",) if with_kind else ()), "key", "base", "head", "set in"):
        table.add_column(header, overflow="fold")
    for change in changes:
        old = change.base_origin
        new = change.head_origin
        origin = old or new or "" if old is None or new is None or old == new else f"{old} → {new}"
        row = [
            f"[cyan]{change.path}[/]",
            _value(change.base) if change.kind != "added" else "[dim](absent)[/]",
            _value(change.head) if change.kind != "removed" else "[dim](removed)[/]",
            f"[dim]{origin}[/]",
        ]
        table.add_row(*([change.policy or ""] if with_kind else []), *row)
    return table


def _stages(diff: PipelineDiff, console: Console) -> None:
    if not (diff.stages_added or diff.stages_removed or diff.stages_changed):
        return
    console.print("\n[bold]stages[/]")
    for name in diff.stages_added:
        console.print(f"  [green]+ {name}[/] (added)")
    for name in diff.stages_removed:
        console.print(f"  [red]- {name}[/] (removed)")
    for stage in diff.stages_changed:
        console.print(f"  [yellow]~ {stage.name}[/]")
        for change in stage.fields:
            gone = " ".join(f"[red]-{x}[/]" for x in change.removed)
            came = " ".join(f"[green]+{x}[/]" for x in change.added)
            console.print(f"      {change.field}: {gone} {came}".rstrip(), highlight=False)


def _reruns(diff: PipelineDiff, console: Console) -> None:
    from rich.table import Table

    total = len(diff.head_pipeline.stages)
    if not diff.reruns:
        console.print("\n[bold]will rerun on dvc repro:[/] nothing")
        return
    table = Table(
        title=f"will rerun on dvc repro ({len(diff.reruns)} of {total} stages)",
        title_style="bold",
        title_justify="left",
        box=None,
        pad_edge=False,
    )
    table.add_column("stage", style="cyan", no_wrap=True)
    table.add_column("why", overflow="fold")
    for rerun in diff.reruns:
        table.add_row(rerun.stage, ", ".join(str(r) for r in rerun.reasons))
    console.print()
    console.print(table)


def _metrics(diff: PipelineDiff, console: Console) -> None:
    from rich.table import Table

    changed = [d for d in diff.metrics if d.change is None or d.change != 0]
    if not diff.metrics:
        return
    if not changed:
        console.print(f"\n[bold]metrics:[/] no change in the {len(diff.metrics)} values")
        return
    table = Table(title="metrics", title_style="bold", title_justify="left", box=None)
    for header in ("path", "metric", "base", "head", "change"):
        table.add_column(
            header, justify="right" if header in ("base", "head", "change") else "left"
        )
    for d in changed:
        change = "-" if d.change is None else f"{d.change:+.5g}"
        colour = "green" if d.change and d.change > 0 else "red" if d.change else "dim"
        table.add_row(d.path, d.metric, _number(d.base), _number(d.head), f"[{colour}]{change}[/]")
    console.print()
    console.print(table)


def _gate(diff: PipelineDiff, console: Console) -> None:
    if diff.base_gate is None and diff.head_gate is None:
        return
    console.print(f"\n[bold]gate[/] ({BLESSING_FILE})")
    for label, gate in (("base", diff.base_gate), ("head", diff.head_gate)):
        if gate is None:
            console.print(f"  {label}: [dim]no blessing[/]")
            continue
        verdict = "[green]blessed[/]" if gate.blessed else "[bold red]NOT blessed[/]"
        console.print(f"  {label}: {verdict} ({gate.checks} checks)")
        for failed in gate.failed:
            console.print(f"      [red]✗[/] {failed}", highlight=False)


def _value(value: Any) -> str:  # noqa: ANN401 - any config value
    from rich.markup import escape

    text = json.dumps(value, ensure_ascii=False, default=str)
    return escape(text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.5g}"
