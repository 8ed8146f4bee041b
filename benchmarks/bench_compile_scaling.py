"""``conveyor compile`` of a wide config vs one a quarter its size. Goal: ratio <= 5 (linear).

Two data options of the default project list generated schema columns, ``cN: {dtype: float}``
(two keys each: the column and its dtype). The baseline is the smaller config (5,000 keys) and
the candidate has four times as many keys (20,000): a compile that is linear in the number of
keys takes about 4x as long, a quadratic one about 16x (provenance used to rescan every key it
had recorded for each key it recorded). Each command is a whole process, so a fixed start-up
cost dilutes the plain ratio; the goal is judged on the marginal ratio instead, with the
default config (no generated keys) compiled in the same rounds as the fixed cost:
``(t_large - t_default) / (t_small - t_default)``. A bare Hydra compose of the same three
configs runs in the same rounds and shows the floor: Hydra's own ratios.

    .venv/bin/python benchmarks/bench_compile_scaling.py [--keys 5000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from _timing import (
    VENV_BIN,
    Command,
    bench_env,
    compare,
    measure,
    project_copy,
    verdict,
    write_result,
)

if TYPE_CHECKING:
    from pathlib import Path

    from _timing import Timing

NAME = "bench_compile_scaling"
GOAL_RATIO = 5.0
SCALE = 4
BARE_COMPOSE = """\
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

with initialize_config_dir(str(Path("conf").resolve()), version_base=None):
    cfg = compose("config", overrides=sys.argv[1:])
OmegaConf.resolve(cfg)
OmegaConf.to_yaml(cfg)
"""


def wide_data(keys: int) -> str:
    """The default data option plus ``keys // 2`` schema columns of one key each."""
    columns = "".join(f"    c{i}: {{dtype: float}}\n" for i in range(keys // 2))
    return (
        "sources:\n  breast_cancer:\n    kind: sklearn_dataset\n"
        "    params: {name: breast_cancer, target: diagnosis}\n"
        "target: diagnosis\n"
        f"schema:\n  extra_columns: allow\n  columns:\n{columns}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=5_000, help="keys of the baseline config")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = bench_env()
    small, large = args.keys, SCALE * args.keys
    with project_copy(NAME) as project:
        write_option(project, "wide_small", small)
        write_option(project, "wide_large", large)
        (project / "bare_compose.py").write_text(BARE_COMPOSE, encoding="utf-8")
        conveyor = str(VENV_BIN / "conveyor")
        commands = [
            Command(f"conveyor compile, {large:,} keys", [conveyor, "compile", "data=wide_large"]),
            Command(f"conveyor compile, {small:,} keys", [conveyor, "compile", "data=wide_small"]),
            Command("conveyor compile, default config", [conveyor, "compile"]),
            Command(f"bare Hydra compose, {large:,} keys", bare(project, "data=wide_large")),
            Command(f"bare Hydra compose, {small:,} keys", bare(project, "data=wide_small")),
            Command("bare Hydra compose, default config", bare(project)),
        ]
        print(f"{args.repeats} rounds of {len(commands)} commands in {project} ...")
        timings = measure(commands, cwd=project, env=env, repeats=args.repeats)
    print("\nconveyor compile (baseline: the smaller config):")
    summary = compare(timings[0], timings[1])
    summary["marginal_ratio"] = marginal(*timings[:3])
    print("\nbare Hydra compose (the floor):")
    floor = compare(timings[3], timings[4])
    floor["marginal_ratio"] = marginal(*timings[3:])
    print(f"\nkeys x{SCALE}: linear would be ~{SCALE}x, quadratic ~{SCALE * SCALE}x")
    print(
        f"marginal ratio (time above the default config): compile {summary['marginal_ratio']}x, "
        f"bare Hydra {floor['marginal_ratio']}x"
    )
    met = verdict("compile marginal time ratio", summary["marginal_ratio"], GOAL_RATIO, "x")
    write_result(
        NAME,
        {
            "goal": f"ratio <= {GOAL_RATIO} for {SCALE}x the keys",
            "met": met,
            "keys": [small, large],
            "repeats": args.repeats,
            "compile": summary,
            "bare_hydra": floor,
        },
    )
    return 0


def marginal(large: Timing, small: Timing, default: Timing) -> float:
    """``(large - default) / (small - default)`` of the medians: the ratio of the work done."""
    return round((large.median - default.median) / (small.median - default.median), 2)


def write_option(project: Path, name: str, keys: int) -> None:
    """``conf/data/<name>.yaml`` with ``keys`` generated keys."""
    (project / "conf" / "data" / f"{name}.yaml").write_text(wide_data(keys), encoding="utf-8")


def bare(project: Path, *overrides: str) -> list[str]:
    """The bare compose script's command line."""
    return [sys.executable, str(project / "bare_compose.py"), *overrides]


if __name__ == "__main__":
    sys.exit(main())
