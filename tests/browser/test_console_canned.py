"""Issue #20, second list: agents insert curated replies with "/" shortcuts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from escalation import services
from escalation.models import CannedReply, Escalation
from support import services as support_services
from tests.browser.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
RETURNS = "You can return any bike within 30 days; we collect it for free."


def test_agent_inserts_a_canned_reply_with_a_shortcut(page, live_server, live_demo_kb):
    agent = User.objects.create_user("dana", password="dana-pass-123", is_staff=True)
    agent.groups.add(Group.objects.get_or_create(name="agents")[0])
    CannedReply.objects.create(shortcut="returns", text=RETURNS)
    CannedReply.objects.create(shortcut="hello", text="Hello, Dana here.")
    CannedReply.objects.create(shortcut="retired", text="never offered", active=False)
    conversation = support_services.conversation_create(channel="web").conversation
    support_services.handoff(conversation=conversation)
    escalation = Escalation.objects.get()
    services.escalation_claim(escalation_id=escalation.pk, agent=agent)

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "dana")
    page.fill("#id_password", "dana-pass-123")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    page.goto(f"{live_server.url}/console/{escalation.pk}/")
    page.focus("#reply-text")
    page.keyboard.type("Hi! /ret")
    options = page.locator("#canned-list").get_by_role("option")
    options.first.wait_for()
    assert options.count() == 1 and "/returns" in options.first.inner_text()
    shot(page, "console-canned-suggestions")
    page.keyboard.press("Tab")
    assert page.input_value("#reply-text") == f"Hi! {RETURNS}"
    page.get_by_role("button", name="Send reply").click()
    page.locator(".msg.agent").wait_for()
    assert RETURNS in page.locator(".msg.agent").inner_text()
