"""The model card as Markdown (with YAML front matter) and as one self-contained HTML page.

Every piece of text that comes from conf/ or from data (card fields, descriptions, slice
labels, class names) is escaped for where it lands: in Markdown, characters that would start
markup (``<script>``, ``|`` in a table, a leading ``#``) are backslash-escaped, so the text
shows as written and cannot change the card's structure; in HTML, everything is
``html.escape``'d and the page holds no script and fetches nothing.
"""

from __future__ import annotations

import json
import math
import re
from html import escape
from typing import TYPE_CHECKING, Any

from conveyor.runtime.card.document import (
    NOT_STATED,
    Code,
    Facts,
    Heading,
    Paragraphs,
    Table,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conveyor.runtime.card.document import CardDocument, Cell

_MARKUP = re.compile(r"([\\`*_\[\]<>|#~!])")
_ORDERED = re.compile(r"^(\s*\d+)([.)])(?=\s|$)")
_BULLET = re.compile(r"^(\s*)([-+])(?=\s|$)")
_UNDERLINE = re.compile(r"^(\s*)([-=])(?=[-=]*\s*$)")


def _guard(line: str) -> str:
    """``line`` kept from opening a list item (``- x``, ``1. x``) or underlining a heading."""
    line = _ORDERED.sub(r"\1\\\2", line)  # '1\. x': a digit itself cannot be escaped
    line = _BULLET.sub(r"\1\\\2", line)
    return _UNDERLINE.sub(r"\1\\\2", line)


def md_text(text: str) -> str:
    """``text`` as literal Markdown: markup characters escaped, ``&`` as an entity.

    Each line is also kept from starting a list or a heading, so a paragraph stays one.
    """
    escaped = _MARKUP.sub(r"\\\1", text.replace("&", "&amp;"))
    return "\n".join(_guard(line) for line in escaped.split("\n"))


def _md_inline(text: str) -> str:
    """One line of literal Markdown (a table cell, a heading): whitespace runs become a space."""
    return md_text(" ".join(text.split()))


def _number(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else str(value)


def _cell_text(value: Cell) -> str:
    """A cell's text before escaping."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, int):
        return str(value)
    return value.text if isinstance(value, Code) else value


def _md_cell(value: Cell) -> str:
    if isinstance(value, Code) and "`" not in value.text and "\n" not in value.text:
        return f"`{value.text}`"
    return _md_inline(_cell_text(value))


_HIDDEN = str.maketrans({c: f"\\u{ord(c):04x}" for c in "<>&[]`"})
"""Characters that could make HTML, a link or code of front matter shown as Markdown."""


def _json(value: Any) -> str:  # noqa: ANN401 - a summary value: text, number, list, None
    """``value`` as JSON whose strings hold none of :data:`_HIDDEN` (unicode escapes instead)."""
    if isinstance(value, list):
        return "[" + ", ".join(_json(item) for item in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        value = None
    text = json.dumps(value, ensure_ascii=False)
    return text.translate(_HIDDEN) if isinstance(value, str) else text


def front_matter(summary: Mapping[str, Any]) -> list[str]:
    """The summary as ``key: value`` lines; each value is JSON, which YAML reads.

    ``<``, ``>``, ``&``, brackets and backticks in text are written as JSON's unicode escapes,
    so a Markdown viewer that does not know front matter shows plain text: no HTML, no links.
    """
    return [f"{key}: {_json(value)}" for key, value in summary.items()]


def render_markdown(card: CardDocument) -> str:
    """The card as GitHub-flavoured Markdown, opened by YAML front matter (its summary)."""
    lines = ["---", *front_matter(card.summary), "---", "", f"# {_md_inline(card.title)}", ""]
    for block in card.blocks:
        if isinstance(block, Heading):
            lines += [f"{'#' * block.level} {_md_inline(block.text)}", ""]
        elif isinstance(block, Paragraphs):
            lines += [*_md_paragraphs(block), ""]
        elif isinstance(block, Facts):
            lines += [f"- **{_md_inline(key)}**: {_md_cell(value)}" for key, value in block.items]
            lines.append("")
        elif isinstance(block, Table):
            lines += [
                "| " + " | ".join(_md_inline(h) for h in block.head) + " |",
                "|" + "|".join(" --- " if i == 0 else " ---: " for i in range(len(block.head)))
                + "|",
                *("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows),
                "",
            ]  # fmt: skip
    return "\n".join(lines).rstrip("\n") + "\n"


def _md_paragraphs(block: Paragraphs) -> list[str]:
    if block.text is None:
        hint = f" (set `{block.hint}` in conf/)" if block.hint else ""
        return [f"*{NOT_STATED}*{hint}"]
    paragraphs = [p for p in re.split(r"\n\s*\n", block.text.strip()) if p.strip()]
    out: list[str] = []
    for paragraph in paragraphs:
        # a line break inside a paragraph is kept: two spaces end a Markdown line
        out += ["  \n".join(md_text(line.strip()) for line in paragraph.splitlines()), ""]
    return out[:-1]


_STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2933;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
h3 { font-size: 1rem; margin-bottom: .3rem; }
p.text { white-space: pre-line; } p.missing { color: #7b8794; font-style: italic; }
code { background: #f0f4f8; padding: 0 .25rem; border-radius: 3px; }
dl { display: grid; grid-template-columns: max-content auto; gap: .15rem 1rem; }
dt { color: #52606d; } dd { margin: 0; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-variant-numeric: tabular-nums; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #e4e7eb; text-align: right; }
th:first-child, td:first-child { text-align: left; } thead th { border-bottom: 2px solid #9aa5b1; }
"""


def _html_cell(value: Cell) -> str:
    if isinstance(value, Code):
        return f"<code>{escape(value.text)}</code>"
    return escape(_cell_text(value))


def render_html(card: CardDocument) -> str:
    """The card as one HTML page: inline CSS, no scripts, nothing fetched."""
    title = escape(card.title)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
    ]
    for block in card.blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraphs):
            parts += _html_paragraphs(block)
        elif isinstance(block, Facts):
            items = "".join(
                f"<dt>{escape(key)}</dt><dd>{_html_cell(value)}</dd>" for key, value in block.items
            )
            parts.append(f"<dl>{items}</dl>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{escape(h)}</th>" for h in block.head)
            body = "".join(
                "<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>"
                for row in block.rows
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_paragraphs(block: Paragraphs) -> list[str]:
    if block.text is None:
        hint = f" (set <code>{escape(block.hint)}</code> in conf/)" if block.hint else ""
        return [f'<p class="missing">{NOT_STATED}{hint}</p>']
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", block.text.strip()) if p.strip()]
    return [f'<p class="text">{escape(p)}</p>' for p in paragraphs]
