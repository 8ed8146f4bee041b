"""``deploy:`` — where a blessed model goes: one named target per entry.

Each entry picks a ``conveyor.targets`` component with ``kind:`` and configures it with
``params:`` (checked against the target's own ``Params`` at compile time). The Hydra group
``conf/deploy/`` is selected as a list, so each option file adds one target::

    defaults:
      - deploy: [rest, batch]       # conf/deploy/rest.yaml holds  rest: {kind: rest, params: ...}

Every target becomes a ``deploy-<name>`` stage that depends on ``reports/blessing.json`` and
refuses a model the gate did not bless.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from conveyor.spec._base import NAME_PATTERN
from conveyor.spec.component import ComponentSpec

TargetName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""A target's name: its stage is ``deploy-<name>``, so plain lower-case words only."""


class DeployTargetSpec(ComponentSpec):
    """``{kind: <target name>, params: {...}}``: one deployment of the trained model."""


NO_GATES_MESSAGE = (
    "deploy targets ship only a blessed model, but evaluate.gates is empty, so no gate stage "
    "blesses one; add thresholds under evaluate.gates (e.g. gates: {roc_auc: {min: 0.9}}) "
    "or deploy nothing ('deploy=[]', or drop '- deploy: [...]' from the defaults list)"
)
"""Why a project with ``deploy:`` targets needs ``evaluate.gates`` (ProjectSpec checks it)."""
