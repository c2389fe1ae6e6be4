"""Every status change of a correction, an escalation, an approved-answer version and a
document (version) is a conditional transition: from the wrong state it is refused and
nothing changes."""

from __future__ import annotations

import pytest
from django.utils import timezone

from core.errors import ApplicationError, ErrorCode
from core.transitions import transition
from escalation import services as escalation_services
from escalation.models import Correction, Escalation
from knowledge import services as knowledge_services
from knowledge.models import ApprovedAnswer, ApprovedAnswerVersion, Document, DocumentVersion
from support.models import Conversation, Message


def _refused(obj, target, **fields):
    before = type(obj).objects.filter(pk=obj.pk).values().get()
    with pytest.raises(ApplicationError) as caught:
        transition(obj, target, **fields)
    assert caught.value.code == ErrorCode.CONFLICT
    assert type(obj).objects.filter(pk=obj.pk).values().get() == before  # nothing half-applied


@pytest.fixture
def bot_message(db) -> Message:
    conversation = Conversation.objects.create(token_hash="x" * 64)
    question = Message.objects.create(conversation=conversation, role=Message.Role.CUSTOMER, text="Can I return it?")
    return Message.objects.create(
        conversation=conversation, role=Message.Role.BOT, text="No.", kind="grounded", reply_to=question
    )


@pytest.fixture
def correction(bot_message, agent) -> Correction:
    return escalation_services.correction_create(
        message=bot_message, agent=agent, problem="wrong", corrected_text="Yes, within 30 days."
    )


# --- corrections ----------------------------------------------------------------------------------


def test_an_accepted_correction_cannot_be_rejected(correction, curator):
    # given a correction that became a draft approved answer
    version = escalation_services.correction_accept(correction=correction, curator=curator)
    # when a curator tries to reject it afterwards / then it is refused and stays accepted
    with pytest.raises(ApplicationError, match="accepted"):
        escalation_services.correction_reject(correction=correction, curator=curator)
    correction.refresh_from_db()
    assert correction.status == Correction.Status.ACCEPTED and correction.approved_version == version


def test_a_rejected_correction_cannot_be_accepted_or_rejected_again(correction, curator):
    escalation_services.correction_reject(correction=correction, curator=curator)
    _refused(correction, Correction.Status.ACCEPTED)
    _refused(correction, Correction.Status.REJECTED)
    with pytest.raises(ApplicationError):
        escalation_services.correction_accept(correction=correction, curator=curator)
    assert not ApprovedAnswerVersion.objects.exists()


# --- escalations ----------------------------------------------------------------------------------


@pytest.fixture
def escalation(bot_message) -> Escalation:
    return Escalation.objects.create(conversation=bot_message.conversation, reason="no_answer", priority=50)


def test_an_open_escalation_cannot_be_resolved_or_released(escalation):
    _refused(escalation, Escalation.Status.RESOLVED, outcome="answered")
    _refused(escalation, Escalation.Status.OPEN)


def test_a_resolved_escalation_is_final(escalation, agent):
    escalation_services.escalation_claim(escalation_id=escalation.pk, agent=agent)
    escalation.refresh_from_db()
    escalation_services.escalation_resolve(escalation=escalation, agent=agent, outcome="answered")
    for target in (Escalation.Status.OPEN, Escalation.Status.CLAIMED, Escalation.Status.RESOLVED):
        _refused(escalation, target)
    with pytest.raises(ApplicationError, match="resolved"):
        escalation_services.escalation_claim(escalation_id=escalation.pk, agent=agent)


# --- approved-answer versions ---------------------------------------------------------------------


@pytest.fixture
def answer_versions(db) -> tuple[ApprovedAnswerVersion, ApprovedAnswerVersion]:
    answer = ApprovedAnswer.objects.create(title="Returns")
    old = ApprovedAnswerVersion.objects.create(
        answer=answer, number=1, text="14 days", status="approved", approved_at=timezone.now()
    )
    new = ApprovedAnswerVersion.objects.create(answer=answer, number=2, text="30 days")
    return old, new


def test_an_approved_version_cannot_go_back_to_draft_and_a_retired_one_not_retired_again(answer_versions):
    old, new = answer_versions
    _refused(old, ApprovedAnswerVersion.Status.DRAFT)
    knowledge_services.approved_version_approve(version=new)  # retires the old one in the same transaction
    old.refresh_from_db()
    assert old.status == ApprovedAnswerVersion.Status.RETIRED
    _refused(old, ApprovedAnswerVersion.Status.RETIRED)
    # the service treats a second retire as done, without writing anything
    assert knowledge_services.approved_version_retire(version=old).status == ApprovedAnswerVersion.Status.RETIRED


def test_a_retired_version_may_be_approved_again(answer_versions):
    old, new = answer_versions
    knowledge_services.approved_version_approve(version=new)
    knowledge_services.approved_version_approve(version=ApprovedAnswerVersion.objects.get(pk=old.pk))  # rollback
    assert ApprovedAnswerVersion.objects.get(pk=new.pk).status == ApprovedAnswerVersion.Status.RETIRED


# --- documents and their versions -----------------------------------------------------------------


@pytest.fixture
def document(db) -> Document:
    document = Document.objects.create(title="Returns", source_key="returns.md")
    now = timezone.now()
    DocumentVersion.objects.create(
        document=document, number=1, content_hash="a", title="Returns", source_format="md", text="old"
    )
    DocumentVersion.objects.create(
        document=document, number=2, content_hash="b", title="Returns", source_format="md", text="new", verified_at=now
    )
    return document


def test_a_version_that_is_not_current_cannot_be_superseded(document):
    version = document.versions.get(number=1)
    _refused(version, False)


def test_a_current_version_cannot_be_made_current_twice(document):
    version = document.versions.get(number=2)
    transition(version, True)
    _refused(version, True)


def test_a_draft_document_cannot_be_restored_and_a_retired_one_not_verified_by_a_new_version(document):
    _refused(document, Document.Status.DRAFT)
    knowledge_services.document_retire(document=document)
    document.refresh_from_db()
    knowledge_services.version_verify(version=document.versions.get(number=2))
    document.refresh_from_db()
    assert document.status == Document.Status.RETIRED  # verifying a version never revives a retired document
