"""Issue #20, second list: the agent sees where the customer wrote from (page, browser, language)."""

from __future__ import annotations

import pytest

from escalation.selectors import browser_name
from support.models import Conversation

pytestmark = pytest.mark.django_db


def test_the_customers_page_browser_and_language_are_kept_for_the_agent(client):
    client.get("/chat/", {"embed": "1", "page": "https://shop.example.com/bikes/e-city?ref=home"})
    client.post(
        "/chat/handoff/",
        HTTP_USER_AGENT="Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36",
        HTTP_ACCEPT_LANGUAGE="nl-NL,nl;q=0.9,en;q=0.8",
    )
    conversation = Conversation.objects.get()
    assert conversation.page_url == "https://shop.example.com/bikes/e-city?ref=home"
    assert conversation.language == "nl-NL" and "Android" in conversation.user_agent


def test_a_referer_that_is_not_a_web_address_is_not_kept(client):
    client.post("/chat/handoff/", HTTP_REFERER="javascript:alert(1)")
    assert Conversation.objects.get().page_url == ""


def test_browser_names_for_the_agent():
    android = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36"
    assert browser_name(android) == "Chrome on Android"
    iphone = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile Safari/604.1"
    )
    assert browser_name(iphone) == "Safari on iPhone"
    assert browser_name("") == ""


def test_talk_to_a_person_over_the_new_conversation_limit_says_so(client, settings):
    """ "Talk to a person" from a fresh browser opens a conversation: over the per-address limit the
    chat says when to try again (it was a 500, found while measuring live-event delivery)."""
    settings.CHAT_RATE_LIMIT_NEW_CONVERSATIONS_PER_IP = 1
    client.post("/chat/handoff/")
    client.cookies.clear()  # another browser at the same address
    response = client.post("/chat/handoff/")
    assert response.status_code == 200
    assert "try again in" in response.content.decode()
    assert Conversation.objects.count() == 1
