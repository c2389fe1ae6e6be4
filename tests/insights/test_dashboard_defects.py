"""Issue #20, defect 8: charts over a period with one day of data, reasons in words, a minimum sample
before a rate alerts, and alerts acknowledged in the app."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from insights import charts, services
from insights.models import Alert, AlertRule
from support.models import Conversation, Message

pytestmark = pytest.mark.django_db


def test_a_chart_with_one_day_of_data_spans_the_period_and_shows_the_value():
    end = date(2026, 12, 7)
    svg = str(charts.line_chart([(end, 42.0)], title="Conversations per day", start=end - timedelta(days=29), end=end))
    labels = re.findall(r'class="chart-label">([^<]+)<', svg)
    assert "08 Nov" in labels and "07 Dec" in labels  # the axis runs over the period, not one day twice
    assert ">42<" in svg  # a lone point says its value
    # the dot sits at its own date: the right end of the axis
    cx = float(re.search(r'<circle cx="([\d.]+)"', svg).group(1))
    assert cx > 400


def test_a_chart_places_days_by_date_and_breaks_the_line_over_missing_days():
    start = date(2026, 12, 1)
    points = [(start, 1.0), (start + timedelta(days=1), 2.0), (start + timedelta(days=5), 3.0)]
    svg = str(charts.line_chart(points, title="x", start=start, end=start + timedelta(days=6)))
    assert svg.count("<polyline") == 1  # days 1-2 joined; day 6 alone, not drawn across the gap


def _rated_replies(n_down: int, n_conversations: int) -> None:
    for i in range(n_conversations):
        conversation = Conversation.objects.create(token_hash=f"{i:064d}", channel="web")
        customer = Message.objects.create(conversation=conversation, role="customer", text="q")
        Message.objects.create(
            conversation=conversation,
            role="bot",
            kind="grounded",
            reason="grounded",
            text="a",
            reply_to=customer,
            thumbs=-1 if i < n_down else None,
        )


def test_a_rate_alerts_only_on_a_minimum_sample(settings):
    settings.ALERT_MIN_SAMPLE = 10
    AlertRule.objects.update_or_create(metric="thumbs_down_rate", defaults={"threshold": 0.5, "min_events": 1})
    _rated_replies(n_down=2, n_conversations=25)  # 2 thumbs-down out of 2 rated: rate 1, but 2 is no sample
    assert services.alert_rules_check() == []
    settings.ALERT_MIN_SAMPLE = 2
    assert [a.kind for a in services.alert_rules_check()] == ["thumbs_down_rate"]


def test_dashboard_reasons_in_words_and_alerts_resolved_in_the_app(curator):
    conversation = Conversation.objects.create(token_hash="0" * 64, channel="web")
    customer = Message.objects.create(conversation=conversation, role="customer", text="a person please")
    bot = Message.objects.create(
        conversation=conversation, role="bot", kind="escalated", reason="customer_asked", text="…", reply_to=customer
    )
    from escalation.models import Escalation

    Escalation.objects.create(conversation=conversation, reason="customer_asked", trigger_message=bot, priority=30)
    alert = services.alert_raise(kind="escalation_rate", message="Escalation rate today is 0.9")
    client = Client()
    client.force_login(curator)

    page = client.get(reverse("insights:dashboard")).content.decode()
    assert "Customer asked for a person" in page
    assert ">customer_asked<" not in page and ">escalated<" not in page
    assert reverse("insights:alert-resolve", args=[alert.pk]) in page

    response = client.post(reverse("insights:alert-resolve", args=[alert.pk]))
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.status == Alert.Status.RESOLVED and alert.resolved_by == curator
    assert alert.resolved_at <= timezone.now()
