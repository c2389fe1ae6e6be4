"""The customer's chat in a real browser: ask, read a cited answer, open the
citation, rate it, ask for a person; on a phone too, and embedded."""

from __future__ import annotations

import re

import pytest

from support.models import Message
from tests.browser.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def ask(page, text: str) -> None:
    page.fill("#question", text)
    page.keyboard.press("Enter")


@pytest.mark.usefixtures("answer_freely")
def test_ask_read_cited_answer_open_citation_rate_and_ask_for_a_person(page, live_server, live_demo_kb):
    page.goto(f"{live_server.url}/chat/")
    ask(page, "How many days do I have to return an e-bike?")
    answer = page.locator(".msg.bot.kind-grounded").last
    answer.wait_for()
    assert "14 days" in answer.inner_text()
    citation = answer.locator("a.cite").first
    assert citation.inner_text() == "[1]"
    shot(page, "chat-grounded-answer")

    # open the citation: the document version with the cited passage highlighted
    with page.context.expect_page() as opened:
        citation.click()
    source = opened.value
    source.wait_for_load_state()
    assert re.search(r"/docs/\d+/v1/\?chunk=\d+", source.url)
    highlighted = source.locator("section.chunk.highlight")
    assert highlighted.count() == 1 and "14 days" in highlighted.inner_text()
    shot(source, "citation-highlighted")
    source.close()

    # rate it
    answer.get_by_role("button", name="No, this did not help").click()
    page.get_by_text("we'll review this answer").wait_for()
    assert Message.objects.get(kind="grounded").thumbs == -1

    # ask for a person
    page.get_by_role("button", name="Talk to a person").click()
    page.locator(".msg.bot.kind-escalated").wait_for()
    assert "person will reply here" in page.locator(".msg.bot.kind-escalated").last.inner_text()
    page.get_by_text("A person from our team will answer here").wait_for()
    shot(page, "chat-handed-over")


@pytest.mark.usefixtures("answer_freely")
def test_typing_indicator_and_keyboard_only_use(page, live_server, live_demo_kb):
    page.goto(f"{live_server.url}/chat/")
    page.keyboard.press("Tab")  # skip links in the header until the question box
    page.focus("#question")
    page.keyboard.type("What does delivery to Germany cost?")
    page.keyboard.press("Enter")
    page.locator(".msg.bot.kind-grounded").wait_for()
    assert page.locator("#typing").is_hidden()
    # the send button is reachable and labelled
    assert page.get_by_role("button", name="Send").is_visible()


def test_unanswerable_question_is_handed_over_honestly(page, live_server, live_demo_kb):
    page.goto(f"{live_server.url}/chat/")
    ask(page, "Do you sell tandem bikes?")
    reply = page.locator(".msg.bot.kind-escalated")
    reply.wait_for()
    assert "won't guess" in reply.inner_text()
    assert page.locator("a.cite").count() == 0


def test_phone_width_layout(phone, live_server, live_demo_kb):
    phone.goto(f"{live_server.url}/chat/")
    ask(phone, "How long is the warranty on the frame?")
    phone.locator(".msg.bot[id^='msg-']").last.wait_for()  # a recorded reply, not the greeting
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"page scrolls sideways on a phone: {width}px"
    shot(phone, "chat-phone")


def test_embedded_widget_opens_the_chat_in_an_iframe(page, live_server, live_demo_kb):
    page.goto(f"{live_server.url}/embed/")
    page.get_by_role("button", name="Help").click()
    frame = page.frame_locator("#groundwork-chat")
    frame.locator("#question").fill("Can I pay with PayPal?")
    frame.locator("#question").press("Enter")
    reply = frame.locator(".msg.bot[id^='msg-']").last  # a recorded reply, not the greeting
    reply.wait_for()
    assert "PayPal" in reply.inner_text() or reply.get_attribute("class").find("kind-escalated") >= 0
    shot(page, "widget-embedded")
