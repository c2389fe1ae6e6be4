"""Outcome metrics per flow (dashboard and /metrics), a completed objective as a resolution, and
personal data masked where staff read logs and the dashboard."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from flows import services as flow_services
from flows.slots import mask, mask_slots
from insights import metrics
from support.models import Conversation, FlowRun, Message
from support.pipeline.policy import conversation_open

pytestmark = pytest.mark.django_db

FLOW = {
    "name": "order-status",
    "objective": "o",
    "triggers": ["where is my order"],
    "steps": [{"collect": "email", "type": "email", "prompt": "E-mail?"}, {"say": "ok"}],
}


@pytest.fixture
def version():
    return flow_services.flow_version_approve(version=flow_services.flow_version_create(definition=FLOW))


def make_run(version, status, *, turns=2, seconds=30, idle=False, started_ago=60):
    now = timezone.now()
    conversation = conversation_open(channel="web").conversation
    if idle:
        Conversation.objects.filter(pk=conversation.pk).update(last_activity_at=now - timedelta(hours=1))
    started = now - timedelta(seconds=started_ago)
    Message.objects.create(conversation=conversation, role="customer", text="where is my order")
    Message.objects.filter(conversation=conversation).update(created_at=started)
    return FlowRun.objects.create(
        conversation=conversation,
        version=version,
        flow_name="order-status",
        status=status,
        turns=turns,
        started_at=started,
        ended_at=None if status == "active" else started + timedelta(seconds=seconds),
    )


def test_outcomes_per_flow_with_medians(version):
    make_run(version, "completed", turns=2, seconds=20)
    make_run(version, "completed", turns=4, seconds=40)
    make_run(version, "completed", turns=3, seconds=60)
    make_run(version, "handed_off")
    make_run(version, "abandoned")
    make_run(version, "active", idle=True)  # the customer went quiet: abandoned
    make_run(version, "active")  # still going
    (f,) = metrics.flow_outcomes()
    assert (f.flow, f.started, f.completed, f.handed_off, f.abandoned, f.active) == ("order-status", 7, 3, 1, 2, 1)
    assert f.turns_p50 == 3 and f.seconds_p50 == pytest.approx(40)


def test_a_completed_flow_counts_as_a_resolution_by_the_bot(version):
    run = make_run(version, "completed", seconds=25)
    now = timezone.now()
    data = metrics.compute(start=now - timedelta(days=1), end=now + timedelta(seconds=1), now=now)
    assert data["resolved_bot"] == 1
    FlowRun.objects.filter(pk=run.pk).update(status="handed_off")
    data = metrics.compute(start=now - timedelta(days=1), end=now + timedelta(seconds=1), now=now)
    assert data["resolved_bot"] == 0


def test_dashboard_and_prometheus_show_flow_outcomes(version, client, curator, settings):
    make_run(version, "completed")
    make_run(version, "handed_off")
    client.force_login(curator)
    page = client.get("/insights/").content.decode()
    assert "Flow “order-status”: 2 started" in page and "completed 1 · handed off 1" in page
    settings.METRICS_TOKEN = "s3cret"
    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").content.decode()
    assert 'groundwork_flow_runs_total{flow="order-status",outcome="completed"} 1.0' in body
    assert 'groundwork_flow_runs_total{flow="order-status",outcome="started"} 2.0' in body
    assert 'groundwork_flow_turns_to_completion{flow="order-status"} 2.0' in body


def test_mask_hides_emails_and_phone_numbers():
    assert mask("mail jo.smith@example.com or call +31 6 1234 5678") == "mail j***@example.com or call ***78"
    assert mask("order BW-10423001 on 2026-12-01") == "order BW-10423001 on 2026-12-01"
    assert mask_slots({"email": "jo@example.com", "n": 3}) == {"email": "j***@example.com", "n": 3}


def test_flow_logs_carry_masked_slots_only(version, caplog):
    from support.pipeline import run

    conversation = conversation_open(channel="web").conversation
    with caplog.at_level(logging.INFO, logger="support.pipeline.flow"):
        run.turn(conversation=conversation, text="where is my order")
        run.turn(conversation=Conversation.objects.get(pk=conversation.pk), text="it's jo@example.com")
    logged = json.dumps([r.__dict__.get("slots") for r in caplog.records], default=str)
    assert "j***@example.com" in logged and "jo@example.com" not in logged


def test_dashboard_knowledge_gaps_mask_emails(client, curator):
    from core.embeddings import embed_query

    conversation = conversation_open(channel="web").conversation
    Message.objects.create(
        conversation=conversation,
        role="customer",
        text="my invoice for jo@example.com is wrong",
        embedding=embed_query("my invoice is wrong"),
    )
    client.force_login(curator)
    page = client.get("/insights/").content.decode()
    assert "j***@example.com" in page and "jo@example.com" not in page
