"""``combine.sql`` out of core (DuckDB over the Parquet files) vs in memory: peak and bytes.

The same measurement as ``bench_outofcore.py --sql`` (its docstring says how), under its own
name so that its results file, ``results/bench_outofcore_sql.json``, has a script of the same
name::

    .venv/bin/python benchmarks/bench_outofcore_sql.py [--rows 4000000 8000000]
"""

from __future__ import annotations

import sys

from bench_outofcore import main

if __name__ == "__main__":
    sys.argv.insert(1, "--sql")
    main()
