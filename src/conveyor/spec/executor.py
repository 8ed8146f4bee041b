"""``executor:`` — where heavy work runs; never what it computes.

``kind:`` names a ``conveyor.executors`` plugin (built in: ``local``, the default, and
``dask``) and ``params:`` configures it, checked against its ``Params`` at compile time. The
Hydra group ``conf/executor/`` holds one option per executor, so ``conveyor compile
executor=dask`` (or ``dvc exp run -S executor=dask``) switches::

    executor:
      kind: dask
      params: {address: null, workers: 2, memory_limit: auto}

No stage lists ``executor.*`` among its ``params:``: switching executor reruns nothing, which
is honest only because outputs are identical across executors (tests hold them so).
"""

from __future__ import annotations

from pydantic import Field

from conveyor.spec.component import ComponentSpec

DEFAULT_EXECUTOR = "local"


class ExecutorSpec(ComponentSpec):
    """``{kind: <executor name>, params: {...}}``; ``local`` when the project sets none."""

    kind: str = Field(default=DEFAULT_EXECUTOR, min_length=1)
