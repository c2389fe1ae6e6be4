"""Issue #20, defect 7: the citation page shows a document as it was written (tables as tables,
lists as lists) and the cited passage opens with its heading in view."""

from __future__ import annotations

import pytest

from knowledge import services
from knowledge.models import Chunk
from knowledge.sources import SourceFile
from tests.browser.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

INTRO = " ".join(f"Sentence {i} of the introduction says something about our loyalty scheme." for i in range(40))
DOC = f"""# Loyalty tiers

{INTRO}

## Return windows by tier

Each tier keeps its own return window.

| Tier | Return window | Free servicing |
|------|---------------|----------------|
| Bronze | 14 days | none |
| Silver | 30 days | one visit |
| Gold | 60 days | two visits |

What you need to return a bike:

- the original receipt
- all keys and chargers
- the frame number
"""


def test_citation_page_renders_tables_and_lists_with_the_cited_heading_in_view(
    browser, live_server, transactional_db, django_db_serialized_rollback
):
    for job in services.jobs_create(files=[SourceFile("loyalty.md", DOC.encode())], verify=True):
        services.job_run(job_id=job.pk)
    cited = Chunk.objects.get(text__contains="Gold")
    assert cited.heading_path.endswith("Return windows by tier")
    version = cited.version
    page = browser.new_context(viewport={"width": 390, "height": 700}).new_page()
    page.goto(f"{live_server.url}/docs/{version.document_id}/v{version.number}/?chunk={cited.pk}#chunk-{cited.pk}")
    page.screenshot(path=str(shot(page, "citation-table-list")).replace(".png", "-viewport.png"))

    passage = page.locator("section.chunk.highlight")
    # the table is a table with its header, the list a list; no raw "- " or "|" markup
    table = passage.locator("table")
    assert table.count() == 1
    assert table.locator("th").all_inner_texts() == ["Tier", "Return window", "Free servicing"]
    assert table.locator("tbody tr").count() == 3
    assert page.locator("section.chunk li").all_inner_texts()[-3:] == [
        "the original receipt",
        "all keys and chargers",
        "the frame number",
    ]
    assert " | " not in page.locator("article").inner_text()
    assert "- the original" not in page.locator("article").inner_text()

    # the cited section's heading is on screen, above the passage
    heading = page.get_by_text("Return windows by tier", exact=False).last
    box = heading.bounding_box()
    assert box is not None and 0 <= box["y"] <= 700 - box["height"], box
