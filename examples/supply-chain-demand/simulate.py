"""Production simulation: weekly batches, a demand shift part-way, `conveyor ct` after each week.

    python simulate.py [--weeks 16] [--drift-week 8] [--workdir DIR] [--out .]

1. Generates the whole history once with the `synthetic_demand` source (3 stores x 3 products,
   daily): two years of history, then `--weeks` weeks of production. From `--drift-week` on,
   demand is 1.4 times higher and a fourth store opens.
2. Copies this example into a fresh git + DVC repository (`--workdir`, default a temp dir),
   switched to its production variant (`data: demand_batches`, `features:
   lags_calendar_trend`, `evaluate: regression_weekly`, `monitor: weekly`): the sales source
   globs data/batches/*.parquet, so every batch that arrives is training data.
3. Trains the first model on the history, registers it and promotes it to `prod`.
4. Each week: writes the week's batch, runs `conveyor ct --json`, and keeps its decision.
5. Writes timeline.json, timeline.png and timeline.svg into `--out`: per week the share of
   drifted columns, the version in production, and the production model's MAE on that week.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
STORES, PRODUCTS, SEED = 3, 3, 7
START = dt.date(2022, 1, 1)
HISTORY_DAYS = 728  # 104 weeks: the first model's training (and test) data
SHIFT_FACTOR = 1.4
MODEL = "demand"


def command(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run git, dvc or conveyor (from this interpreter's environment) in ``cwd``."""
    program = shutil.which(args[0], path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [program or args[0], *args[1:]], cwd=cwd, capture_output=True, text=True, env=env
    )
    if check and done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        msg = f"'{' '.join(args)}' exited {done.returncode}"
        raise RuntimeError(msg)
    return done


def week_start(week: int) -> dt.date:
    """The first day of production week ``week`` (1-based)."""
    return START + dt.timedelta(days=HISTORY_DAYS + 7 * (week - 1))


def generate(weeks: int, drift_week: int) -> Any:  # noqa: ANN401 - a pandas DataFrame
    """The whole seeded history: two years, then ``weeks`` weeks, drifted from ``drift_week``."""
    from conveyor.components.synthetic import SyntheticDemandSource

    drift_from = week_start(drift_week)
    source = SyntheticDemandSource.from_config(
        {
            "stores": STORES,
            "products": PRODUCTS,
            "start": START,
            "days": HISTORY_DAYS + 7 * weeks,
            "seed": SEED,
            "shift_from": drift_from,
            "shift_factor": SHIFT_FACTOR,
            "new_store_from": drift_from,
        }
    )
    return source.read(HERE)  # type: ignore[attr-defined]


def write_batch(root: Path, frame: Any, first: dt.date, last: dt.date) -> Path:  # noqa: ANN401
    """Rows dated ``first`` to ``last`` (inclusive) as ``data/batches/<first>.parquet``.

    Each row carries its store's attributes (data/stores.csv), as production serves them.
    """
    import pandas as pd

    stores = pd.read_csv(HERE / "data" / "stores.csv")
    dates = frame["date"]
    rows = frame[(dates >= pd.Timestamp(first)) & (dates <= pd.Timestamp(last))]
    rows = rows.merge(stores, on="store", how="left", validate="many_to_one")
    path = root / "data" / "batches" / f"{first.isoformat()}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows.reset_index(drop=True).to_parquet(path, index=False)
    return path


