"""Render a reply's text with its citation markers as links (escaped first)."""

from __future__ import annotations

import re

from django import template
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()
_MARK = re.compile(r"\s?\[(\d{1,2})\]")


def citation_url(citation) -> str:
    url = reverse("version_view", args=[citation.version.document_id, citation.version.number])
    return f"{url}?chunk={citation.chunk_id}#chunk-{citation.chunk_id}"


@register.filter
def cite_url(citation) -> str:
    return citation_url(citation)


@register.filter
def with_citations(message) -> SafeString:
    by_n = {c.n: c for c in message.citations.all()}
    lines = escape(message.text).split("\n")
    out = []
    in_list = False
    for line in lines:
        rendered = _MARK.sub(lambda m: _link(by_n.get(int(m.group(1))), m.group(1)), line)
        if line.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{rendered[2:]}</li>")
        else:
            if in_list:
                out.append("</ul>")
                in_list = False
            if line.strip():
                out.append(f"<p>{rendered}</p>")
    if in_list:
        out.append("</ul>")
    return mark_safe("".join(out))  # noqa: S308 - every piece was escaped above


def _link(citation, n: str) -> str:
    if citation is None:
        return ""
    return format_html(
        ' <sup><a class="cite" href="{}" target="_blank" rel="noopener" aria-label="Source {}: {}">[{}]</a></sup>',
        citation_url(citation),
        n,
        citation.version.title,
        n,
    )
