"""Issue #20, the customer's side in a real browser: the widget and the chat page
as a customer meets them (banners, rate limits, keyboard, contrast, hand-over)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def open_widget(page, base: str):
    page.goto(f"{base}/embed/")
    page.get_by_role("button", name="Help").click()
    frame = page.frame_locator("#groundwork-chat")
    frame.locator("#question").wait_for()
    return frame


def test_widget_does_not_repeat_the_conversation_as_banners(browser, live_server, live_demo_kb):
    page = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    page.set_default_timeout(20_000)
    frame = open_widget(page, live_server.url)
    frame.locator("#question").fill("Can I pay with PayPal?")
    frame.locator("#question").press("Enter")
    frame.locator(".msg.bot[id^='msg-']").last.wait_for()

    page.reload()
    frame = open_widget(page, live_server.url)
    frame.locator(".msg.customer").first.wait_for()
    shot(page, "widget-reopened-phone")
    # the transcript is shown once, as the conversation, never as page-level banners
    assert frame.locator("ul.messages").count() == 0
    assert frame.locator("#question").is_visible()
    box = frame.locator("#question").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 844, "the question box is pushed out of view"

    # start over: nothing of the previous conversation stays on screen
    frame.get_by_role("button", name="Start over").click()
    frame.locator(".msg.intro").wait_for()
    assert "PayPal" not in frame.locator("body").inner_text()


def test_rate_limited_question_stays_in_the_box_with_when_it_can_be_sent(page, live_server, live_demo_kb, settings):
    settings.CHAT_RATE_LIMIT_PER_CONVERSATION = 1
    page.goto(f"{live_server.url}/chat/")
    page.fill("#question", "Can I pay with PayPal?")
    page.keyboard.press("Enter")
    page.locator(".msg.bot[id^='msg-']").last.wait_for()

    page.fill("#question", "And what does delivery to Germany cost?")
    page.keyboard.press("Enter")
    error = page.locator(".msg.error")
    error.wait_for()
    shot(page, "chat-rate-limited")
    # what the customer typed is kept, and they are told when they can send it
    assert page.input_value("#question") == "And what does delivery to Germany cost?"
    assert re.search(r"send it (again )?in \d+ seconds?", error.inner_text()), error.inner_text()
    assert re.search(r"\d{1,2}:\d{2}", error.inner_text()), "the time it can be sent is shown"
    page.wait_for_timeout(1500)  # still waiting after htmx has finished with the request
    assert page.get_by_role("button", name="Send").is_disabled()
    page.keyboard.press("Enter")  # Enter does not send it early either
    page.wait_for_timeout(300)
    assert page.input_value("#question") == "And what does delivery to Germany cost?"
