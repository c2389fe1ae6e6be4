"""Flows in a real browser on a phone-size screen: a customer completes the order-status flow,
another cancels a flow half-way, a third asks for a person mid-flow and the agent sees the
collected slots at the top of the console conversation."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from escalation.models import Escalation
from flows import services as flow_services
from tests.browser.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def demo_flows(settings, live_server):
    settings.DEMO_ENABLED = True
    settings.FLOW_CALL_BASE_URL = live_server.url
    with open("demo/flows.yaml") as f:
        flow_services.flows_import(text=f.read(), approve=True)


def say(page, text: str, replies: int) -> None:
    page.fill("#question", text)
    page.keyboard.press("Enter")
    page.locator(".msg.bot:not(.intro)").nth(replies - 1).wait_for()


def last_bot(page) -> str:
    return page.locator(".msg.bot:not(.intro)").last.inner_text()


def test_a_customer_completes_the_order_status_flow(phone, live_server, demo_flows):
    phone.goto(f"{live_server.url}/chat/")
    say(phone, "Where is my order?", 1)
    assert "order number" in last_bot(phone)
    say(phone, "BW-10423001", 2)
    assert "e-mail" in last_bot(phone)
    say(phone, "jo@example.com", 3)
    final = last_bot(phone)
    assert "shipped" in final and "DHL" in final and "JD014600003121" in final
    assert phone.locator(".msg.bot.kind-flow").count() == 3
    # nothing spills sideways on a phone
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(phone, "flow-order-status-phone")


def test_a_customer_cancels_a_flow_half_way(phone, live_server, demo_flows):
    phone.goto(f"{live_server.url}/chat/")
    say(phone, "I want to return my bike", 1)
    say(phone, "BW-10423001", 2)
    say(phone, "stop", 3)
    assert "stopped" in last_bot(phone)
    shot(phone, "flow-cancelled-phone")


def test_asking_for_a_person_mid_flow_shows_the_agent_the_slots(browser, phone, live_server, demo_flows):
    phone.goto(f"{live_server.url}/chat/")
    say(phone, "I need to change my delivery address", 1)
    say(phone, "BW-10423002, sam@example.com", 2)
    say(phone, "can I talk to a person please", 3)
    assert phone.locator(".msg.bot.kind-escalated").count() == 1
    escalation = Escalation.objects.get()

    agent_user = User.objects.create_user("agent", password="flow-pass-123", is_staff=True)
    agent_user.groups.add(Group.objects.get_or_create(name="agents")[0])
    agent = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    agent.set_default_timeout(20_000)
    agent.goto(f"{live_server.url}/accounts/login/")
    agent.fill("#id_username", "agent")
    agent.fill("#id_password", "flow-pass-123")
    agent.get_by_role("button", name="Log in").click()
    agent.wait_for_load_state()
    agent.goto(f"{live_server.url}/console/{escalation.pk}/")
    box = agent.locator("#flow-context")
    assert "Change delivery address" in box.inner_text()
    assert box.locator('[data-slot="order_number"]').inner_text() == "BW-10423002"
    assert box.locator('[data-slot="email"]').inner_text() == "sam@example.com"
    assert "new delivery address" in box.inner_text()  # the question the flow was waiting on
    # it is the first thing on the page after the heading
    assert agent.evaluate(
        "document.querySelector('#flow-context').getBoundingClientRect().top"
        " < document.querySelector('#console-transcript').getBoundingClientRect().top"
    )
    shot(agent, "flow-handover-console")
    agent.context.close()
