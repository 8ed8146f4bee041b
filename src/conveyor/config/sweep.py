"""Search spaces for ``conveyor sweep``, in Hydra's override grammar.

The one place that uses Hydra's override parser for sweeps. A dimension comes from an override
such as ``model.params.max_depth=2,4,6``, ``range(2,8)``, ``choice(xgboost,random_forest)``,
``glob(*)`` (a config group's options), ``interval(0.01,0.3)`` or ``tag(log,interval(...))``.
Grid search expands the discrete ones the way Hydra's BasicSweeper does (a Cartesian product in
the order the keys are given); Bayesian search also takes intervals. Spaces may be declared in
``conf/sweep/<name>.yaml`` (not in the defaults list, so never composed into params.yaml)::

    optimizer: optuna          # or grid (the default)
    trials: 20                 # optuna only
    params:
      model.params.max_depth: range(2,8)
      model.params.learning_rate: tag(log, interval(0.01, 0.3))
      model: choice(xgboost, random_forest)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from conveyor.config.compose import CONFIG_DIR, group_options
from conveyor.errors import SweepError

if TYPE_CHECKING:
    from pathlib import Path

SWEEP_GROUP = "sweep"
SWEEP_SYNTAX = (
    "key=a,b,c | key=range(start,stop[,step]) | key=choice(a,b) | group=glob(*) | "
    "key=interval(low,high) | key=tag(log,interval(low,high)) (optuna only)"
)
Optimizer = Literal["grid", "optuna"]
MAX_TRIALS = 10_000
"""The most trials one sweep may plan: each is a full pipeline run, and a grid is materialised."""


@dataclass(frozen=True)
class Dimension:
    """One swept (or fixed) key: its discrete values as override text, or a continuous interval.

    ``values`` holds each value as it goes after ``key=`` (``'4'``, ``'random_forest'``,
    ``'[rest]'``); it is empty for an interval, which has ``low``/``high`` instead.
    """

    key: str
    source: str
    values: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    is_group: bool = False
    numeric: tuple[float, ...] | None = field(default=None, compare=False)
    """The values as numbers when they all are (a ``range``), for Optuna's int/float steps."""

    @property
    def is_interval(self) -> bool:
        """Whether this is a continuous interval (Bayesian search only)."""
        return self.low is not None

    @property
    def is_swept(self) -> bool:
        """Whether the dimension takes more than one value."""
        return self.is_interval or len(self.values) > 1

    def override(self, value: object) -> str:
        """The override that sets this dimension to ``value``."""
        return f"{self.key}={value}"


@dataclass(frozen=True)
class SpaceFile:
    """A search space declared in ``conf/sweep/<name>.yaml``."""

    name: str
    path: str
    optimizer: Optimizer | None
    trials: int | None
    params: tuple[str, ...]


def parse_space(conf_dir: Path, overrides: list[str] | tuple[str, ...]) -> list[Dimension]:
    """Parse sweep overrides into dimensions, naming every malformed one at once."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import (
        ChoiceSweep,
        Glob,
        IntervalSweep,
        RangeSweep,
    )
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    groups = {p.name for p in conf_dir.iterdir() if p.is_dir()} if conf_dir.is_dir() else set()
    dimensions: dict[str, Dimension] = {}
    problems: list[str] = []
    for text in overrides:
        try:
            (parsed,) = parser.parse_overrides([text])
        except HydraException as exc:
            problems.append(f"'{text}': {_reason(exc)}")
            continue
        key = parsed.get_key_element()
        is_group = parsed.key_or_group in groups
        value: object = parsed.value()
        if parsed.is_delete():
            problems.append(f"'{text}': a sweep cannot delete keys")
            continue
        if isinstance(value, Glob):
            if not is_group:
                problems.append(f"'{text}': glob() selects options of a config group")
                continue
            options = value.filter(group_options(conf_dir, parsed.key_or_group))
            if not options:
                problems.append(f"'{text}': matches no option of group '{parsed.key_or_group}'")
                continue
            dimension = Dimension(key, text, tuple(options), is_group=True)
        elif isinstance(value, IntervalSweep):
            assert value.start is not None  # noqa: S101 - the grammar requires both ends
            assert value.end is not None  # noqa: S101
            integer = "int" in value.tags
            if not value.start < value.end:
                problems.append(f"'{text}': an interval needs low < high")
                continue
            dimension = Dimension(
                key,
                text,
                low=float(value.start),
                high=float(value.end),
                log="log" in value.tags,
                integer=integer,
            )
        elif isinstance(value, RangeSweep):
            numbers = _range_values(value.start, value.stop, value.step)
            if not numbers:
                problems.append(f"'{text}': the range is empty (the stop is excluded)")
                continue
            if len(numbers) > MAX_TRIALS:
                problems.append(f"'{text}': the range has more than {MAX_TRIALS:,} values")
                continue
            shown = tuple(str(n) for n in numbers)
            dimension = Dimension(key, text, shown, is_group=is_group, numeric=tuple(numbers))
        elif isinstance(value, ChoiceSweep):
            shown = tuple(parsed.sweep_string_iterator())
            dimension = Dimension(key, text, shown, is_group=is_group)
        else:
            dimension = Dimension(
                key, text, (parsed.get_value_element_as_str(),), is_group=is_group
            )
        if key in dimensions:
            problems.append(f"'{text}': '{key}' is already swept by '{dimensions[key].source}'")
            continue
        dimensions[key] = dimension
    if problems:
        raise SweepError(
            "cannot parse the search space:\n    " + "\n    ".join(problems),
            where="conveyor sweep",
            fix=f"write each swept key as {SWEEP_SYNTAX}",
        )
    return list(dimensions.values())


def grid(dimensions: list[Dimension]) -> list[tuple[str, ...]]:
    """Every combination as overrides, in BasicSweeper's order (the last key varies fastest)."""
    intervals = [d.source for d in dimensions if d.is_interval]
    if intervals:
        raise SweepError(
            f"grid search cannot enumerate the interval {', '.join(map(repr, intervals))}",
            where="conveyor sweep",
            fix="use --optimizer optuna (with --trials N), or give discrete values: "
            "a,b,c or range(start,stop,step)",
        )
    size = math.prod(len(d.values) for d in dimensions)
    check_trials(size, "conveyor sweep", "the grid has")
    lists = [[d.override(v) for v in d.values] for d in dimensions]
    return [tuple(combo) for combo in itertools.product(*lists)]


