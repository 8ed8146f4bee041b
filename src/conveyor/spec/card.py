"""``card:`` — what people must know before they use the model: the text of its model card.

Every field is optional; the ``card`` stage writes ``reports/model_card.md`` and ``.html`` from
these words, ``project.description``, the data and split, the evaluation, the blessing and the
lineage. A field left out is shown as "not stated", so a missing answer is visible, not hidden.
Only the ``card`` stage reads ``card:``, so editing its text reruns the card and nothing else.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from conveyor.spec._base import StrictModel

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""Plain text; a blank line starts a new paragraph. Shown as written, never as HTML."""


class CardSpec(StrictModel):
    """The words of the model card (after Mitchell et al., *Model Cards for Model Reporting*)."""

    intended_use: Text | None = None
    """Who should use the model, for what, and on which population."""
    out_of_scope: Text | None = None
    """Uses the model was not built or evaluated for."""
    limitations: Text | None = None
    """Where the model is known to fail or was not tested."""
    ethical_considerations: Text | None = None
    """Risks, harms and the people they fall on."""
    owners: list[Text] = Field(default_factory=list)
    """Who answers for the model: names, teams or addresses."""
    license: Text | None = None
    """The licence under which the model may be used."""
