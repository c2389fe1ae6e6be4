"""What Intercom and Chatwoot users expect of the widget (issue #20, second list): the agent's name and
initials, an unread badge on the closed launcher, and a full-screen chat on a phone with its own Close."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from playwright.sync_api import expect

from escalation import services as escalation_services
from escalation.models import Escalation
from tests.browser.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_agent_reply_shows_name_and_badges_the_closed_launcher(page, live_server, live_demo_kb):
    agent = User.objects.create_user("dana", password="pw", first_name="Dana", is_staff=True)
    agent.groups.add(Group.objects.get_or_create(name="agents")[0])
    page.goto(f"{live_server.url}/embed/")
    launcher = page.get_by_role("button", name="Help")
    launcher.click()
    frame = page.frame_locator("#groundwork-chat")
    frame.get_by_role("button", name="Talk to a person").click()
    frame.locator(".msg.system").wait_for()
    page.keyboard.press("Escape")  # the customer closes the chat and reads the page

    escalation = Escalation.objects.get()
    escalation_services.escalation_claim(escalation_id=escalation.pk, agent=agent)
    escalation_services.escalation_reply(escalation=escalation, agent=agent, text="Hi, Dana here. How can I help?")

    badge = page.locator("#groundwork-launcher .groundwork-unread")
    badge.wait_for(timeout=15_000)  # the framed chat polls every 3 s
    assert badge.inner_text() == "1"
    assert "1 new message" in page.locator("#groundwork-launcher").get_attribute("aria-label")
    shot(page, "widget-unread-badge")

    page.locator("#groundwork-launcher").click()
    reply = frame.locator(".msg.agent").last
    assert "Dana" in reply.locator(".who").inner_text()
    assert reply.locator(".avatar").inner_text() == "D"
    assert badge.count() == 0 or badge.is_hidden()


def test_widget_is_full_screen_on_a_phone_and_closes_from_inside(browser, live_server, live_demo_kb):
    page = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/embed/")
    page.get_by_role("button", name="Help").click()
    box = page.locator("#groundwork-chat").bounding_box()
    assert box["width"] >= 389 and box["height"] >= 843, box
    frame = page.frame_locator("#groundwork-chat")
    frame.locator("#question").wait_for()
    shot(page, "widget-phone-full-screen")
    frame.get_by_role("button", name="Close chat").click()
    expect(page.locator("#groundwork-chat")).to_be_hidden()


def test_agent_sees_where_the_customer_wrote_from(browser, live_server, live_demo_kb):
    agent = User.objects.create_user("dana", password="dana-pass-123", first_name="Dana", is_staff=True)
    agent.groups.add(Group.objects.get_or_create(name="agents")[0])
    customer = browser.new_context(locale="de-DE").new_page()
    customer.set_default_timeout(20_000)
    customer.goto(f"{live_server.url}/embed/?campaign=spring")
    customer.get_by_role("button", name="Help").click()
    frame = customer.frame_locator("#groundwork-chat")
    frame.get_by_role("button", name="Talk to a person").click()
    frame.locator(".msg.system").wait_for()

    console = browser.new_context().new_page()
    console.set_default_timeout(20_000)
    console.goto(f"{live_server.url}/accounts/login/")
    console.fill("#id_username", "dana")
    console.fill("#id_password", "dana-pass-123")
    console.get_by_role("button", name="Log in").click()
    console.wait_for_load_state()
    console.goto(f"{live_server.url}/console/{Escalation.objects.get().pk}/")
    context = console.locator("dl.context").inner_text()
    shot(console, "console-customer-context")
    assert "/embed/?campaign=spring" in context
    assert "Chrome" in context and "Linux" in context
    assert "de-DE" in context


def test_customer_sees_the_agent_typing(browser, asgi_server, live_demo_kb):
    agent = User.objects.create_user("dana", password="dana-pass-123", first_name="Dana", is_staff=True)
    agent.groups.add(Group.objects.get_or_create(name="agents")[0])
    customer = browser.new_context().new_page()
    customer.set_default_timeout(20_000)
    customer.goto(f"{asgi_server.url}/chat/")
    customer.get_by_role("button", name="Talk to a person").click()
    customer.locator(".msg.system").wait_for()
    escalation = Escalation.objects.get()
    escalation_services.escalation_claim(escalation_id=escalation.pk, agent=agent)

    console = browser.new_context().new_page()
    console.set_default_timeout(20_000)
    console.goto(f"{asgi_server.url}/accounts/login/")
    console.fill("#id_username", "dana")
    console.fill("#id_password", "dana-pass-123")
    console.get_by_role("button", name="Log in").click()
    console.wait_for_load_state()
    console.goto(f"{asgi_server.url}/console/{escalation.pk}/")
    console.focus("#reply-text")
    console.keyboard.type("Let me check that for you")

    # pushed (the app as make run serves it); the polling fallback is tests/browser/test_live_push.py's
    customer.get_by_text("Dana is typing…").wait_for(timeout=5_000)
    shot(customer, "chat-agent-typing")


def test_unread_sound_is_off_by_default_and_a_setting_in_the_widget(page, asgi_server, live_demo_kb):
    """The closed launcher plays a short tone for a new reply only once the customer turns the sound on
    in the chat (a tone made with Web Audio: the launcher counts the ones it played)."""
    agent = User.objects.create_user("dana", password="pw", first_name="Dana", is_staff=True)
    agent.groups.add(Group.objects.get_or_create(name="agents")[0])
    page.goto(f"{asgi_server.url}/embed/")
    launcher = page.locator("#groundwork-launcher")
    launcher.click()
    frame = page.frame_locator("#groundwork-chat")
    toggle = frame.get_by_label("Sound for new replies")
    expect(toggle).not_to_be_checked()
    frame.get_by_role("button", name="Talk to a person").click()
    frame.locator(".msg.system").first.wait_for()
    page.keyboard.press("Escape")
    escalation = Escalation.objects.get()
    escalation_services.escalation_claim(escalation_id=escalation.pk, agent=agent)
    escalation.refresh_from_db()

    escalation_services.escalation_reply(escalation=escalation, agent=agent, text="First reply")
    expect(launcher.locator(".groundwork-unread")).to_have_text("1")
    assert launcher.get_attribute("data-tones") is None  # off by default: silent

    launcher.click()
    toggle.check()
    page.keyboard.press("Escape")
    escalation_services.escalation_reply(escalation=escalation, agent=agent, text="Second reply")
    expect(launcher.locator(".groundwork-unread")).to_have_text("1")
    expect(launcher).to_have_attribute("data-tones", "1")

    page.reload()  # the choice is remembered in this browser
    launcher.click()
    expect(page.frame_locator("#groundwork-chat").get_by_label("Sound for new replies")).to_be_checked()
