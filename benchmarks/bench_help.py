"""``conveyor --help`` vs ``python -c pass``. Goal: median <= 0.35 s, and no ML imports.

The startup floor (``python -c pass``) is measured beside it, so a slow machine shows up as a
slow floor rather than as a slow CLI. The script also fails (exit 1) if ``conveyor --help``
imports scikit-learn, xgboost or pandas: ``--help`` must stay a metadata-only command.

    .venv/bin/python benchmarks/bench_help.py [--repeats 25]
"""

from __future__ import annotations

import argparse
import sys

from _timing import (
    REPO,
    VENV_BIN,
    Command,
    bench_env,
    compare,
    import_times,
    measure,
    verdict,
    write_result,
)

NAME = "bench_help"
GOAL_SECONDS = 0.35
FORBIDDEN = ("sklearn", "xgboost", "pandas")
"""Packages ``conveyor --help`` must never import."""
WATCHED = ("numpy", "pydantic", "hydra", "omegaconf", "dvc", "rich", "yaml")
"""Packages worth knowing about when they appear (reported, not failed)."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args()

    env = bench_env()
    conveyor = VENV_BIN / "conveyor"
    commands = [
        Command("conveyor --help", [str(conveyor), "--help"]),
        Command("python -c pass", [sys.executable, "-c", "pass"]),
    ]
    print(f"{NAME}: {args.repeats} interleaved rounds")
    timings = measure(commands, cwd=REPO, env=env, repeats=args.repeats)
    # The console script itself, so the check covers exactly what `conveyor --help` runs.
    modules = import_times([str(conveyor), "--help"], REPO, env)
    packages = {module.split(".")[0] for module in modules}
    forbidden = sorted(packages.intersection(FORBIDDEN))
    watched = sorted(packages.intersection(WATCHED))

    summary = compare(*timings)
    print(f"modules imported by conveyor --help: {len(modules)}")
    print(f"heavier packages imported (informational): {', '.join(watched) or 'none'}")
    met = verdict("median of conveyor --help", timings[0].median, GOAL_SECONDS, " s")
    if forbidden:
        print(f"FAIL: conveyor --help imports {', '.join(forbidden)}")
    else:
        print(f"ok: conveyor --help imports none of {', '.join(FORBIDDEN)}")
    write_result(
        NAME,
        {
            "goal": f"median(conveyor --help) <= {GOAL_SECONDS} s; imports none of {FORBIDDEN}",
            "goal_met": met and not forbidden,
            "repeats": args.repeats,
            **summary,
            "modules_imported": len(modules),
            "forbidden_imported": forbidden,
            "watched_imported": watched,
        },
    )
    return 1 if forbidden else 0


if __name__ == "__main__":
    sys.exit(main())
