"""Issue #20, defect 9: staff read words, not codes; a label says a thing once."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from escalation.models import Escalation
from knowledge import services as knowledge_services
from support import services

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("answer_freely")
def test_console_shows_reasons_and_details_in_words_once(demo_kb, agent):
    # given a grounded answer, then a question the articles do not answer, in one conversation
    conversation = services.conversation_create(channel="web").conversation
    services.message_post(conversation=conversation, text="How many days do I have to return an e-bike?")
    services.handoff(conversation=conversation)
    escalation = Escalation.objects.get(conversation=conversation)
    Escalation.objects.filter(pk=escalation.pk).update(detail="not_answerable")
    client = Client()
    client.force_login(agent)

    # when the agent opens the conversation and the queue
    detail = client.get(reverse("console:detail", args=[escalation.pk])).content.decode()
    queue = client.get(reverse("console:queue")).content.decode()

    # then the reply's kind is said once, in words, and the detail code is a sentence
    assert "grounded · grounded" not in detail and "Bot · grounded" not in detail
    assert "Bot · Answered from the knowledge base" in detail
    assert "not_answerable" not in detail and "not_answerable" not in queue
    assert "the articles found do not answer it" in queue


def test_approved_answer_history_says_what_happened_to_which_version(db, curator):
    # given a draft, its approval, a second version approved, and a roll back to the first
    v1 = knowledge_services.approved_version_create(
        title="Tandems", text="We do not sell tandems.", variants=["Do you sell tandems?"], user=curator
    )
    client = Client()
    client.force_login(curator)
    url = reverse("knowledge:answer", args=[v1.answer_id])
    assert "saved draft v1" in client.get(url).content.decode()

    knowledge_services.approved_version_approve(version=v1, user=curator)
    v2 = knowledge_services.approved_version_create(
        answer=v1.answer, text="No tandems, sorry.", variants=["Do you sell tandems?"], user=curator
    )
    knowledge_services.approved_version_approve(version=v2, user=curator)
    knowledge_services.approved_version_approve(version=v1, user=curator)

    # when the curator reads the history, then it names versions by number, in words
    page = client.get(url).content.decode()
    history = page.split("<h2>History</h2>")[1]
    assert "approved_answer." not in history and "(was " not in history
    for line in ("saved draft v1", "approved v1", "saved draft v2", "approved v2, retiring v1", "rolled back to v1"):
        assert f"curator {line}" in history, line


def test_every_escalation_detail_the_pipeline_writes_has_words():
    from pathlib import Path

    from core.choices import DETAIL_LABELS
    from support.pipeline import run

    written = set(re.findall(r'why="(\w+)"', Path(run.__file__).read_text()))
    assert "low_confidence" in written  # the reply-confidence gate's escalation
    assert written <= set(DETAIL_LABELS), written - set(DETAIL_LABELS)
