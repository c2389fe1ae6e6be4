"""The citation page's rendering of a chunk's table rows keeps every column's name."""

from __future__ import annotations

from knowledge.templatetags.documents import chunk_html


def test_a_table_whose_first_header_cell_is_blank_keeps_the_other_column_names():
    # `table_row` writes a row as "- first | Name: value | ...": the first column had no header.
    html = chunk_html("Plans\n- Price | Basic: 10 EUR | Pro: 20 EUR\n- Delivery | Basic: 5 EUR | Pro: free")
    assert "Basic" in html and "Pro" in html, html
    assert "10 EUR" in html and "free" in html


def test_a_fully_named_table_gets_a_header_row():
    html = chunk_html("- Plan: Basic | Price: 10 EUR\n- Plan: Pro | Price: 20 EUR")
    assert "<th scope='col'>Plan</th>" in html and "<td>Pro</td>" in html, html


def test_cells_are_escaped():
    html = chunk_html("- a: <b>x</b> | b: y\n- a: 1 | b: 2")
    assert "<b>" not in html and "&lt;b&gt;" in html
