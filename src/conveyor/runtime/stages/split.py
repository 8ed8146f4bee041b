"""``split``: cut the dataset into train / (valid) / test, reproducibly and without leaks.

``group`` keeps each group on one side; ``time`` never puts a row in train that is later than a
row in valid or test (ties at a cut stay together on the later side).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.errors import DataError
from conveyor.runtime import layout
from conveyor.runtime.frames import read_frame, require_column, write_frames
from conveyor.runtime.plan import StageContext, StageDef, StagePlan
from conveyor.runtime.stages import validate
from conveyor.spec import SplitSpec

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from conveyor.plugins import Plugins
    from conveyor.spec import ProjectSpec

READS = ("data.split", "data.target", "seed")


def parts(spec: ProjectSpec) -> tuple[str, ...]:
    """The splits this project produces."""
    split = spec.data.split
    has_valid = split.valid_size > 0 or split.valid_from is not None
    return ("train", "valid", "test") if has_valid else ("train", "test")


def plan(spec: ProjectSpec, plugins: Plugins) -> tuple[StagePlan, ...]:
    """Reads the dataset (after validation when there is a schema), writes one file per split."""
    deps = [layout.dataset_path(spec.data)]
    deps += [report for p in validate.plan(spec, plugins) for report in p.reports]
    return (
        StagePlan(
            name="split",
            desc="Split the dataset into train/test (and valid) under data/split/",
            reads=READS,
            deps=tuple(deps),
            outs=tuple(layout.split_path(part) for part in parts(spec)),
        ),
    )


def run(ctx: StageContext) -> None:
    """Drop rows without a target, then split by the configured strategy."""
    split = ctx.params.parse("data.split", SplitSpec)
    target = ctx.params.parse("data.target", str)
    seed = ctx.params.parse("seed", int)
    dataset = ctx.plan.deps[0]
    frame = read_frame(ctx.root, dataset, "split")
    require_column(frame, target, key="data.target", file=dataset)
    for key in ("group_column", "time_column"):
        if (column := getattr(split, key)) is not None:
            require_column(frame, column, key=f"data.split.{key}", file=dataset)
    labelled = frame
    if dropped := int(frame[target].isna().sum()):  # filtering copies: only when needed
        labelled = frame[frame[target].notna()].reset_index(drop=True)
        print(f"split: dropped {dropped} rows with no '{target}'")  # noqa: T201
    del frame
    if split.strategy == "time":
        outputs = _by_time(labelled, split)
    else:
        outputs = _shuffled(labelled, split, target, seed)
    for part, rows in outputs.items():
        if len(rows) == 0:
            raise DataError(
                f"the {part} split is empty ({len(labelled)} labelled rows)",
                where="data.split",
                fix="use more data, or change test_size/valid_size (or test_from/valid_from)",
            )
    # Written a row group at a time from positions: no split is ever a second copy in memory;
    # replaced as one set, so a killed run never leaves a new train beside an old test.
    write_frames(ctx.root, {layout.split_path(p): rows for p, rows in outputs.items()}, labelled)
    sizes = ", ".join(f"{part} {len(rows)}" for part, rows in outputs.items())
    print(f"split: {split.strategy}: {sizes}")  # noqa: T201


def _shuffled(
    frame: pd.DataFrame, split: SplitSpec, target: str, seed: int
) -> dict[str, np.ndarray]:
    """Random, stratified or group: hold out ``test_size`` (then ``valid_size``) of the rows.

    Returns row positions; the shuffle depends only on the row count, the strata or groups and
    the seed, as ``train_test_split`` of the frame itself would.
    """
    import numpy as np

    held_out = split.test_size + split.valid_size
    try:
        train, rest = _cut(frame, np.arange(len(frame)), held_out, split, target, seed)
        if split.valid_size == 0:
            return {"train": train, "test": rest}
        valid, test = _cut(frame, rest, split.test_size / held_out, split, target, seed)
    except ValueError as exc:  # too few rows or groups, or a class with a single member
        fallback = "random" if split.strategy == "stratified" else "a different strategy"
        raise DataError(
            f"cannot split {len(frame)} rows: {exc}",
            where="data.split",
            fix=f"use more data, smaller test_size/valid_size, or strategy: {fallback}",
        ) from exc
    return {"train": train, "valid": valid, "test": test}


def _cut(
    frame: pd.DataFrame,
    rows: np.ndarray,
    fraction: float,
    split: SplitSpec,
    target: str,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``rows`` cut into kept and held-out positions."""
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    if split.strategy == "group":
        assert split.group_column is not None  # noqa: S101 - SplitSpec guarantees it
        splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        groups = frame[split.group_column].to_numpy()[rows]
        keep, held = next(splitter.split(rows, groups=groups))
        return rows[keep], rows[held]
    strata = frame[target].to_numpy()[rows] if split.strategy == "stratified" else None
    kept, held_rows = train_test_split(rows, test_size=fraction, random_state=seed, stratify=strata)
    return kept, held_rows