def setup_project(root: Path, frame: Any) -> None:  # noqa: ANN401 - a pandas DataFrame
    """This example in a new git + DVC repo, in its production variant, with the history."""
    root.mkdir(parents=True)
    shutil.copytree(HERE / "conf", root / "conf")
    config = root / "conf" / "config.yaml"
    text = config.read_text()
    for old, new in (
        ("data: demand\n", "data: demand_batches\n"),
        ("features: lags_calendar\n", "features: lags_calendar_trend\n"),
        ("evaluate: regression\n", "evaluate: regression_weekly\n"),
        ("monitor: none", "monitor: weekly"),
    ):
        assert old in text, f"conf/config.yaml no longer selects '{old.strip()}'"  # noqa: S101
        text = text.replace(old, new)
    config.write_text(text)
    # The batches are the project's input data, like a landing bucket: DVC tracks them as the
    # ingest stage's dependency; git does not (ct restores the work tree around them).
    (root / ".gitignore").write_text("data/batches/\n")
    write_batch(root, frame, START, START + dt.timedelta(days=HISTORY_DAYS - 1))
    command("git", "init", "-q", "-b", "main", cwd=root)
    for key, value in (("user.name", "simulation"), ("user.email", "sim@conveyor.invalid")):
        command("git", "config", key, value, cwd=root)
    command("dvc", "init", "-q", cwd=root)
    command("dvc", "config", "core.analytics", "false", cwd=root)
    command("dvc", "config", "hydra.enabled", "true", cwd=root)
    command("conveyor", "compile", cwd=root)
    command("dvc", "repro", cwd=root)
    command("git", "add", "-A", cwd=root)
    command("git", "commit", "-qm", "the first model, trained on two years of history", cwd=root)
    command("conveyor", "registry", "register", MODEL, cwd=root)
    command("conveyor", "registry", "promote", MODEL, "v1.0.0", "--to", "prod", cwd=root)


def run_week(root: Path, frame: Any, week: int) -> dict[str, Any]:  # noqa: ANN401
    """Deliver week ``week``'s batch and let ``conveyor ct`` decide; its decision record."""
    first = week_start(week)
    write_batch(root, frame, first, first + dt.timedelta(days=6))
    done = command("conveyor", "ct", "--json", cwd=root)
    record: dict[str, Any] = json.loads(done.stdout)
    return record


def week_mae(bundle: Any, root: Path, week: int) -> float:  # noqa: ANN401 - a Bundle
    """The MAE of ``bundle``'s model on every row of week ``week``'s batch.

    Every row counts, the new store's too (the one-hot encoder ignores a store it never saw);
    ``conveyor ct``'s own performance figure leaves out rows the model's input schema refuses.
    """
    import pandas as pd

    batch = pd.read_parquet(root / "data" / "batches" / f"{week_start(week).isoformat()}.parquet")
    predicted = bundle.pipeline.predict(batch.drop(columns=["units_sold"]))
    return float((batch["units_sold"] - predicted).abs().mean())


def timeline_row(week: int, drift_week: int, record: dict[str, Any]) -> dict[str, Any]:
    """One week of the timeline, from its decision record."""
    drift = record.get("drift") or {}
    performance = record.get("performance") or {}
    return {
        "week": week,
        "start": week_start(week).isoformat(),
        "drifted": week >= drift_week,
        "drifted_share": drift.get("drifted_share"),
        "dataset_drift": drift.get("dataset_drift"),
        "drifted_columns": drift.get("drifted_columns", []),
        "ct_mae": performance.get("current"),
        "ct_mae_reference": performance.get("reference"),
        "serving": record.get("champion"),
        "retrain": record.get("retrain"),
        "action": record.get("action"),
        "production": record.get("production"),
    }


def simulate(
    root: Path, *, weeks: int, drift_week: int, stop_after: int | None = None
) -> list[dict[str, Any]]:
    """Set up the project in ``root``, run every week (or the first ``stop_after``); the timeline.

    The data are generated for all ``weeks`` either way, so a shorter run sees the same rows.
    """
    from conveyor.registry import load_version

    frame = generate(weeks, drift_week)
    setup_project(root, frame)
    bundles: dict[str, Any] = {}  # version -> its bundle, from the registry and the DVC cache

    def mae(version: str, week: int) -> float:
        if version not in bundles:
            bundles[version] = load_version(root, f"{MODEL}@{version}", root.parent / version)
        return week_mae(bundles[version], root, week)

    timeline = []
    for week in range(1, (stop_after or weeks) + 1):
        row = timeline_row(week, drift_week, run_week(root, frame, week))
        row["mae"] = mae(row["serving"], week)
        row["mae_never_retrained"] = mae("v1.0.0", week)
        timeline.append(row)
        shown = "-" if row["mae"] is None else f"{row['mae']:.2f}"
        print(  # noqa: T201
            f"week {week:2d} ({row['start']}): drifted share {row['drifted_share']:.2f}, "
            f"MAE {shown}, serving {row['serving']}: {row['action']}",
            flush=True,
        )
    return timeline


