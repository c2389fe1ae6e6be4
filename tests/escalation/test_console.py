"""Humans in the loop: the queue, claiming, replying, resolving, corrections,
curation, audit, and every role boundary."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from core.errors import ApplicationError
from core.models import AuditEvent
from escalation import services
from escalation.models import Correction, Escalation
from knowledge.models import ApprovedAnswerVersion
from support.models import Conversation, Message

pytestmark = pytest.mark.django_db
UNCOVERED = "Do you sell tandem bikes?"


def escalate(question=UNCOVERED) -> tuple[Escalation, APIClient, str, str]:
    api = APIClient()
    created = api.post("/api/v1/conversations/").json()
    api.post(
        f"/api/v1/conversations/{created['id']}/messages/",
        {"text": question},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {created['token']}",
    )
    return Escalation.objects.get(conversation_id=created["id"]), api, created["id"], created["token"]


def make_user(name, *groups, superuser=False) -> User:
    user = User.objects.create_user(name, password="pw", is_staff=True, is_superuser=superuser)
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the loop ----------------------------------------------------------------------------------------------


def test_claim_reply_resolve_and_the_customer_sees_the_reply(demo_kb, agent):
    escalation, api, cid, token = escalate()
    client = login(agent)
    page = client.get(reverse("console:queue"))
    assert page.status_code == 200 and b"tandem" in page.content
    client.post(reverse("console:claim", args=[escalation.pk]))
    client.post(reverse("console:reply", args=[escalation.pk]), {"text": "We don't sell tandems, sorry!"})
    transcript = api.get(f"/api/v1/conversations/{cid}/", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert transcript["messages"][-1] == {
        **transcript["messages"][-1],
        "role": "agent",
        "text": "We don't sell tandems, sorry!",
    }
    escalation.refresh_from_db()
    assert escalation.claimed_at and escalation.first_reply_at
    client.post(reverse("console:resolve", args=[escalation.pk]), {"outcome": "answered"})
    escalation.refresh_from_db()
    assert escalation.status == "resolved" and escalation.outcome == "answered" and escalation.resolved_at
    # a resolved conversation does not loop back into escalation: the next message starts a new one
    reply = api.post(
        f"/api/v1/conversations/{cid}/messages/",
        {"text": "thanks!"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    ).json()
    assert reply["conversation"]["id"] != cid
    assert Escalation.objects.filter(conversation_id=cid).count() == 1
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions[-3:] == ["escalation.claim", "escalation.reply", "escalation.resolve"]


def test_queue_orders_critical_first_then_longest_waiting(demo_kb, agent):
    slow, *_ = escalate()
    Escalation.objects.filter(pk=slow.pk).update(opened_at=slow.opened_at - timedelta(hours=1))
    urgent, *_ = escalate("My brakes failed and I broke my wrist")
    later, *_ = escalate("Do you rent e-bikes for a weekend?")
    from escalation.selectors import queue

    assert [e.pk for e in queue()] == [urgent.pk, slow.pk, later.pk]
    assert [e.pk for e in queue(reason="critical_topic")] == [urgent.pk]


def test_queue_query_count_is_pinned(demo_kb, agent, django_assert_num_queries):
    for _ in range(6):
        escalate()
    client = login(agent)
    client.get(reverse("console:queue"))  # warm the session
    with django_assert_num_queries(6):  # session, user, groups (role check), open alerts, the count, the page
        response = client.get(reverse("console:queue"))
    assert response.status_code == 200


def test_only_the_claimer_can_reply_release_or_resolve(demo_kb, agent):
    escalation, *_ = escalate()
    other = make_user("other", "agents")
    services.escalation_claim(escalation_id=escalation.pk, agent=agent)
    with pytest.raises(ApplicationError, match="Already claimed by agent"):
        services.escalation_claim(escalation_id=escalation.pk, agent=other)
    with pytest.raises(ApplicationError, match="Claim this escalation first"):
        services.escalation_reply(escalation=escalation, agent=other, text="hi")
    services.escalation_transfer(escalation=escalation, agent=agent, to_user_id=other.pk)
    services.escalation_reply(escalation=escalation, agent=other, text="hi")
    with pytest.raises(ApplicationError):
        services.escalation_resolve(escalation=escalation, agent=agent, outcome="answered")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_agents_claiming_at_once_one_wins(_memoized_chunk_embeddings):
    conversation = Conversation.objects.create(token_hash="x", status="human")
    escalation = Escalation.objects.create(conversation=conversation, reason="customer_asked")
    agents = [make_user(f"a{i}", "agents") for i in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def claim(user):
        try:
            barrier.wait()
            with transaction.atomic():
                services.escalation_claim(escalation_id=escalation.pk, agent=user)
            outcomes.append("won")
        except ApplicationError:
            outcomes.append("lost")
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost", "won"]
    escalation.refresh_from_db()
    assert escalation.status == "claimed" and escalation.claimed_by in agents


def test_internal_notes_stay_internal(demo_kb, agent):
    escalation, api, cid, token = escalate()
    services.escalation_note(escalation=escalation, agent=agent, text="Customer is a VIP")
    transcript = api.get(f"/api/v1/conversations/{cid}/", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert "VIP" not in str(transcript)
    assert b"Customer is a VIP" in login(agent).get(reverse("console:detail", args=[escalation.pk])).content


@pytest.mark.usefixtures("answer_freely")
def test_detail_shows_transcript_citations_and_retrieval_evidence(demo_kb, agent):
    api = APIClient()
    created = api.post("/api/v1/conversations/").json()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {created['token']}"}
    api.post(
        f"/api/v1/conversations/{created['id']}/messages/",
        {"text": "How many days do I have to return an e-bike?"},
        format="json",
        **auth,
    )
    api.post(f"/api/v1/conversations/{created['id']}/handoff/", **auth)
    escalation = Escalation.objects.get(conversation_id=created["id"])
    page = login(agent).get(reverse("console:detail", args=[escalation.pk])).content.decode()
    assert "14 days" in page and 'class="cite"' in page
    assert "What retrieval found" in page and "Return windows" in page


# --- support hours -------------------------------------------------------------------------------------------


def test_outside_support_hours_the_chat_asks_for_an_email(demo_kb, settings):
    from support import hours

    settings.SUPPORT_HOURS = "mon-fri 08:00-18:00"
    settings.SUPPORT_TIMEZONE = "Europe/Amsterdam"
    saturday_night = datetime(2026, 11, 28, 23, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    text = hours.handover_message(saturday_night)
    assert "offline right now" in text and "Monday at 08:00" in text and "email" in text
    assert "usually within" in hours.handover_message(
        datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    )
    client = Client()
    client.post(reverse("support:chat-handoff"))
    conversation = Conversation.objects.get()
    bad = client.post(reverse("support:chat-contact"), {"email": "not-an-email"})
    assert b"does not look like an email" in bad.content
    client.post(reverse("support:chat-contact"), {"email": "kim@example.com"})
    assert Escalation.objects.get(conversation=conversation).conversation.contact_email == "kim@example.com"


# --- corrections → approved answers → regressions -------------------------------------------------------------


def test_correction_becomes_an_approved_answer_and_joins_the_regression_set(demo_kb, agent, curator, capsys):
    _, _, cid, _ = escalate()
    bot = Message.objects.get(conversation_id=cid, role="bot")
    agent_client, curator_client = login(agent), login(curator)
    response = agent_client.post(
        reverse("console:correct", args=[bot.pk]),
        {"problem": "no_answer", "corrected_text": "We don't sell tandem bikes."},
    )
    assert response.status_code == 302
    correction = Correction.objects.get()
    assert correction.question == UNCOVERED and correction.created_by == agent
    # agents cannot accept or approve
    assert agent_client.post(reverse("console:correction-accept", args=[correction.pk])).status_code == 403
    curator_client.post(reverse("console:correction-accept", args=[correction.pk]))
    correction.refresh_from_db()
    version = correction.approved_version
    assert correction.status == "accepted" and version.status == "draft"
    assert list(version.variants.values_list("text", flat=True)) == [UNCOVERED]
    assert agent_client.post(reverse("knowledge:answer-approve", args=[version.pk])).status_code == 403
    curator_client.post(reverse("knowledge:answer-approve", args=[version.pk]))
    version.refresh_from_db()
    assert version.status == "approved" and version.approved_by == curator
    # a new customer asking the same question gets it verbatim, recorded as approved with that version
    fresh = APIClient()
    created = fresh.post("/api/v1/conversations/").json()
    reply = fresh.post(
        f"/api/v1/conversations/{created['id']}/messages/",
        {"text": UNCOVERED},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {created['token']}",
    ).json()["reply"]
    assert reply["kind"] == "approved" and reply["text"] == "We don't sell tandem bikes."
    assert Message.objects.get(pk=reply["id"]).approved_version_id == version.pk
    # the regression set holds it; a change that breaks it fails loudly
    call_command("evaluate", "--regressions")
    assert "1 of 1 still answered as approved" in capsys.readouterr().out
    from django.conf import settings

    settings.APPROVED_MATCH_THRESHOLD = 1.01
    with pytest.raises(CommandError, match="no longer get their approved answer"):
        call_command("evaluate", "--regressions")


@pytest.mark.usefixtures("answer_freely")
def test_problematic_screen_lists_thumbs_down_and_corrections_with_provenance(demo_kb, agent):
    api = APIClient()
    created = api.post("/api/v1/conversations/").json()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {created['token']}"}
    reply = api.post(
        f"/api/v1/conversations/{created['id']}/messages/",
        {"text": "How many days do I have to return an e-bike?"},
        format="json",
        **auth,
    ).json()["reply"]
    api.post(
        f"/api/v1/conversations/{created['id']}/feedback/",
        {"message_id": reply["id"], "thumbs": -1},
        format="json",
        **auth,
    )
    client = login(agent)
    page = client.get(reverse("console:problematic")).content.decode()
    assert "thumbs down" in page and "How many days do I have to return an e-bike?" in page
    assert "Returns and Refunds v1" in page and "extractive" in page
    assert "How many days" not in client.get(reverse("console:problematic"), {"problem": "wrong"}).content.decode()


def test_correction_input_is_validated(demo_kb, agent):
    _, _, cid, _ = escalate()
    bot = Message.objects.get(conversation_id=cid, role="bot")
    response = login(agent).post(
        reverse("console:correct", args=[bot.pk]), {"problem": "wrong", "corrected_text": "  "}
    )
    assert b"Write what the answer should have been" in response.content and not Correction.objects.exists()
    customer = Message.objects.get(conversation_id=cid, role="customer")
    assert login(agent).get(reverse("console:correct", args=[customer.pk])).status_code == 404


# --- approved-answer curation ------------------------------------------------------------------------------------


def test_curation_versions_rollback_try_box_stats_and_overlap_warning(demo_kb, curator):
    client = login(curator)
    client.post(
        reverse("knowledge:answer-new"),
        {
            "title": "Child seats",
            "text": "We fit child seats for €25.",
            "variants": "Can you fit a child seat?\nDo you install child seats?",
        },
    )
    v1 = ApprovedAnswerVersion.objects.get()
    client.post(reverse("knowledge:answer-approve", args=[v1.pk]))
    client.post(
        reverse("knowledge:answer-edit", args=[v1.answer_id]),
        {"text": "We fit child seats for €30.", "variants": "Can you fit a child seat?", "note": "price change"},
    )
    v2 = ApprovedAnswerVersion.objects.get(number=2)
    client.post(reverse("knowledge:answer-approve", args=[v2.pk]))
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert v1.status == "retired" and v2.status == "approved"
    page = client.get(reverse("knowledge:answer", args=[v1.answer_id])).content.decode()
    assert "Roll back to v1" in page and "price change" in page and "€25" in page and "€30" in page
    client.post(reverse("knowledge:answer-approve", args=[v1.pk]))  # roll back
    v1.refresh_from_db()
    assert v1.status == "approved"
    tried = client.get(reverse("knowledge:answer-try"), {"q": "could you fit a child seat on my bike"}).content.decode()
    assert "This question gets approved answer v1" in tried
    # a competing answer is flagged
    client.post(
        reverse("knowledge:answer-new"),
        {"title": "Seats", "text": "Child seats cost €40.", "variants": "Can you fit a child seat?"},
    )
    competing = ApprovedAnswerVersion.objects.get(answer__title="Seats")
    client.post(reverse("knowledge:answer-approve", args=[competing.pk]))
    page = client.get(reverse("knowledge:answer", args=[competing.answer_id])).content.decode()
    assert "Overlaps with approved answer" in page and "Child seats" in page


def test_curation_rejects_bad_input(curator):
    client = login(curator)
    response = client.post(reverse("knowledge:answer-new"), {"title": "x", "text": "Answer", "variants": ""})
    assert b"at least one question" in response.content
    response = client.post(
        reverse("knowledge:answer-new"),
        {
            "title": "x",
            "text": "A",
            "variants": "q",
            "valid_from": "2026-02-01T00:00",
            "valid_until": "2026-01-01T00:00",
        },
    )
    assert b"must be after" in response.content
    response = client.post(
        reverse("knowledge:answer-new"), {"title": "x", "text": "A", "variants": "q", "valid_until": "soon"}
    )
    assert b"is not a date" in response.content
    assert not ApprovedAnswerVersion.objects.exists()


# --- roles and CSRF -------------------------------------------------------------------------------------------------


def test_role_boundaries(demo_kb):
    escalation, *_ = escalate()
    agent, curator, plain = make_user("ag", "agents"), make_user("cu", "curators"), User.objects.create_user("c")
    assert Client().get(reverse("console:queue")).status_code == 302
    assert login(plain).get(reverse("console:queue")).status_code == 403
    assert login(curator).get(reverse("console:queue")).status_code == 403
    assert login(curator).get(reverse("console:detail", args=[escalation.pk])).status_code == 403
    assert login(agent).get(reverse("console:queue")).status_code == 200
    assert login(agent).get(reverse("knowledge:answers")).status_code == 403
    assert login(curator).get(reverse("knowledge:answers")).status_code == 200
    assert login(plain).get(reverse("knowledge:documents")).status_code == 403
    assert login(agent).get(reverse("console:problematic")).status_code == 200
    assert login(curator).get(reverse("console:problematic")).status_code == 200
    admin = make_user("root", superuser=True)
    assert login(admin).get(reverse("console:queue")).status_code == 200
    assert login(admin).get("/admin/core/auditevent/").status_code == 200
    assert login(agent).get("/admin/core/auditevent/").status_code in (302, 403)


def test_every_staff_form_needs_a_csrf_token(demo_kb):
    escalation, *_ = escalate()
    bot = Message.objects.filter(role="bot").first()
    admin = make_user("root", superuser=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    version = ApprovedAnswerVersion.objects.create(
        answer=__import__("knowledge.models", fromlist=["ApprovedAnswer"]).ApprovedAnswer.objects.create(title="t"),
        number=1,
        text="t",
    )
    from knowledge.models import Document

    document = Document.objects.first()
    urls = [
        reverse("console:claim", args=[escalation.pk]),
        reverse("console:release", args=[escalation.pk]),
        reverse("console:reply", args=[escalation.pk]),
        reverse("console:note", args=[escalation.pk]),
        reverse("console:resolve", args=[escalation.pk]),
        reverse("console:transfer", args=[escalation.pk]),
        reverse("console:correct", args=[bot.pk]),
        reverse("console:correction-accept", args=[1]),
        reverse("console:correction-reject", args=[1]),
        reverse("knowledge:answer-new"),
        reverse("knowledge:answer-edit", args=[version.answer_id]),
        reverse("knowledge:answer-approve", args=[version.pk]),
        reverse("knowledge:answer-retire", args=[version.pk]),
        reverse("knowledge:upload"),
        reverse("knowledge:verify", args=[document.pk, 1]),
        reverse("knowledge:retire", args=[document.pk]),
        reverse("knowledge:restore", args=[document.pk]),
        reverse("knowledge:source_key", args=[document.pk]),
        reverse("support:chat-send"),
        reverse("support:chat-handoff"),
        reverse("support:chat-rate"),
        reverse("support:chat-new"),
        reverse("support:chat-contact"),
        reverse("support:chat-thumbs", args=[bot.pk]),
    ]
    for url in urls:
        assert client.post(url, {"text": "x"}).status_code == 403, url
    escalation.refresh_from_db()
    assert escalation.status == "open"


def test_audit_log_is_append_only(demo_kb, agent):
    escalation, *_ = escalate()
    services.escalation_claim(escalation_id=escalation.pk, agent=agent)
    event = AuditEvent.objects.get(action="escalation.claim")
    assert event.actor == agent and event.object_id == str(escalation.pk)
    from django.db import DatabaseError

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="forged")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_document_verification_and_retirement_are_audited(demo_kb, curator):
    from knowledge.models import Document

    document = Document.objects.get(source_key="warranty.md")
    login(curator).post(reverse("knowledge:retire", args=[document.pk]))
    assert AuditEvent.objects.filter(action="document.retire", actor=curator, object_id=str(document.pk)).exists()
    assert AuditEvent.objects.filter(action="document.verify").count() >= 15
