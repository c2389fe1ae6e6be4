"""Issue #20, second list: the customer can have the conversation emailed to them."""

from __future__ import annotations

import pytest
from django.core import mail

from support import services

pytestmark = pytest.mark.django_db


def test_the_transcript_is_emailed_on_request(client, demo_kb, settings):
    settings.SUPPORT_COMPANY_NAME = "Acme Scooters"
    client.post("/chat/send/", {"text": "Do you sell tandem bikes?"})
    response = client.post("/chat/transcript/", {"email": "ann@example.com"})
    assert "sent" in response.content.decode()
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["ann@example.com"] and "Acme Scooters" in sent.subject
    assert "You: Do you sell tandem bikes?" in sent.body and "Assistant:" in sent.body


def test_a_bad_address_or_no_conversation_sends_nothing(client):
    assert (
        "Start a conversation first" in client.post("/chat/transcript/", {"email": "ann@example.com"}).content.decode()
    )
    conversation = services.conversation_create(channel="web").conversation
    with pytest.raises(services.ApplicationError):
        services.transcript_email(conversation=conversation, email="not an address")
    assert mail.outbox == []


def test_transcripts_are_rate_limited_per_conversation(settings):
    conversation = services.conversation_create(channel="web").conversation
    for _ in range(settings.CHAT_TRANSCRIPT_EMAILS_PER_WINDOW):
        services.transcript_email(conversation=conversation, email="ann@example.com")
    with pytest.raises(services.ApplicationError):
        services.transcript_email(conversation=conversation, email="ann@example.com")
