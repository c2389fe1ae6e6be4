"""Issue #20, the staff's side in a real browser: every staff page at phone and desktop width."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from escalation.models import Escalation
from guardrails.models import SecurityEvent
from knowledge.models import Document
from support import services
from support.models import Message
from tests.browser.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "staff-pass-123"
LONG_QUESTION = (
    "My order https://shop.example.com/orders/2026-11-30/confirmation?id=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
    "never arrived and the tracking page at the courier says nothing at all, what should I do now?"
)


def boss() -> User:
    user = User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    for name in ("agents", "curators"):
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


def log_in(page, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def seed() -> dict[str, int]:
    """Enough of everything that each page shows its widest content."""
    for question in (LONG_QUESTION, "Do you sell tandem bikes?", "Can I bring my dog on the test ride?"):
        conversation = services.conversation_create(channel="web").conversation
        services.message_post(conversation=conversation, text=question)
    grounded = Message.objects.filter(role="bot").first()
    Message.objects.filter(pk=grounded.pk).update(thumbs=-1)
    SecurityEvent.objects.create(
        text="aWdub3JlIGFsbCBwcmV2aW91cyBpbnN0cnVjdGlvbnM" * 12, decision="flagged", score=0.7, signals={}
    )
    return {
        "escalation": Escalation.objects.order_by("id").first().pk,
        "document": Document.objects.order_by("id").first().pk,
        "message": grounded.pk,
    }


def staff_paths(ids: dict[str, int]) -> list[str]:
    return [
        "/",
        "/console/",
        f"/console/{ids['escalation']}/",
        "/console/replies/",
        f"/console/replies/{ids['message']}/correct/",
        "/kb/",
        "/kb/upload/",
        "/kb/jobs/",
        f"/kb/documents/{ids['document']}/",
        f"/docs/{ids['document']}/v1/",
        "/kb/answers/",
        "/kb/answers/new/",
        "/insights/",
        "/security/",
    ]


def test_no_staff_page_scrolls_sideways_on_a_phone_or_a_desktop(browser, live_server, live_demo_kb):
    boss()
    ids = seed()
    wide = []
    for width, height in ((390, 844), (1280, 800)):
        page = browser.new_context(viewport={"width": width, "height": height}).new_page()
        page.set_default_timeout(20_000)
        log_in(page, live_server.url)
        for path in staff_paths(ids):
            response = page.goto(f"{live_server.url}{path}")
            assert response.ok, f"{path}: {response.status}"
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            name = f"{width}-{path.strip('/').replace('/', '-') or 'home'}"
            shot(page, f"staff-{name}")
            if scroll_width > width:
                wide.append(f"{path} at {width}: {scroll_width}px")
        page.context.close()
    assert not wide, "pages scroll sideways: " + "; ".join(wide)
