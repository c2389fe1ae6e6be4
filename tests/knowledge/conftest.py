"""Fixtures for the knowledge tests: a local help-centre website (never the internet)."""

from __future__ import annotations

import pytest

from tests.knowledge.help_site import HelpSite, serve


@pytest.fixture
def help_site(settings):
    """An empty site on 127.0.0.1; tests add pages. The crawl is fast and short-fused here."""
    settings.SOURCE_CRAWL_DELAY_SECONDS = 0.0
    settings.SOURCE_FETCH_TIMEOUT_SECONDS = 2.0
    site = HelpSite()
    server = serve(site)
    site.page("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    yield site
    server.shutdown()
    server.server_close()
