"""Query counts of one chat turn through the HTTP API, pinned so an N+1 or a
repeated read cannot creep back in unnoticed.

What a grounded turn reads and writes (in a test the turn's transaction is a savepoint):
the conversation (1); the per-IP and per-conversation rate-limit counters, both in one
statement (1); today's token usage (1); the guard's nearest injection patterns (1); approved
answers (1); the flows' trigger examples (1: with no flow under way, which flow the message asks
for; a flow under way is on the conversation row already); the knowledge generation, the question's
lexemes and the hybrid search, which brings the passages' sentence data along (3); the record:
customer message, reply, citations, conversation counters (returning the row, so it is not read
again), today's tokens, security event, in one transaction (6 + 2). The response's citations
are the passages the turn cited: nothing is read back.
"""

from __future__ import annotations

import math

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from knowledge import services as knowledge_services

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("answer_freely")]

GROUNDED_TURN_QUERIES = 17
APPROVED_TURN_QUERIES = 12


def start(api: APIClient) -> tuple[str, str]:
    response = api.post("/api/v1/conversations/")
    assert response.status_code == 201
    return response.json()["id"], response.json()["token"]


def say(api: APIClient, cid: str, token: str, text: str):
    return api.post(
        f"/api/v1/conversations/{cid}/messages/", {"text": text}, format="json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


@pytest.fixture
def api(demo_kb, monkeypatch) -> APIClient:
    """A client on a warm process: the first turn of a process fills its caches (full-text statistics,
    the answerability vocabulary, escalation rules) and today's token-usage row; later turns do not."""
    # The counter table's sweep (one DELETE at most every 10 s) must not land inside a pinned turn.
    monkeypatch.setattr(caches["default"], "_next_counter_sweep", math.inf)
    client = APIClient()
    cid, token = start(client)
    assert say(client, cid, token, "What does delivery to Germany cost?").json()["reply"]["kind"] == "grounded"
    return client


def test_a_grounded_turn_makes_a_pinned_number_of_queries(api, django_assert_max_num_queries):
    cid, token = start(api)
    with django_assert_max_num_queries(GROUNDED_TURN_QUERIES):
        first = say(api, cid, token, "How many days do I have to return an e-bike?")
    with django_assert_max_num_queries(GROUNDED_TURN_QUERIES):
        later = say(api, cid, token, "What does a replacement battery cost for the Urban E?")
    for response in (first, later):
        reply = response.json()["reply"]
        assert reply["kind"] == "grounded" and reply["citations"], reply


def test_an_approved_answer_turn_makes_a_pinned_number_of_queries(api, django_assert_max_num_queries):
    version = knowledge_services.approved_version_create(
        title="Child seats", text="Yes, we fit child seats for €25.", variants=("Can you fit a child seat on my bike?",)
    )
    knowledge_services.approved_version_approve(version=version)
    cid, token = start(api)
    with django_assert_max_num_queries(APPROVED_TURN_QUERIES):
        response = say(api, cid, token, "could you install a child seat on my bike?")
    reply = response.json()["reply"]
    assert (
        reply["kind"] == "approved" and reply["text"] == "Yes, we fit child seats for €25." and reply["citations"] == []
    )
