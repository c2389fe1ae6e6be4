"""Issue #20, second list: the customer asks for the transcript by email from the chat."""

from __future__ import annotations

import pytest
from django.core import mail

from tests.browser.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_customer_emails_the_transcript_to_themselves(page, live_server, live_demo_kb, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    page.goto(f"{live_server.url}/chat/")
    page.fill("#question", "Do you sell tandem bikes?")
    page.keyboard.press("Enter")
    page.locator(".msg.bot[id^='msg-']").last.wait_for()
    page.get_by_text("Email me this conversation").click()
    page.fill("#transcript-email", "ann@example.com")
    page.wait_for_timeout(3500)  # a poll of the open chat must not reset the form being filled in
    assert page.input_value("#transcript-email") == "ann@example.com"
    page.get_by_role("button", name="Email it").click()
    page.get_by_text("sent to your email").wait_for()
    shot(page, "chat-transcript-emailed")
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    assert "Do you sell tandem bikes?" in mail.outbox[0].body
