"""The plugin's tests run against the installed distribution (its entry points are under test).

A run of conveyor's own suite from the repository root collects this directory too; without
the plugin installed there is nothing to test, so its tests are left out of that run.
tests/integration/test_plugins.py installs the plugin and runs them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution

try:
    distribution("conveyor-dummy-plugin")
except PackageNotFoundError:
    collect_ignore = ["tests"]
