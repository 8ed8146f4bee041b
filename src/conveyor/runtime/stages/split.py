"""``split``: cut the raw rows into train / (valid) / test splits, reproducibly."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.errors import DataError
from conveyor.runtime import layout
from conveyor.runtime.frames import read_frame, require_column, write_frame
from conveyor.runtime.plan import StageContext, StageDef, StagePlan
from conveyor.spec import SplitSpec

if TYPE_CHECKING:
    import pandas as pd

    from conveyor.plugins import Plugins
    from conveyor.spec import ProjectSpec

READS = ("data.split", "data.target", "seed")


def parts(spec: ProjectSpec) -> tuple[str, ...]:
    """The splits this project produces."""
    return ("train", "valid", "test") if spec.data.split.valid_size > 0 else ("train", "test")


def plan(spec: ProjectSpec, plugins: Plugins) -> StagePlan:
    """Reads the one raw table, writes one file per split."""
    del plugins
    (source,) = spec.data.sources  # the compiler refuses several sources until joins exist
    return StagePlan(
        name="split",
        desc="Split the raw rows into train/test (and valid) under data/split/",
        reads=READS,
        deps=(layout.raw_path(source),),
        outs=tuple(layout.split_path(part) for part in parts(spec)),
    )


def run(ctx: StageContext) -> None:
    """Drop rows without a target, then split (stratified on the target when asked)."""
    from sklearn.model_selection import train_test_split

    split = ctx.params.parse("data.split", SplitSpec)
    target = ctx.params.parse("data.target", str)
    seed = ctx.params.parse("seed", int)
    (raw,) = ctx.plan.deps
    frame = read_frame(ctx.root, raw, "split")
    require_column(frame, target, key="data.target", file=raw)
    labelled = frame[frame[target].notna()].reset_index(drop=True)
    if dropped := len(frame) - len(labelled):
        print(f"split: dropped {dropped} rows with no '{target}'")  # noqa: T201
    held_out = split.test_size + split.valid_size
    try:
        train, rest = train_test_split(
            labelled,
            test_size=held_out,
            random_state=seed,
            stratify=_strata(labelled, target, split),
        )
        outputs = {"train": train}
        if split.valid_size > 0:
            valid, test = train_test_split(
                rest,
                test_size=split.test_size / held_out,
                random_state=seed,
                stratify=_strata(rest, target, split),
            )
            outputs |= {"valid": valid, "test": test}
        else:
            outputs["test"] = rest
    except ValueError as exc:  # too few rows, or a class with a single member
        raise DataError(
            f"cannot split {len(labelled)} rows: {exc}",
            where="data.split",
            fix="use more data, smaller test_size/valid_size, or strategy: random",
        ) from exc
    for part, rows in outputs.items():
        write_frame(ctx.root, layout.split_path(part), rows.reset_index(drop=True))
    sizes = ", ".join(f"{part} {len(rows)}" for part, rows in outputs.items())
    print(f"split: {split.strategy}: {sizes}")  # noqa: T201


def _strata(frame: pd.DataFrame, target: str, split: SplitSpec) -> pd.Series | None:
    return frame[target] if split.strategy == "stratified" else None


STAGE = StageDef("split", plan, run)
