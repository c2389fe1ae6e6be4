"""Alerts: raised once until resolved, notified by email and webhook, raised by
drift, a spent budget, abnormal retries and suppressed replies."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from insights import services
from insights.models import Alert
from support.models import Conversation, Message

pytestmark = pytest.mark.django_db


def test_an_alert_is_raised_once_until_resolved(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = services.alert_raise(kind="escalation_rate", message="up")
        second = services.alert_raise(kind="escalation_rate", message="up again")
    assert first is not None and second is None
    services.alert_resolve(alert=first)
    assert services.alert_raise(kind="escalation_rate", message="up once more") is not None


def test_alerts_go_to_email_and_webhook_once(settings, django_capture_on_commit_callbacks):
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.ALERT_EMAIL = "ops@example.com"
    settings.ALERT_WEBHOOK_URL = f"http://127.0.0.1:{server.server_address[1]}/hook"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    try:
        with django_capture_on_commit_callbacks(execute=True):
            alert = services.alert_raise(kind="block_rate", message="blocks tripled")
        assert services.alert_notify(alert_id=alert.pk) is False  # already sent
    finally:
        server.shutdown()
    assert len(mail.outbox) == 1 and "blocks tripled" in mail.outbox[0].body
    assert received == [{**received[0], "kind": "block_rate", "message": "blocks tripled"}]


def _bot(kind: str, when, thumbs=None) -> None:
    conversation = Conversation.objects.create(token_hash="x")
    message = Message.objects.create(conversation=conversation, role="bot", kind=kind, text="t", thumbs=thumbs)
    Message.objects.filter(pk=message.pk).update(created_at=when)


def test_drift_detector_raises_when_the_escalation_rate_departs_from_its_baseline(settings):
    settings.DRIFT_MIN_EVENTS = 20
    now = timezone.now()
    for i in range(200):  # a calm week: 10% escalated
        _bot("escalated" if i % 10 == 0 else "grounded", now - timedelta(hours=2 + i % 100))
    for i in range(40):  # the last hour: 50% escalated
        _bot("escalated" if i % 2 else "grounded", now - timedelta(minutes=1 + i))
    raised = services.drift_check(now=now)
    assert [a.kind for a in raised] == ["escalation_rate"]
    assert raised[0].value == pytest.approx(0.5) and raised[0].baseline == pytest.approx(0.1)
    assert services.drift_check(now=now) == []  # once until resolved


def test_drift_detector_stays_quiet_on_normal_traffic_and_small_numbers(settings):
    settings.DRIFT_MIN_EVENTS = 20
    now = timezone.now()
    for i in range(200):
        _bot("escalated" if i % 10 == 0 else "grounded", now - timedelta(hours=2 + i % 100))
    for i in range(40):  # same rate
        _bot("escalated" if i % 10 == 0 else "grounded", now - timedelta(minutes=1 + i))
    for i in range(3):  # a burst too small to mean anything
        _bot("blocked", now - timedelta(minutes=1 + i))
    assert services.drift_check(now=now) == []


def test_departs_needs_volume_a_jump_and_significance():
    from insights.services import Rate, departs

    assert departs(Rate(30, 60), Rate(100, 1000), min_total=20)
    assert not departs(Rate(3, 6), Rate(100, 1000), min_total=20)  # too few
    assert not departs(Rate(4, 40), Rate(0, 1000), min_total=20)  # too few hits to call it a trend
    assert not departs(Rate(12, 100), Rate(100, 1000), min_total=20)  # not a jump
    assert not departs(Rate(9, 60), Rate(100, 1000), min_total=20)


def test_a_spent_daily_budget_raises_an_alert(demo_kb, settings):
    from support.pipeline import policy, run

    settings.CHAT_DAILY_TOKEN_BUDGET = 1000
    policy.add_daily_tokens(1000)
    conversation = Conversation.objects.create(token_hash="x")
    run.answer(text="How many days do I have to return an e-bike?", conversation=conversation)
    assert Alert.objects.get(kind="daily_budget").status == "open"


def test_abnormal_retries_raise_an_alert(settings):
    from django.core.cache import cache

    from support.pipeline import llm

    cache.clear()
    settings.RETRY_ALERT_PER_HOUR = 3
    for _ in range(3):
        llm._count_retry()
    assert Alert.objects.filter(kind="retry_rate").exists() and llm.retry_count() == 3


def test_staff_pages_show_open_alerts(admin_client):
    services.alert_raise(kind="thumbs_down_rate", message="customers are unhappy")
    page = admin_client.get("/kb/").content.decode()
    assert "1 open alert" in page and "customers are unhappy" in page
