"""Markdown to HTML for the pages, with every piece of HTML in the source escaped: an
article is written by an admin or imported from files, and no stored script may run
on a customer's or engineer's page."""

from __future__ import annotations

from markdown_it import MarkdownIt

# "commonmark" with html=False: raw HTML is shown as text; markdown-it also refuses
# javascript:, vbscript: and data: (except images) link targets.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def to_html(markdown: str) -> str:
    return str(_md.render(markdown))
