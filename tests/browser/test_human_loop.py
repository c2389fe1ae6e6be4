"""The whole loop in a real browser, with screenshots: an uncovered question is
escalated, an agent claims and answers it in the customer's chat, records a
correction, a curator approves it, and the next customer gets that answer."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from knowledge.models import ApprovedAnswerVersion
from support.models import Message
from tests.browser.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
QUESTION = "Do you sell tandem bikes?"
ANSWER = "We don't sell tandem bikes at the moment; our range is single-rider bikes and e-bikes."


def staff(name: str, group: str) -> User:
    user = User.objects.create_user(name, password="loop-pass-123", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "loop-pass-123")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_escalation_to_approved_answer(browser, live_server, live_demo_kb):
    base = live_server.url
    staff("agent", "agents")
    staff("curator", "curators")
    customer = browser.new_context().new_page()
    agent = browser.new_context().new_page()
    curator = browser.new_context().new_page()
    for p in (customer, agent, curator):
        p.set_default_timeout(20_000)

    # 1. the customer asks something the knowledge base does not cover
    customer.goto(f"{base}/chat/")
    customer.fill("#question", QUESTION)
    customer.keyboard.press("Enter")
    customer.locator(".msg.bot.kind-escalated").wait_for()
    shot(customer, "loop-1-customer-escalated")

    # 2. an agent claims it and replies
    log_in(agent, base, "agent")
    agent.goto(f"{base}/console/")
    agent.get_by_role("link", name=QUESTION).click()
    agent.get_by_role("button", name="Claim").click()
    agent.fill("#reply-text", ANSWER)
    agent.get_by_role("button", name="Send reply").click()
    agent.locator(".msg.agent").wait_for()
    shot(agent, "loop-2-agent-replied")

    # 3. the customer sees the reply in the open chat (the page polls)
    customer.locator(".msg.agent").wait_for(timeout=15_000)
    assert ANSWER in customer.locator(".msg.agent").inner_text()
    shot(customer, "loop-3-customer-sees-agent")

    # 4. the agent records what the bot should have said
    agent.get_by_role("link", name="Flag / correct this reply").first.click()
    agent.select_option("#problem", "no_answer")
    agent.fill("#corrected_text", ANSWER)
    agent.get_by_role("button", name="Record correction").click()
    agent.wait_for_load_state()

    # 5. a curator accepts it and approves the draft
    log_in(curator, base, "curator")
    curator.goto(f"{base}/console/replies/")
    shot(curator, "loop-4-problematic-replies")
    curator.get_by_role("button", name="Accept → draft approved answer").click()
    curator.wait_for_load_state()
    curator.get_by_role("button", name="Approve v1").click()
    curator.wait_for_load_state()
    shot(curator, "loop-5-curator-approved")
    version = ApprovedAnswerVersion.objects.get()
    assert version.status == "approved"

    # 6. a new customer asking the same question gets the approved answer
    newcomer = browser.new_context().new_page()
    newcomer.goto(f"{base}/chat/")
    newcomer.fill("#question", QUESTION)
    newcomer.keyboard.press("Enter")
    reply = newcomer.locator(".msg.bot.kind-approved")
    reply.wait_for()
    assert ANSWER in reply.inner_text()
    shot(newcomer, "loop-6-new-customer-approved")
    recorded = Message.objects.filter(kind="approved").get()
    assert recorded.approved_version_id == version.pk
