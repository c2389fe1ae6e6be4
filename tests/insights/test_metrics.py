"""Dashboard figures against values worked out by hand on a small fixture."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from escalation.models import Escalation
from insights import metrics, selectors, services
from insights.models import DailyRollup
from support.models import Conversation, Message

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 10, 9, 0, tzinfo=ZoneInfo("UTC"))
NOW = T0 + timedelta(days=2)


def conversation(channel="web", rating=None, status="closed", minutes=0) -> Conversation:
    c = Conversation.objects.create(token_hash="x", channel=channel, rating=rating, status=status)
    Conversation.objects.filter(pk=c.pk).update(
        created_at=T0 + timedelta(minutes=minutes), last_activity_at=T0 + timedelta(minutes=minutes)
    )
    c.refresh_from_db()
    return c


def msg(c, role, seconds, kind="", thumbs=None, tokens=0, latency=0, stages=None, reason=""):
    m = Message.objects.create(
        conversation=c,
        role=role,
        text="t",
        kind=kind,
        thumbs=thumbs,
        tokens_in=tokens,
        latency_ms=latency,
        stage_ms=stages or {},
        reason=reason,
    )
    Message.objects.filter(pk=m.pk).update(created_at=c.created_at + timedelta(seconds=seconds))
    Conversation.objects.filter(pk=c.pk).update(last_activity_at=c.created_at + timedelta(seconds=seconds))
    return m


@pytest.fixture
def history():
    # A: answered, customer left (bot-resolved after 20 s), 100 tokens, thumbs up
    a = conversation()
    msg(a, "customer", 0)
    msg(a, "bot", 20, "grounded", thumbs=1, tokens=100, latency=30, stages={"embed": 10, "retrieval": 5})
    # B: answered, rated 5 (bot-resolved after 40 s), 300 tokens
    b = conversation(rating=5, minutes=10)
    msg(b, "customer", 0)
    msg(b, "bot", 10, "grounded", tokens=150, latency=50, stages={"embed": 20, "retrieval": 15})
    msg(b, "customer", 30)
    msg(b, "bot", 40, "approved", tokens=150, latency=10, stages={"embed": 2, "approved": 1})
    # C: escalated (no answer), resolved by an agent 600 s after the first message, 50 tokens
    c = conversation(channel="api", minutes=20)
    msg(c, "customer", 0)
    msg(
        c,
        "bot",
        5,
        "escalated",
        thumbs=-1,
        tokens=50,
        latency=40,
        stages={"embed": 12, "retrieval": 8},
        reason="no_answer",
    )
    e = Escalation.objects.create(conversation=c, reason="no_answer", status="resolved", outcome="answered")
    Escalation.objects.filter(pk=e.pk).update(resolved_at=c.created_at + timedelta(seconds=600))
    # D: asked for a person, still open: escalated, unresolved
    d = conversation(status="human", minutes=30)
    msg(d, "customer", 0)
    msg(d, "bot", 2, "escalated", latency=20, stages={"embed": 8, "triggers": 1}, reason="customer_asked")
    Escalation.objects.create(conversation=d, reason="customer_asked", priority=30)
    # E: a clarifying question, then silence: not resolved (the last reply answered nothing)
    f = conversation(minutes=40, rating=2)
    msg(f, "customer", 0)
    msg(f, "bot", 3, "clarify", latency=15, stages={"embed": 9})
    return a, b, c, d, f


def test_figures_match_hand_computed_values(history):
    data = metrics.compute(start=T0, end=T0 + timedelta(days=1), now=NOW)
    s = metrics.summary(data)
    assert s["conversations"] == 5
    assert s["intervention_rate"] == pytest.approx(2 / 5)  # C and D
    assert s["containment"] == pytest.approx(2 / 5)  # A and B
    assert data["escalations_by_reason"] == {"no_answer": 1, "customer_asked": 1}
    assert s["resolution_bot_p50_s"] == pytest.approx(30)  # median of 20 and 40
    assert s["resolution_bot_p90_s"] == pytest.approx(38)  # 20 + 0.9 * (40 - 20)
    assert s["resolution_human_p50_s"] == pytest.approx(600)
    assert s["thumbs_up_share"] == pytest.approx(1 / 2)
    assert s["thumbs_up_share_by_kind"] == {"escalated": 0.0, "grounded": 1.0}
    assert s["ratings"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}
    assert s["tokens_per_conversation"] == pytest.approx(450 / 5)
    assert s["tokens_per_resolved"] == pytest.approx((100 + 300 + 50) / 3)  # A, B and C are resolved
    assert s["tokens_per_reply"] == pytest.approx(450 / 6)
    assert s["turn_p50_ms"] == pytest.approx(25)  # 10, 15, 20, 30, 40, 50 → (20 + 30) / 2
    assert s["stage_p50_p95_ms"]["embed"][0] == pytest.approx(9.5)  # 2, 8, 9, 10, 12, 20 → (9 + 10) / 2
    assert data["replies_by_kind"] == {"grounded": 2, "approved": 1, "escalated": 2, "clarify": 1}


def test_channel_filter(history):
    data = metrics.compute(start=T0, end=T0 + timedelta(days=1), channel="api", now=NOW)
    assert data["conversations"] == 1 and data["escalated"] == 1


def test_rollups_give_the_same_figures_as_live_computation(history):
    day = T0.date()
    with timezone.override(ZoneInfo("UTC")):
        services.rollup_day(day, now=NOW)
        rollup = DailyRollup.objects.get(date=day, channel="all").data
        live = metrics.compute(start=T0.replace(hour=0), end=T0.replace(hour=0) + timedelta(days=1), now=NOW)
    assert metrics.summary(rollup) == metrics.summary(live)
    assert DailyRollup.objects.filter(date=day).count() == 3  # all, api, web
    services.rollup_day(day, now=NOW)  # idempotent
    assert DailyRollup.objects.filter(date=day).count() == 3


def test_histograms_take_over_when_samples_are_many():
    values = [float(v) for v in range(1, 5001)]
    sample = metrics.sample(values, metrics.MS_BUCKETS)
    assert "hist" in sample and sample["n"] == 5000
    p50 = metrics.percentile(sample, 0.5, metrics.MS_BUCKETS)
    assert 2000 <= p50 <= 5000  # within the bucket that holds the true median (2500)
    merged = metrics.merge_samples([sample, {"values": [1.0, 2.0]}], metrics.MS_BUCKETS)
    assert merged["n"] == 5002


def test_period_merges_rollups_and_previous_period(history, settings):
    with timezone.override(ZoneInfo("UTC")):
        services.rollup_day(T0.date(), now=NOW)
        period = selectors.Period(T0.date(), T0.date())
        data, days = selectors.period_data(period, now=NOW)
        assert data["conversations"] == 5 and len(days) == 1
        before, _ = selectors.period_data(period.previous(), now=NOW)
        assert before["conversations"] == 0
