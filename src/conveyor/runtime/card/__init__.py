"""The model card: ``reports/model_card.md`` and ``reports/model_card.html``.

- :mod:`.document`: the facts the ``card`` stage read, turned into titled blocks (pure).
- :mod:`.render`: those blocks as Markdown (YAML front matter holds the summary the registry
  shows) and as one self-contained HTML page; every user-supplied text is escaped.

Rendered here rather than with ``skops.card``: that class needs the model object for its
default template (loading ``pipeline.skops``), writes Markdown only, leaves ``|`` and raw HTML
in user text unescaped, and costs seconds of imports (it imports scikit-learn).
"""

from __future__ import annotations

from conveyor.runtime.card.document import CardDocument, CardFacts, card_document
from conveyor.runtime.card.render import md_text, render_html, render_markdown

__all__ = [
    "CardDocument",
    "CardFacts",
    "card_document",
    "md_text",
    "render_html",
    "render_markdown",
]
