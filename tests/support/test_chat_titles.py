"""Issue #20, defect 9: the chat and widget are titled from SUPPORT_COMPANY_NAME, not the demo shop."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_chat_and_widget_titles_come_from_the_setting(client, settings):
    settings.SUPPORT_COMPANY_NAME = "Acme Scooters"
    assert "<title>Help · Acme Scooters</title>" in client.get("/chat/").content.decode()
    assert "Acme Scooters support chat" in client.get("/widget.js").content.decode()

    settings.SUPPORT_COMPANY_NAME = ""
    page = client.get("/chat/").content.decode()
    assert "<title>Help</title>" in page and "Brightwheel" not in page
    assert "Customer support chat" in client.get("/widget.js").content.decode()