def check_trials(trials: int, where: str, what: str = "--trials asks for") -> None:
    """Refuse a sweep of more than ``MAX_TRIALS`` trials."""
    if trials > MAX_TRIALS:
        raise SweepError(
            f"{what} {trials:,} trials; a sweep runs at most {MAX_TRIALS:,}",
            where=where,
            fix="sweep fewer values (or use --optimizer optuna --trials N), "
            "or split the space into several sweeps",
        )


def load_space_file(root: Path, name: str) -> SpaceFile:
    """Read ``conf/sweep/<name>.yaml``; its params become sweep overrides."""
    import yaml

    folder = root / CONFIG_DIR / SWEEP_GROUP
    path = folder / f"{name}.yaml"
    shown = f"{CONFIG_DIR}/{SWEEP_GROUP}/{name}.yaml"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in folder.glob("*.yaml"))) or "(none)"
        raise SweepError(
            f"no search space '{name}' ({shown} does not exist)",
            where="--space",
            fix=f"available spaces in {CONFIG_DIR}/{SWEEP_GROUP}/: {available}",
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SweepError(f"invalid YAML: {exc}", where=shown, fix="fix the YAML syntax") from exc
    unknown = sorted(set(raw) - {"optimizer", "trials", "params"}) if isinstance(raw, dict) else []
    params = raw.get("params") if isinstance(raw, dict) else None
    if unknown or not isinstance(params, dict) or not params:
        what = f"unknown keys {unknown}" if unknown else "'params' must map keys to values"
        raise SweepError(
            what,
            where=shown,
            fix="write 'optimizer: grid|optuna', 'trials: N' and "
            "'params: {model.params.max_depth: range(2,8), ...}'",
        )
    optimizer = raw.get("optimizer")
    if optimizer not in (None, "grid", "optuna"):
        raise SweepError(
            f"unknown optimizer '{optimizer}'", where=f"optimizer ({shown})", fix="grid or optuna"
        )
    trials = raw.get("trials")
    if trials is not None and (not isinstance(trials, int) or trials < 1):
        raise SweepError(
            f"trials must be a positive integer, not {trials!r}",
            where=f"trials ({shown})",
            fix="write 'trials: N' with N >= 1, or leave it out and pass --trials N",
        )
    if trials is not None:
        check_trials(trials, f"trials ({shown})", "'trials' asks for")
    overrides = tuple(f"{key}={_as_override_value(value)}" for key, value in params.items())
    return SpaceFile(name, shown, optimizer, trials, overrides)


def _as_override_value(value: Any) -> str:  # noqa: ANN401 - raw YAML
    """YAML values as override text: a list is a choice, anything else is taken as written."""
    if isinstance(value, list):
        return ",".join(_as_override_value(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _range_values(start: Any, stop: Any, step: Any) -> list[int | float]:  # noqa: ANN401
    """``range(start, stop, step)`` values; floats via Decimal so 0.1 steps stay 0.1, 0.2, 0.3.

    At most ``MAX_TRIALS + 1`` of them: enough to tell that a range is too long to sweep.
    """
    if all(isinstance(v, int) for v in (start, stop, step)):
        return list(range(start, stop, step)[: MAX_TRIALS + 1])  # one more is refused
    first, end, size = (Decimal(str(v)) for v in (start, stop, step))
    if size == 0:
        return []
    values: list[int | float] = []
    while ((first < end) if size > 0 else (first > end)) and len(values) <= MAX_TRIALS:
        values.append(float(first))
        first += size
    return values


def _reason(exc: Exception) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    kept = [line for line in lines if not line.startswith(("See https://", "Error parsing"))]
    return " ".join(kept) or "invalid syntax"
