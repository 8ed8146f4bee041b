"""``conveyor warm dvc repro -f`` vs ``dvc repro -f``: the default pipeline, warm stages vs cold.

Goal (issues 18 and 20): measure what forking every stage from one warm process saves over a
fresh ``conveyor run`` process per stage, on the whole default pipeline (10 stages), server
start-up included. Both sides also report CPU seconds (user + system of every process they
started, the stage server's children included), which a shared machine disturbs far less than
wall time. After timing, the script checks that both sides wrote the same dvc.lock (every
output's md5).

    .venv/bin/python benchmarks/bench_warm.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time

from _timing import (
    VENV_BIN,
    Command,
    Timing,
    bench_env,
    compare,
    project_copy,
    run_checked,
    write_result,
)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    env = bench_env()
    env.pop("CONVEYOR_WARM_SOCKET", None)
    dvc, conveyor = str(VENV_BIN / "dvc"), str(VENV_BIN / "conveyor")
    cold = Command("dvc repro -f (cold stages)", [dvc, "repro", "-f"])
    warm = Command("conveyor warm dvc repro -f", [conveyor, "warm", dvc, "repro", "-f"])
    with project_copy("warm") as root:
        for argv in (["git", "init", "-q", "-b", "main"], [dvc, "init", "-q"]):
            run_checked(argv, root, env)
        run_checked([dvc, "config", "hydra.enabled", "true"], root, env)
        run_checked([dvc, "repro"], root, env)  # the warm-up: data, cache and run-cache exist
        locks: dict[str, str] = {}
        walls: dict[str, list[float]] = {cold.label: [], warm.label: []}
        cpus: dict[str, list[float]] = {cold.label: [], warm.label: []}
        for round_ in range(args.repeats):
            for command in (cold, warm) if round_ % 2 == 0 else (warm, cold):
                before, start = cpu_seconds(), time.perf_counter()
                run_checked(command.argv, root, env)
                walls[command.label].append(time.perf_counter() - start)
                cpus[command.label].append(cpu_seconds() - before)
                locks[command.label] = (root / "dvc.lock").read_text()
            print(f"  round {round_ + 1}/{args.repeats}", flush=True)
    same = locks[cold.label] == locks[warm.label]
    wall = compare(Timing(warm, walls[warm.label]), Timing(cold, walls[cold.label]))
    cpu = {
        "warm_median_s": round(statistics.median(cpus[warm.label]), 3),
        "cold_median_s": round(statistics.median(cpus[cold.label]), 3),
    }
    cpu["ratio_median"] = round(cpu["warm_median_s"] / cpu["cold_median_s"], 3)
    print(
        f"CPU seconds: warm {cpu['warm_median_s']:.2f} vs cold {cpu['cold_median_s']:.2f} "
        f"(x{cpu['ratio_median']:.2f}); same dvc.lock: {same}"
    )
    write_result(
        "bench_warm",
        {
            "repeats": args.repeats,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "wall": wall,
            "cpu": cpu,
            "same_dvc_lock": same,
        },
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