def _by_time(frame: pd.DataFrame, split: SplitSpec) -> dict[str, np.ndarray]:
    """Sort by time; cut at dates (``test_from``/``valid_from``) or at time quantiles.

    Returns row positions in time order (ties keep their original order).
    """
    import pandas as pd

    assert split.time_column is not None  # noqa: S101 - SplitSpec guarantees it
    column = split.time_column
    where = "data.split.time_column"
    try:
        times = pd.to_datetime(frame[column]) if frame[column].dtype.kind not in "iufM" else None
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"column '{column}' does not hold dates: {exc}",
            where=where,
            fix="point time_column at a datetime column (or ISO date strings)",
        ) from exc
    time: Any = frame[column] if times is None else times
    if time.isna().any():
        raise DataError(
            f"column '{column}' has {int(time.isna().sum())} missing times",
            where=where,
            fix="fill or drop rows without a time before splitting (data.schema can forbid them)",
        )
    time = time.reset_index(drop=True).sort_values(kind="stable")
    order = time.index.to_numpy()
    if split.test_from is not None:
        test_from = _as_time(split.test_from, time, "data.split.test_from")
        valid_from = (
            _as_time(split.valid_from, time, "data.split.valid_from")
            if split.valid_from is not None
            else test_from
        )
        if valid_from > test_from:
            raise DataError(
                f"valid_from ({split.valid_from}) is after test_from ({split.test_from})",
                where="data.split.valid_from",
                fix="valid rows come before the test rows: move valid_from earlier",
            )
    else:
        valid_from = _quantile_cut(time, split.test_size + split.valid_size)
        test_from = _quantile_cut(time, split.test_size) if split.valid_size else valid_from
    outputs = {"train": order[(time < valid_from).to_numpy()]}
    if split.valid_size or split.valid_from is not None:
        outputs["valid"] = order[((time >= valid_from) & (time < test_from)).to_numpy()]
    outputs["test"] = order[(time >= test_from).to_numpy()]
    return outputs


def _quantile_cut(time: pd.Series, fraction: float) -> Any:  # noqa: ANN401 - a Timestamp or a number, like the column
    """The time at which the last ``fraction`` of the sorted rows begins."""
    return time.iloc[min(len(time) - 1, round(len(time) * (1 - fraction)))]


def _as_time(value: str, like: pd.Series, where: str) -> Any:  # noqa: ANN401 - a Timestamp or a number, like the column
    import pandas as pd

    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"'{value}' is not a date", where=where, fix="write an ISO date such as 2024-01-31"
        ) from exc
    if like.dtype.kind in "iuf":
        raise DataError(
            f"the time column holds numbers, so '{value}' cannot be compared with it",
            where=where,
            fix="use test_size/valid_size fractions for a numeric time column",
        )
    tz = getattr(like.dt, "tz", None)
    return stamp.tz_localize(tz) if tz is not None and stamp.tzinfo is None else stamp


STAGE = StageDef("split", plan, run)