def render(timeline: list[dict[str, Any]], drift_week: int, out: Path) -> list[Path]:
    """timeline.png and timeline.svg: drift share, version in production, production MAE."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    weeks = [row["week"] for row in timeline]
    versions = sorted(
        {row["serving"] for row in timeline} | {row["production"] for row in timeline}
    )
    level = {version: index for index, version in enumerate(versions)}
    fig, (drift, model, error) = plt.subplots(3, 1, sharex=True, figsize=(8, 7))
    drift.bar(weeks, [row["drifted_share"] or 0 for row in timeline], color="#4c72b0")
    drift.bar(
        [row["week"] for row in timeline if row["retrain"]],
        [0.02 for row in timeline if row["retrain"]],
        color="#c44e52",
        label="retrained",
    )
    drift.axhline(0.3, color="grey", linestyle=":", label="dataset drift at 30% of columns")
    drift.set_ylabel("drifted columns")
    drift.set_ylim(0, 1)
    drift.legend(loc="upper left", fontsize=8)
    # The version that served each week (the champion when the week's batch was decided).
    model.step(weeks, [level[row["serving"]] for row in timeline], where="mid", color="#55a868")
    for row in timeline:
        if row["action"].startswith("promoted"):  # serves from the next week on
            model.annotate(
                row["production"],
                (row["week"] + 0.5, level[row["production"]]),
                fontsize=8,
                xytext=(3, -10),
                textcoords="offset points",
            )
        elif row["action"].startswith("kept"):
            model.plot(row["week"], level[row["serving"]], "x", color="#c44e52")
    model.set_yticks(range(len(versions)), versions)
    model.set_ylabel("in production")
    error.plot(weeks, [row["mae"] for row in timeline], "o-", color="#c44e52", label="production")
    error.plot(
        weeks,
        [row["mae_never_retrained"] for row in timeline],
        "s--",
        color="grey",
        label="v1.0.0, never retrained",
    )
    error.legend(loc="upper left", fontsize=8)
    error.set_ylabel("MAE (units/day)")
    error.set_xlabel("production week (x: retrained but not blessed)")
    for axis in (drift, model, error):
        axis.axvline(drift_week - 0.5, color="black", linestyle="--", linewidth=1)
    drift.set_title(
        f"Demand x{SHIFT_FACTOR:g} and a new store from week {drift_week}: conveyor ct each week"
    )
    error.set_xticks(weeks)
    fig.tight_layout()
    paths = [out / "timeline.png", out / "timeline.svg"]
    for path in paths:
        fig.savefig(path, dpi=110 if path.suffix == ".png" else None)
    plt.close(fig)
    return paths


def main() -> None:
    """Run the simulation and write the timeline."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weeks", type=int, default=16)
    parser.add_argument("--drift-week", type=int, default=8)
    parser.add_argument("--workdir", type=Path, help="where the project goes (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=HERE, help="where the timeline files go")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="conveyor-sim-") as scratch:
        root = (args.workdir or Path(scratch)) / "project"
        timeline = simulate(root, weeks=args.weeks, drift_week=args.drift_week)
        args.out.mkdir(parents=True, exist_ok=True)
        document = {"drift_week": args.drift_week, "shift_factor": SHIFT_FACTOR, "weeks": timeline}
        (args.out / "timeline.json").write_text(json.dumps(document, indent=2) + "\n")
        render(timeline, args.drift_week, args.out)
    print(f"wrote {args.out / 'timeline.png'}, timeline.svg and timeline.json")  # noqa: T201


if __name__ == "__main__":
    main()
