"""A throwaway Dask cluster for fault tests: its first worker death fails the task (no retries).

``with fragile_cluster() as (cluster, client):`` starts a LocalCluster of two single-threaded
worker processes; ``with worker_plugin(client, plugin):`` installs a ``WorkerPlugin`` defined in a
test module (pickled by value, since the workers cannot import tests) for the rest of the block.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from distributed import Client, LocalCluster
    from distributed.diagnostics.plugin import WorkerPlugin


@contextmanager
def fragile_cluster() -> Iterator[tuple[LocalCluster, Client]]:
    """A LocalCluster (2 x 1 thread) where one worker death fails its task; and a client."""
    import dask
    from distributed import Client, LocalCluster

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield cluster, client


@contextmanager
def worker_plugin(client: Client, plugin: WorkerPlugin) -> Iterator[None]:
    """``plugin`` on every worker, its module pickled by value, until the block ends."""
    import cloudpickle

    module = sys.modules[type(plugin).__module__]
    cloudpickle.register_pickle_by_value(module)
    try:
        client.register_plugin(plugin)
        yield
    finally:
        cloudpickle.unregister_pickle_by_value(module)
        client.unregister_worker_plugin(plugin.name)
