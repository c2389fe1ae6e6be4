"""A chunk's text back in the shape it was written in, for the citation page.

Chunking keeps list items and table rows as "- " lines, a table row as "Name: value | Name: value"
(knowledge.parsing.table_row), so each can be quoted alone. The reader of a cited document should
see them as the list and the table they were: this undoes that flattening, escaping every piece."""

from __future__ import annotations

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()
_ITEM = "- "
_CELL = " | "


def _cells(line: str) -> list[tuple[str, str]]:
    """(column name, value) pairs of a flattened table row; the name is empty when it has none."""
    out = []
    for cell in line.split(_CELL):
        name, sep, value = cell.partition(": ")
        out.append((name, value) if sep and name and len(name) <= 40 else ("", cell))
    return out


def _table(rows: list[str]) -> str:
    parsed = [_cells(r) for r in rows]
    columns: list[str] = []
    for row in parsed:
        for name, _ in row:
            if name and name not in columns:
                columns.append(name)
    named = columns and all(name for row in parsed for name, _ in row)
    html = ["<table class='doc-table'>"]
    if named:
        html.append("<thead><tr>" + "".join(f"<th scope='col'>{escape(c)}</th>" for c in columns) + "</tr></thead>")
    html.append("<tbody>")
    for row in parsed:
        if named:
            values = dict(row)
            cells = [values.get(c, "") for c in columns]
        else:  # some cell has no column name (a blank first header cell): each keeps its own
            cells = [f"{name}: {value}" if name else value for name, value in row]
        html.append("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in cells) + "</tr>")
    html.append("</tbody></table>")
    return "".join(html)


def _items(lines: list[str]) -> str:
    """Consecutive items: a table when every one is a row of cells, else a list."""
    if len(lines) > 1 and all(_CELL in line for line in lines):
        return _table(lines)
    return "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>"


@register.filter
def chunk_html(text: str) -> SafeString:
    blocks: list[str] = []
    items: list[str] = []
    for line in text.split("\n"):
        if line.startswith(_ITEM):
            items.append(line[len(_ITEM) :])
            continue
        if items:
            blocks.append(_items(items))
            items = []
        if line.strip():
            blocks.append(f"<p>{escape(line)}</p>")
    if items:
        blocks.append(_items(items))
    return mark_safe("".join(blocks))  # noqa: S308 - every piece of text is escaped above
