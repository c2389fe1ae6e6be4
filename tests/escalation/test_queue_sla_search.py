"""Issue #20, second list: the queue colours waiting time against the first-reply promise
(SUPPORT_FIRST_REPLY_MINUTES) and finds an escalation by what the customer wrote."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from escalation.models import Escalation
from support.models import Conversation, Message

pytestmark = pytest.mark.django_db


def _escalation(text: str, minutes_ago: int, replied: bool = False) -> Escalation:
    conversation = Conversation.objects.create(token_hash=text[:64].ljust(64, "0"))
    customer = Message.objects.create(conversation=conversation, role="customer", text=text)
    bot = Message.objects.create(conversation=conversation, role="bot", kind="escalated", text="…", reply_to=customer)
    escalation = Escalation.objects.create(conversation=conversation, reason="no_answer", trigger_message=bot)
    opened = timezone.now() - timedelta(minutes=minutes_ago)
    Escalation.objects.filter(pk=escalation.pk).update(opened_at=opened, first_reply_at=opened if replied else None)
    escalation.refresh_from_db()
    return escalation


def test_first_reply_promise_states(settings):
    settings.SUPPORT_FIRST_REPLY_MINUTES = 10
    assert _escalation("fresh question", 1).first_reply_state == ""
    assert _escalation("nearly late question", 9).first_reply_state == "due"
    assert _escalation("late question", 30).first_reply_state == "overdue"
    assert _escalation("answered question", 30, replied=True).first_reply_state == ""


def test_queue_marks_overdue_and_searches(agent, settings):
    settings.SUPPORT_FIRST_REPLY_MINUTES = 10
    _escalation("Where is my tandem?", 30)
    _escalation("Can I pay in instalments?", 1)
    client = Client()
    client.force_login(agent)
    page = client.get("/console/").content.decode()
    assert "overdue" in page

    found = client.get("/console/", {"q": "tandem"})
    assert [e.trigger_message.reply_to.text for e in found.context["items"]] == ["Where is my tandem?"]
    assert 'value="tandem"' in found.content.decode()
