"""Issue #20, defect 6: the queue is paged (CONSOLE_PAGE_SIZE), most urgent first, and the live refresh
keeps the page and the filters."""

from __future__ import annotations

import pytest
from django.test import Client

from escalation.models import Escalation
from support.models import Conversation

pytestmark = pytest.mark.django_db


def test_queue_is_paged_and_the_refresh_keeps_the_page(agent, settings):
    settings.CONSOLE_PAGE_SIZE = 10
    for i in range(23):
        conversation = Conversation.objects.create(token_hash=f"{i:064d}")
        Escalation.objects.create(conversation=conversation, reason="no_answer", priority=10 if i == 22 else 50)
    client = Client()
    client.force_login(agent)

    first = client.get("/console/")
    assert len(first.context["items"]) == 10
    assert first.context["items"][0].priority == 10  # the most urgent on the first page
    page = first.content.decode()
    assert "Page 1 of 3" in page and "?page=2" in page

    last = client.get("/console/?page=3")
    assert len(last.context["items"]) == 3
    assert "page=3" in last.content.decode().split('id="queue"')[1].split(">")[0]  # the poll stays on page 3
    assert client.get("/console/?page=99").status_code == 200  # past the end: the last page
