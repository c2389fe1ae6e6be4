"""Approved answers: matched by meaning, replied verbatim, versioned, expiring."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from knowledge import services
from knowledge.models import ApprovedAnswerVersion
from support.pipeline import run

pytestmark = pytest.mark.django_db

TEXT = "Yes. Our workshops in Amsterdam, Berlin, Manchester and Ghent fit child seats for €25, in about 30 minutes."


def approve(text=TEXT, variants=("Can you fit a child seat on my bike?",), **kwargs):
    version = services.approved_version_create(title="Child seats", text=text, variants=variants, **kwargs)
    return services.approved_version_approve(version=version)


def test_a_paraphrase_gets_the_approved_text_verbatim(demo_kb):
    version = approve()
    _, reply = run.answer(text="could you install a child seat on my bike?")
    assert reply.kind == "approved" and reply.text == TEXT and reply.approved_version_id == version.pk


def test_drafts_do_not_match(demo_kb):
    services.approved_version_create(title="Child seats", text=TEXT, variants=["Can you fit a child seat on my bike?"])
    _, reply = run.answer(text="Can you fit a child seat on my bike?")
    assert reply.kind != "approved"


def test_a_different_question_does_not_match(demo_kb):
    approve()
    _, reply = run.answer(text="How many days do I have to return an e-bike?")
    assert reply.kind != "approved" and reply.approved_version_id is None


def test_a_new_version_replaces_the_old_without_rewriting_it(demo_kb):
    first = approve()
    second = services.approved_version_create(
        answer=first.answer, text="Child seats are fitted for €30.", variants=["Can you fit a child seat on my bike?"]
    )
    services.approved_version_approve(version=second)
    first.refresh_from_db()
    assert first.status == "retired" and first.text == TEXT
    _, reply = run.answer(text="Can you fit a child seat on my bike?")
    assert reply.text == "Child seats are fitted for €30." and reply.approved_version_id == second.pk


def test_expired_answers_stop_matching(demo_kb):
    approve(valid_until=timezone.now() + timedelta(days=1))
    assert run.answer(text="Can you fit a child seat on my bike?")[1].kind == "approved"
    ApprovedAnswerVersion.objects.update(valid_until=timezone.now() - timedelta(seconds=1))
    assert run.answer(text="Can you fit a child seat on my bike?")[1].kind != "approved"


def test_bad_approved_answers_are_refused():
    from core.errors import ApplicationError

    with pytest.raises(ApplicationError, match="needs its text"):
        services.approved_version_create(title="x", text="  ", variants=["q?"])
    with pytest.raises(ApplicationError, match="at least one question"):
        services.approved_version_create(title="x", text="Answer.", variants=["  ", ""])
