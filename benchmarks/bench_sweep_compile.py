"""The sweep driver's compile of every trial: one compose per structure vs one per trial.

Before anything runs, ``conveyor sweep`` compiles every trial in process (a typo fails at once,
a structural trial gets its own dvc.yaml). This is serial work on the driver, and with many
workers it sets the pace (docs/sweeps.md, "How far it scales"). The candidate is what the sweep
does (``validate``: trials that choose the same config groups share one Hydra compose); the
baseline, in the same rounds, is one ``compile_files`` per trial, which the sweep did before.
Both run in this process after a warm-up compile (imports paid), on a copy of the default
project, for a grid over model params (one structure) of ``--trials`` trials. The per-trial
seconds feed the scaling model in docs/sweeps.md. The machine may be shared: the load average
is recorded with the result.

    .venv/bin/python benchmarks/bench_sweep_compile.py [--trials 8,64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from _timing import project_copy, verdict, write_result

NAME = "bench_sweep_compile"
GOAL_RATIO = 0.25
"""The compile share of the driver per trial, at most a quarter of what it was."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", default="8,64", help="grid sizes, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(n) for n in args.trials.split(",")]
    from conveyor.compiler import compile_files
    from conveyor.experiments._trials import validate
    from conveyor.experiments.plan import SweepState, Trial

    load_before = os.getloadavg()[0]
    results: dict[str, dict[str, object]] = {}
    with project_copy(NAME) as root:
        compile_files(root)  # imports and plugin discovery, paid by both sides
        for size in sizes:
            depths = range(1, size // 2 + 1)
            trials = [
                Trial(f"b-{i}", [f"model.params.max_depth={d}", f"model.params.learning_rate={r}"])
                for i, (d, r) in enumerate(((d, r) for d in depths for r in (0.05, 0.2)), 1)
            ]
            state = SweepState("b", "grid", "gate", 1, [], trials=trials)

            def shared(trials: list[Trial] = trials, state: SweepState = state) -> None:
                validate(root, state, trials)

            def alone(trials: list[Trial] = trials) -> None:
                for trial in trials:
                    compile_files(root, trial.overrides)

            times: dict[str, list[float]] = {"shared": [], "per trial": []}
            for round_ in range(args.repeats):
                order = [("shared", shared), ("per trial", alone)]
                for label, run in order if round_ % 2 == 0 else order[::-1]:
                    start = time.perf_counter()
                    run()
                    times[label].append(time.perf_counter() - start)
            median = {label: statistics.median(ts) for label, ts in times.items()}
            ratio = median["shared"] / median["per trial"]
            print(
                f"{size} trials: shared compose {median['shared']:.2f} s "
                f"({1000 * median['shared'] / size:.0f} ms/trial), one compile per trial "
                f"{median['per trial']:.2f} s ({1000 * median['per trial'] / size:.0f} ms/trial): "
                f"ratio {ratio:.3f}"
            )
            results[str(size)] = {
                "shared_s": [round(t, 4) for t in times["shared"]],
                "per_trial_s": [round(t, 4) for t in times["per trial"]],
                "shared_ms_per_trial": round(1000 * median["shared"] / size, 1),
                "per_trial_ms_per_trial": round(1000 * median["per trial"] / size, 1),
                "ratio_median": round(ratio, 3),
            }
    load_after = os.getloadavg()[0]
    worst = max(float(r["ratio_median"]) for r in results.values())  # type: ignore[arg-type]
    met = verdict("shared compose / per-trial compile", worst, GOAL_RATIO, "x")
    write_result(
        NAME,
        {
            "goal": f"validate() of a one-structure grid <= {GOAL_RATIO}x one compile per trial",
            "baseline": "compile_files once per trial (the sweep before issue 20's shared compose)",
            "met": met,
            "repeats": args.repeats,
            "grid": "model.params.max_depth x model.params.learning_rate=0.05,0.2",
            "sizes": results,
            "load_average_before": round(load_before, 2),
            "load_average_after": round(load_after, 2),
            "loaded_machine": max(load_before, load_after) > (os.cpu_count() or 1),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
