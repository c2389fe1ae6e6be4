"""The dashboard page, its CSV exports, /metrics, and alert rules."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from insights import services
from insights.models import Alert, AlertRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def traffic(demo_kb, settings):
    """Two answered questions and two escalated ones. What the dashboard counts is under test here,
    not the reader, so each question's fate is fixed with the answerability threshold."""
    api = APIClient()
    for text, answered in [
        ("How many days do I have to return an e-bike?", True),
        ("Do you sell tandem bikes?", False),
        ("do you sell tandem bicycles", False),
        ("What does delivery to Germany cost?", True),
    ]:
        settings.READER_MIN_ANSWERABLE = 0.0 if answered else 1.01
        created = api.post("/api/v1/conversations/").json()
        api.post(
            f"/api/v1/conversations/{created['id']}/messages/",
            {"text": text},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {created['token']}",
        )


def test_dashboard_shows_real_figures_and_knowledge_gaps(client, curator, traffic):
    client.force_login(curator)
    page = client.get(reverse("insights:dashboard")).content.decode()
    assert "Containment" in page and "Human intervention" in page and "<svg" in page
    assert "Knowledge gaps" in page and "tandem" in page and "Draft an approved answer" in page
    assert "No grounded answer" in page  # why people were needed, in words


def test_dashboard_is_for_curators_and_admins(client, agent):
    assert client.get(reverse("insights:dashboard")).status_code == 302
    client.force_login(agent)
    assert client.get(reverse("insights:dashboard")).status_code == 403


def test_every_table_exports_as_csv(client, curator, traffic):
    client.force_login(curator)
    for table in ("daily", "reasons", "kinds", "ratings", "latency", "documents", "gaps", "comments"):
        response = client.get(reverse("insights:export", args=[table]))
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv"), table
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert rows and rows[0], table
    reasons = list(csv.reader(io.StringIO(client.get(reverse("insights:export", args=["reasons"])).content.decode())))
    assert ["no_answer", "2"] in reasons
    assert client.get(reverse("insights:export", args=["nope"])).status_code == 404


def test_bad_dates_fall_back_to_the_default_period(client, curator):
    client.force_login(curator)
    assert client.get(reverse("insights:dashboard"), {"start": "yesterday", "end": "2026-13-45"}).status_code == 200


def test_metrics_endpoint_is_token_protected_and_parses(client, settings, traffic):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    turns = {s.labels["kind"]: s.value for s in families["groundwork_turns"].samples if s.name.endswith("_total")}
    assert turns == {"grounded": 2.0, "escalated": 2.0}
    escalations = families["groundwork_escalations"].samples
    assert any(s.labels.get("reason") == "no_answer" and s.value == 2.0 for s in escalations)
    assert families["groundwork_turn_seconds"].type == "histogram"
    stages = {s.labels.get("stage") for s in families["groundwork_stage_seconds"].samples}
    assert {"embed", "retrieval"} <= stages
    assert "groundwork_llm_breaker_open" in families and "groundwork_tokens" in families


def test_alert_rules_fire_once_on_threshold(traffic, settings):
    settings.ALERT_MIN_SAMPLE = 4  # the four conversations of `traffic`
    AlertRule.objects.filter(metric="escalation_rate").update(threshold=0.25, min_events=1)
    raised = services.alert_rules_check()
    assert [a.kind for a in raised] == ["escalation_rate"]
    assert services.alert_rules_check() == []
    assert Alert.objects.filter(kind="escalation_rate", status="open").count() == 1


def test_dashboard_filters_by_topic(client, curator, traffic):
    from knowledge.models import Document

    client.force_login(curator)
    returns = Document.objects.get(source_key="returns-and-refunds.md")
    page = client.get(reverse("insights:dashboard"), {"document": returns.pk}).content.decode()
    assert "citing one topic" in page
    # only the conversation whose answer cited the returns article is counted
    assert '<div class="value">1</div>' in page
